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

moto (>= 5.2.3, ``execute_state_machine``) interprets the definition for real, in a
background thread: ``run`` starts an execution and drives the workers until it ends.
"""
from __future__ import annotations

import json
import logging
import time
import uuid
from dataclasses import dataclass
from datetime import datetime

from labs.sandbox import provision as sandbox_provision
from labs.course import aws
from labs.course.patterns import recreate_table, table_rows

STATE_MACHINE = "order-saga"
STOCK_TABLE = "stock"
PAYMENTS_TABLE = "payments"
SHIPMENTS_TABLE = "shipments"
PAYMENT_QUEUE = "payment-requests"
SHIPPING_QUEUE = "shipping-requests"
REFUND_QUEUE = "refund-requests"
PAYMENT_LIMIT = 50_000  # yen: above this the card is declined
SHIPPING_AREAS = ("東京", "大阪", "福岡")  # the carrier delivers only here
ROLE_ARN = "arn:aws:iam::123456789012:role/order-saga"  # moto does not check it; AWS would
COMPENSATIONS = ("RefundPayment", "ReleaseStock")
WORKER_TIMEOUT_SECONDS = 300  # a task-token step fails with States.Timeout if no worker answers

# moto's interpreter logs every failure as ERROR, even those a Catch handles as designed;
# the execution history (below) tells the same story properly.
logging.getLogger("moto.stepfunctions.parser").setLevel(logging.CRITICAL)


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


# --- provisioning and wiring -------------------------------------------------------------

def setup(stock: dict[str, int]) -> str:
    """Fresh tables (``stock`` on the shelves), the worker queues and the state machine.

    Returns the state machine's ARN. Safe to run again: tables start over.
    """
    for table, key in ((STOCK_TABLE, "sku"), (PAYMENTS_TABLE, "order_id"), (SHIPMENTS_TABLE, "order_id")):
        recreate_table(table, key)
    put_stock(stock)
    return provision()


def put_stock(stock: dict[str, int]) -> None:
    for sku, units in stock.items():
        aws.client("dynamodb").put_item(TableName=STOCK_TABLE, Item={"sku": {"S": sku}, "available": {"N": str(units)}})


def provision() -> str:
    """Tables (kept if present), worker queues and the state machine (updated in place)."""
    for table, key in ((STOCK_TABLE, "sku"), (PAYMENTS_TABLE, "order_id"), (SHIPMENTS_TABLE, "order_id")):
        sandbox_provision.ensure_table(table, key)
    urls = {name: sandbox_provision.ensure_queue(name, visibility_timeout=30) for name in WORKERS}
    body = json.dumps(definition(urls), ensure_ascii=False)
    sfn = aws.client("stepfunctions")
    existing = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"] if m["name"] == STATE_MACHINE]
    if existing:
        sfn.update_state_machine(stateMachineArn=existing[0], definition=body, roleArn=ROLE_ARN)
        return existing[0]
    return sfn.create_state_machine(name=STATE_MACHINE, definition=body, roleArn=ROLE_ARN)["stateMachineArn"]


def wire(runtime, workers: dict | None = None) -> None:
    """Each worker on its queue's SQS mapping (``workers`` replaces some, e.g. an exercise's)."""
    for queue, worker in {**WORKERS, **(workers or {})}.items():
        runtime.on_queue(sandbox_provision.ensure_queue(queue, visibility_timeout=30), worker,
                         function_name=queue.replace("-requests", "_worker"), batch_size=1)


# --- running an execution and reading its history -------------------------------------------

class SagaTimeout(RuntimeError):
    """The execution did not finish in time (a worker never answered its task token)."""


class WorkerFailed(RuntimeError):
    """A worker raised instead of answering: its message would only come back after the
    visibility timeout, so ``run`` stops the execution and says so at once."""

    def __init__(self, worker: str, error: BaseException):
        self.worker, self.error = worker, error
        super().__init__(f"ワーカー {worker} が例外を送出しました: {type(error).__name__}: {error}")


@dataclass
class Execution:
    arn: str
    status: str  # SUCCEEDED | FAILED | ...
    output: dict | None
    error: str | None
    cause: str | None
    history: list[dict]

    @property
    def states(self) -> list[str]:
        """The states entered, in order."""
        return [row["ステート"] for row in self.history if row["イベント"].endswith("StateEntered")]

    @property
    def compensations(self) -> list[str]:
        return [name for name in self.states if name in COMPENSATIONS]


def run(runtime, state_machine_arn: str, order: dict, *, timeout: float = 10.0) -> Execution:
    """Start an execution for ``order`` and drive the workers until it ends.

    Step Functions runs in moto's background thread; this loop hands the messages it
    sends to the workers (``runtime.deliver_due``) and polls ``describe_execution``.
    """
    sfn = aws.client("stepfunctions")
    # moto names an unnamed execution "None" (AWS makes a UUID), so always name it.
    name = f"{order['order_id']}-{uuid.uuid4()}"
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(order))["executionArn"]
    deadline = time.monotonic() + timeout
    seen = len(runtime.invocations())
    while True:
        runtime.deliver_due()
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            break
        failed = [call for call in runtime.invocations()[seen:] if not call.ok]
        if failed:
            sfn.stop_execution(executionArn=arn, error="WorkerFailed", cause=failed[0].describe_error())
            raise WorkerFailed(failed[0].function_name, failed[0].error)
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=arn, error="SagaTimeout", cause="ワーカーが応答しませんでした")
            waiting = [row["ステート"] for row in history(arn) if row["イベント"] == "TaskStateEntered"][-1:]
            raise SagaTimeout(
                f"実行 {name} が {timeout} 秒以内に終わりませんでした (待っていたステート: {', '.join(waiting) or '?'})。"
                "ワーカーが send_task_success / send_task_failure を呼んでいるか確認してください。"
            )
        time.sleep(0.005)
    output = described.get("output")
    return Execution(arn, described["status"], json.loads(output) if output else None,
                     described.get("error"), described.get("cause"), history(arn))


_DETAIL_KEYS = {"stateEnteredEventDetails", "stateExitedEventDetails"}


def history(execution_arn: str) -> list[dict]:
    """The execution's history as rows: elapsed time, event, state, error."""
    events = []
    for page in aws.client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution_arn):
        events += page["events"]
    start: datetime | None = events[0]["timestamp"] if events else None
    rows, state = [], ""
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if any(k in event for k in _DETAIL_KEYS):
            state = details.get("name", state)
        rows.append({
            "#": event["id"],
            "経過": f"+{(event['timestamp'] - start).total_seconds():.3f}s",
            "イベント": event["type"],
            "ステート": state if not event["type"].startswith("Execution") else "",
            "エラー": " ".join(x for x in (details.get("error"), _short(details.get("cause"))) if x),
        })
    return rows


def _short(cause: str | None) -> str | None:
    """A service error's cause without its request id (different on every run)."""
    return cause.split(" (Service:")[0] if cause else cause


def compact(rows: list[dict]) -> list[dict]:
    """Only what a reader needs: states entered, tasks that failed, how the execution ended."""
    keep = ("StateEntered", "TaskFailed", "ExecutionSucceeded", "ExecutionFailed", "ExecutionStarted")
    return [row for row in rows if row["イベント"].endswith(keep)]


def state(order_id: str | None = None) -> dict[str, list[dict]]:
    """The saga's tables now (payments and shipments of ``order_id`` only, if given)."""
    def mine(rows):
        return [r for r in rows if order_id is None or r["order_id"] == order_id]

    return {
        STOCK_TABLE: table_rows(STOCK_TABLE, "sku"),
        PAYMENTS_TABLE: mine(table_rows(PAYMENTS_TABLE, "order_id")),
        SHIPMENTS_TABLE: mine(table_rows(SHIPMENTS_TABLE, "order_id")),
    }


def plot(execution: Execution, title: str = "", ax=None):
    """A Gantt chart of the states: when each was entered and left; compensations in orange."""
    import matplotlib.pyplot as plt

    import labs.observe.plots  # noqa: F401  (Japanese fonts)

    spans: list[list] = []  # [state, start, end, failed]
    for row in execution.history:
        t = float(row["経過"][1:-1])
        if row["イベント"].endswith("StateEntered"):
            spans.append([row["ステート"], t, t, False])
        elif spans and row["ステート"] == spans[-1][0]:
            spans[-1][2] = t
            spans[-1][3] = spans[-1][3] or row["イベント"] == "TaskFailed"
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(spans) + 1.4))
    for lane, (name, start, end, failed) in enumerate(spans):
        colour = "tab:red" if failed or name == "OrderFailed" else (
            "tab:orange" if name in COMPENSATIONS else "tab:green")
        ax.barh(lane, max(end - start, 0.002), left=start, color=colour)
        ax.annotate(f"{(end - start) * 1000:.0f} ms", (end, lane), xytext=(4, -3),
                    textcoords="offset points", fontsize=8)
    ax.set_yticks(range(len(spans)), [s[0] for s in spans])
    ax.invert_yaxis()
    ax.set_xlabel("実行開始からの経過 (秒)")
    ax.set_title(title or f"Saga の実行 ({execution.status})")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:green", "tab:orange", "tab:red")]
    ax.legend(handles, ["正常なステップ", "補償", "失敗"], loc="upper right", fontsize=8)
    ax.figure.tight_layout()
    return ax
