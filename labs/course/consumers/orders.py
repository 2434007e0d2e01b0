"""The order service's EventBridge consumer: the course text's ``lambda_handler`` (演習1).

One rule sends every order event to this function; it dispatches on ``detail-type``:

* ``OrderCreated``   reserve stock for every item (inventory table) and record the order.
* ``OrderShipped``   record the carrier's tracking number on the order.
* ``OrderCancelled`` put the reserved stock back and record a refund to make.
* anything else      logged and ignored: a new event type on the bus must not break us.

EventBridge delivers *at least once*, so each handler is idempotent: a conditional write
turns a repeated delivery (or a replay from the archive) into a no-op. Table names come
from the environment, as a Lambda function's configuration would give them.
"""
from __future__ import annotations

import logging
import os
from decimal import Decimal

from botocore.exceptions import ClientError

from labs.course import aws

logger = logging.getLogger(__name__)

INVENTORY_TABLE = os.environ.get("INVENTORY_TABLE", "inventory")  # product_id -> available, reserved
ORDERS_TABLE = os.environ.get("ORDERS_TABLE", "orders")  # order_id -> status, items, tracking_number
REFUNDS_TABLE = os.environ.get("REFUNDS_TABLE", "refunds")  # order_id -> amount, status


class OutOfStock(Exception):
    """Not enough stock to reserve: the order cannot be taken as it is."""


def lambda_handler(event, context):
    """Triggered by an EventBridge rule; one event per invocation."""
    event_type = event.get("detail-type")
    detail = event.get("detail") or {}
    handlers = {
        "OrderCreated": handle_order_created,
        "OrderShipped": handle_order_shipped,
        "OrderCancelled": handle_order_cancelled,
    }
    handler = handlers.get(event_type)
    if handler is None:
        # Unknown is not an error: other teams may add event types to the bus at any time.
        logger.warning("Unknown event type: %s (id=%s)", event_type, event.get("id"))
        return {"ignored": event_type}
    return {"handled": event_type, "result": handler(detail)}


def handle_order_created(detail: dict) -> str:
    """Reserve stock for every item and record the order, all or nothing."""
    order_id = detail["orderId"]
    items = detail.get("items", [])
    writes = [
        {"Update": {
            "TableName": INVENTORY_TABLE,
            "Key": {"product_id": {"S": item["productId"]}},
            "UpdateExpression": "SET available = available - :q, reserved = reserved + :q",
            "ConditionExpression": "available >= :q",
            "ExpressionAttributeValues": {":q": {"N": str(int(item["quantity"]))}},
        }}
        for item in items
    ]
    writes.append({"Put": {
        "TableName": ORDERS_TABLE,
        "Item": {
            "order_id": {"S": order_id},
            "customer_id": {"S": detail.get("customerId", "")},
            "amount": {"N": str(Decimal(str(detail.get("amount", 0))))},
            "status": {"S": "RESERVED"},
            "items": {"L": [{"M": {"productId": {"S": i["productId"]}, "quantity": {"N": str(int(i["quantity"]))}}}
                            for i in items]},
        },
        "ConditionExpression": "attribute_not_exists(order_id)",  # a second delivery changes nothing
    }})
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if reasons and reasons[-1] == "ConditionalCheckFailed":
            return "duplicate"  # the order is recorded already: this delivery is a repeat
        short = [items[i]["productId"] for i, code in enumerate(reasons[:-1]) if code == "ConditionalCheckFailed"]
        raise OutOfStock(f"在庫が足りません: 注文 {order_id} の商品 {', '.join(short) or '?'}") from error
    return "reserved"


def handle_order_shipped(detail: dict) -> str:
    """Record the tracking number; shipping an unknown or cancelled order is refused."""
    try:
        aws.client("dynamodb").update_item(
            TableName=ORDERS_TABLE,
            Key={"order_id": {"S": detail["orderId"]}},
            UpdateExpression="SET #s = :shipped, tracking_number = :t",
            ConditionExpression="attribute_exists(order_id) AND #s <> :cancelled",
            ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":shipped": {"S": "SHIPPED"}, ":cancelled": {"S": "CANCELLED"},
                                       ":t": {"S": detail.get("trackingNumber", "")}},
        )
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        # Events are not ordered: "shipped" may overtake "created". Raising lets the
        # async retry (1 and 2 minutes later) try again once the order exists.
        raise LookupError(f"注文 {detail['orderId']} は未登録か取消済みのため出荷を記録できません") from error
    return "tracking recorded"


def handle_order_cancelled(detail: dict) -> str:
    """Mark the order cancelled, put its reserved stock back and record a refund, at once."""
    order_id = detail["orderId"]
    order = aws.client("dynamodb").get_item(TableName=ORDERS_TABLE, Key={"order_id": {"S": order_id}}).get("Item")
    if order is None:
        raise LookupError(f"注文 {order_id} が見つかりません (取消より先に作成イベントが届くはずです)")
    if order["status"]["S"] == "CANCELLED":
        return "duplicate"
    items = [(i["M"]["productId"]["S"], i["M"]["quantity"]["N"]) for i in order.get("items", {}).get("L", [])]
    writes = [{"Update": {
        "TableName": ORDERS_TABLE,
        "Key": {"order_id": {"S": order_id}},
        "UpdateExpression": "SET #s = :cancelled",
        "ConditionExpression": "#s = :reserved",  # only a reserved (not shipped) order is cancelled here
        "ExpressionAttributeNames": {"#s": "status"},
        "ExpressionAttributeValues": {":cancelled": {"S": "CANCELLED"}, ":reserved": {"S": "RESERVED"}},
    }}]
    writes += [{"Update": {
        "TableName": INVENTORY_TABLE,
        "Key": {"product_id": {"S": product_id}},
        "UpdateExpression": "SET available = available + :q, reserved = reserved - :q",
        "ExpressionAttributeValues": {":q": {"N": quantity}},
    }} for product_id, quantity in items]
    writes.append({"Put": {
        "TableName": REFUNDS_TABLE,
        "Item": {"order_id": {"S": order_id}, "amount": order["amount"], "status": {"S": "PENDING"},
                 "reason": {"S": detail.get("reason", "")}},
        "ConditionExpression": "attribute_not_exists(order_id)",
    }})
    try:
        aws.client("dynamodb").transact_write_items(TransactItems=writes)
    except ClientError as error:
        if error.response["Error"]["Code"] != "TransactionCanceledException":
            raise
        raise LookupError(f"注文 {order_id} は取り消せません (状態: {order['status']['S']})") from error
    return "refund recorded"
