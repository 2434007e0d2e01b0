"""Saga (orchestration): a Step Functions state machine runs the order, step by step,
and undoes what was done when a later step fails.

    ReserveStock -> ChargePayment -> ShipOrder -> OrderCompleted
                        | Catch          | Catch
                        v                v
                   ReleaseStock <- RefundPayment        (compensations, newest first)
                        |
                        v
                   OrderFailed (Fail)

* ReserveStock / ReleaseStock are DynamoDB ``updateItem`` tasks: Step Functions writes
  the ``stock`` table itself, no code needed.
* ChargePayment, ShipOrder and RefundPayment need code. moto cannot invoke Lambda, so
  they use the task-token pattern, which real AWS has too: the state machine sends a
  message carrying ``$$.Task.Token`` to a queue and waits; a worker (a handler of the
  local runtime's SQS mapping) does the work and answers with ``send_task_success`` or
  ``send_task_failure``.

Deploying the state machine, wiring the workers and driving an execution to its end are
the workbook's (``labs.workbook.lessons.lesson05``); this module is what would be deployed.
"""
from __future__ import annotations

import json

from labs.course import aws

STATE_MACHINE = "order-saga"
STOCK_TABLE = "stock"
PAYMENTS_TABLE = "payments"
SHIPMENTS_TABLE = "shipments"
PAYMENT_QUEUE = "payment-requests"
SHIPPING_QUEUE = "shipping-requests"
REFUND_QUEUE = "refund-requests"
PAYMENT_LIMIT = 50_000  # yen: above this the card is declined
SHIPPING_AREAS = ("東京", "大阪", "福岡")  # the carrier delivers only here
COMPENSATIONS = ("RefundPayment", "ReleaseStock")
WORKER_TIMEOUT_SECONDS = 300  # a task-token step fails with States.Timeout if no worker answers


# --- the state machine (Amazon States Language) --------------------------------------

def _stock_update(sign: str) -> dict:
    update = {
        "TableName": STOCK_TABLE,
        "Key": {"sku": {"S.$": "$.sku"}},
        "UpdateExpression": f"SET available = available {sign} :quantity",
        "ExpressionAttributeValues": {":quantity": {"N.$": "States.Format('{}', $.quantity)"}},
    }
    if sign == "-":  # never below zero: DynamoDB refuses, the state fails
        update["ConditionExpression"] = "available >= :quantity"
    return update


def _worker_task(queue_url: str, result_path: str | None, next_state: str) -> dict:
    """Send the order and a task token to a worker's queue; wait for its answer."""
    return {
        "Type": "Task",
        "Resource": "arn:aws:states:::sqs:sendMessage.waitForTaskToken",
        "Parameters": {"QueueUrl": queue_url,
                       "MessageBody": {"order.$": "$", "task_token.$": "$$.Task.Token"}},
        "TimeoutSeconds": WORKER_TIMEOUT_SECONDS,
        "ResultPath": result_path,
        "Next": next_state,
    }


def _caught(state: dict, next_state: str) -> dict:
    """Any error of ``state`` goes to ``next_state``, keeping the order and adding ``$.error``."""
    return {**state, "Catch": [{"ErrorEquals": ["States.ALL"], "ResultPath": "$.error", "Next": next_state}]}


def definition(queue_urls: dict[str, str]) -> dict:
    """The order saga. ``queue_urls``: PAYMENT_QUEUE / SHIPPING_QUEUE / REFUND_QUEUE -> URL."""
    return {
        "Comment": "注文の Saga: 在庫引当 -> 決済 -> 出荷。失敗したら逆順に補償する",
        "StartAt": "ReserveStock",
        "States": {
            "ReserveStock": _caught({
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Parameters": _stock_update("-"),
                "ResultPath": None,
                # Throttling is worth retrying; a failed condition (no stock) is not.
                "Retry": [{"ErrorEquals": ["DynamoDB.ProvisionedThroughputExceededException"],
                           "IntervalSeconds": 1, "MaxAttempts": 2, "BackoffRate": 2.0}],
                "Next": "ChargePayment",
            }, "OrderFailed"),  # nothing done yet: nothing to undo
            "ChargePayment": _caught(_worker_task(queue_urls[PAYMENT_QUEUE], "$.payment", "ShipOrder"), "ReleaseStock"),
            "ShipOrder": _caught(_worker_task(queue_urls[SHIPPING_QUEUE], "$.shipment", "OrderCompleted"), "RefundPayment"),
            "OrderCompleted": {"Type": "Succeed"},
            # Compensations: each undoes one step that succeeded, newest first.
            "RefundPayment": _worker_task(queue_urls[REFUND_QUEUE], "$.refund", "ReleaseStock"),
            "ReleaseStock": {
                "Type": "Task",
                "Resource": "arn:aws:states:::dynamodb:updateItem",
                "Parameters": _stock_update("+"),
                "ResultPath": None,
                "Next": "OrderFailed",
            },
            "OrderFailed": {"Type": "Fail", "Error": "OrderFailed", "Cause": "注文を完了できず、補償しました"},
        },
    }


# --- the workers (plain Lambda handlers on an SQS mapping) ------------------------------

def _tasks(event):
    """Each SQS record of a task-token message: (order, token)."""
    for record in event["Records"]:
        body = json.loads(record["body"])
        yield body["order"], body["task_token"]


def payment_worker(event, context):
    """ChargePayment: charge the card, or tell Step Functions it was declined."""
    sfn, ddb = aws.client("stepfunctions"), aws.client("dynamodb")
    for order, token in _tasks(event):
        if order["amount"] > PAYMENT_LIMIT:
            sfn.send_task_failure(taskToken=token, error="PaymentDeclined",
                                  cause=f"限度額 {PAYMENT_LIMIT} 円を超えています ({order['amount']} 円)")
            continue
        payment_id = f"pay-{order['order_id']}"
        ddb.put_item(TableName=PAYMENTS_TABLE, Item={
            "order_id": {"S": order["order_id"]}, "payment_id": {"S": payment_id},
            "amount": {"N": str(order["amount"])}, "status": {"S": "CHARGED"},
        })
        sfn.send_task_success(taskToken=token, output=json.dumps({"payment_id": payment_id}))


def shipping_worker(event, context):
    """ShipOrder: book a delivery, or fail when the address is outside the carrier's areas."""
    sfn, ddb = aws.client("stepfunctions"), aws.client("dynamodb")
    for order, token in _tasks(event):
        if order["ship_to"] not in SHIPPING_AREAS:
            sfn.send_task_failure(taskToken=token, error="ShippingUnavailable",
                                  cause=f"{order['ship_to']} は配送エリア外です")
            continue
        tracking = f"TRK-{order['order_id']}"
        ddb.put_item(TableName=SHIPMENTS_TABLE, Item={
            "order_id": {"S": order["order_id"]}, "tracking_number": {"S": tracking}, "ship_to": {"S": order["ship_to"]},
        })
        sfn.send_task_success(taskToken=token, output=json.dumps({"tracking_number": tracking}))


def refund_worker(event, context):
    """RefundPayment (a compensation): give the money back and say it is done."""
    sfn, ddb = aws.client("stepfunctions"), aws.client("dynamodb")
    for order, token in _tasks(event):
        ddb.update_item(
            TableName=PAYMENTS_TABLE, Key={"order_id": {"S": order["order_id"]}},
            UpdateExpression="SET #status = :refunded",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":refunded": {"S": "REFUNDED"}},
        )
        sfn.send_task_success(taskToken=token, output=json.dumps({"refunded": order["amount"]}))


WORKERS = {PAYMENT_QUEUE: payment_worker, SHIPPING_QUEUE: shipping_worker, REFUND_QUEUE: refund_worker}
