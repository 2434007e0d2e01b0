"""Choreography: four services react to each other's events on ``orders-bus``.

No service calls another and nothing coordinates them; each one only knows which
events it listens to and which it emits::

    order      --OrderPlaced------> inventory --StockReserved--> payment
    payment    --PaymentCompleted-> shipping  --OrderShipped---> order
    payment    --PaymentFailed----> inventory --StockReleased--> order (cancels)
    inventory  --StockUnavailable-> order (cancels)

Every event carries the whole order (event-carried state transfer), so a service never
has to ask another one for it. The handlers are plain Lambda handlers, each the target of
its service's EventBridge rule (``rule_pattern``); the workbook wires them to the local
runtime (``labs.workbook.lessons.lesson05``).
"""
from __future__ import annotations

import json
import os

from labs.course import aws
from labs.course.names import ORDER_SOURCE, ORDERS_BUS
from labs.course.producers.eventbridge import EventPublishError

SOURCES = {
    "order": ORDER_SOURCE,
    "inventory": "com.myapp.inventory",
    "payment": "com.myapp.payments",
    "shipping": "com.myapp.shipping",
}
ORDER_STATUS_TABLE = "order-status"  # owned by the order service
STOCK_TABLE = "stock"  # owned by the inventory service
PAYMENT_LIMIT = 50_000  # the payment service declines orders above this (yen)

# Who listens to what: service -> the (source service, detail-type) pairs its rule matches.
SUBSCRIPTIONS = {
    "inventory": [("order", "OrderPlaced"), ("payment", "PaymentFailed")],
    "payment": [("inventory", "StockReserved")],
    "shipping": [("payment", "PaymentCompleted")],
    "order": [("shipping", "OrderShipped"), ("inventory", "StockReleased"), ("inventory", "StockUnavailable")],
}


def bus_name() -> str:
    """The bus, as a Lambda function would read it from its environment."""
    return os.environ.get("EVENT_BUS_NAME", ORDERS_BUS)


def emit(service: str, detail_type: str, detail: dict) -> str:
    """Publish one event as ``service``; returns its event id."""
    response = aws.client("events").put_events(Entries=[{
        "EventBusName": bus_name(),
        "Source": SOURCES[service],
        "DetailType": detail_type,
        "Detail": json.dumps(detail, ensure_ascii=False),
    }])
    entry = response["Entries"][0]
    if response.get("FailedEntryCount") or "EventId" not in entry:  # raised, never ignored
        raise EventPublishError([{"entry": detail_type, "ErrorCode": entry.get("ErrorCode", "?"),
                                  "ErrorMessage": entry.get("ErrorMessage", "")}])
    return entry["EventId"]


def _unexpected(service: str, event: dict) -> ValueError:
    # Raising sends the event through Lambda's async retries to the failure queue: not lost.
    return ValueError(f"{service} サービスは {event.get('detail-type')!r} を処理しません (ルールの設定を確認してください)")


# --- the order service -------------------------------------------------------------

def place_order(order: dict) -> str:
    """The order service's API: record the order, then announce it."""
    aws.client("dynamodb").put_item(TableName=ORDER_STATUS_TABLE, Item={
        "order_id": {"S": order["order_id"]}, "status": {"S": "PLACED"},
    })
    return emit("order", "OrderPlaced", order)


def order_service(event, context):
    """Keeps each order's status from what the other services announce."""
    detail, kind = event["detail"], event["detail-type"]
    status = {"OrderShipped": "SHIPPED", "StockReleased": "CANCELLED", "StockUnavailable": "CANCELLED"}.get(kind)
    if status is None:
        raise _unexpected("order", event)
    aws.client("dynamodb").put_item(TableName=ORDER_STATUS_TABLE, Item={
        "order_id": {"S": detail["order_id"]}, "status": {"S": status}, "reason": {"S": detail.get("reason", "")},
    })


# --- the inventory service ----------------------------------------------------------

def _stock_updates(items: list[dict], sign: int) -> list[dict]:
    """One conditional update per item: reserving (-) never takes stock below zero."""
    updates = []
    for item in items:
        update = {
            "TableName": STOCK_TABLE,
            "Key": {"sku": {"S": item["sku"]}},
            "UpdateExpression": "SET available = available + :delta",
            "ExpressionAttributeValues": {":delta": {"N": str(sign * item["quantity"])}},
        }
        if sign < 0:
            update["ConditionExpression"] = "available >= :wanted"
            update["ExpressionAttributeValues"][":wanted"] = {"N": str(item["quantity"])}
        updates.append({"Update": update})
    return updates


def inventory_service(event, context):
    """Reserves stock for new orders; gives it back when the payment failed (compensation)."""
    order, kind = event["detail"], event["detail-type"]
    ddb = aws.client("dynamodb")
    if kind == "OrderPlaced":
        try:  # all items or none: one transaction
            ddb.transact_write_items(TransactItems=_stock_updates(order["items"], -1))
        except ddb.exceptions.TransactionCanceledException:
            emit("inventory", "StockUnavailable", {**order, "reason": "在庫不足"})
            return
        emit("inventory", "StockReserved", order)
    elif kind == "PaymentFailed":  # the compensating action undoes the reservation
        ddb.transact_write_items(TransactItems=_stock_updates(order["items"], +1))
        emit("inventory", "StockReleased", order)
    else:
        raise _unexpected("inventory", event)


# --- the payment service (lesson 05's exercise writes this one) -----------------------

def payment_service(event, context):
    """Charges reserved orders up to PAYMENT_LIMIT; announces the outcome either way."""
    order = event["detail"]
    if event["detail-type"] != "StockReserved":
        raise _unexpected("payment", event)
    if order["amount"] <= PAYMENT_LIMIT:
        emit("payment", "PaymentCompleted", order)
    else:
        emit("payment", "PaymentFailed", {**order, "reason": f"限度額 {PAYMENT_LIMIT} 円を超えています"})


# --- the shipping service -----------------------------------------------------------

def shipping_service(event, context):
    """Ships paid orders."""
    order = event["detail"]
    if event["detail-type"] != "PaymentCompleted":
        raise _unexpected("shipping", event)
    emit("shipping", "OrderShipped", {**order, "tracking_number": f"TRK-{order['order_id']}"})


HANDLERS = {"order": order_service, "inventory": inventory_service,
            "payment": payment_service, "shipping": shipping_service}


# --- how the services are connected ---------------------------------------------------

def rule_pattern(service: str) -> dict:
    """The event pattern of ``service``'s rule: the events it subscribes to, and no others."""
    pairs = SUBSCRIPTIONS[service]
    return {"source": sorted({SOURCES[s] for s, _ in pairs}), "detail-type": sorted({t for _, t in pairs})}
