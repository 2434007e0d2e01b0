"""Choreography: four services react to each other's events on ``orders-bus``.

No service calls another and nothing coordinates them; each one only knows which
events it listens to and which it emits::

    order      --OrderPlaced------> inventory --StockReserved--> payment
    payment    --PaymentCompleted-> shipping  --OrderShipped---> order
    payment    --PaymentFailed----> inventory --StockReleased--> order (cancels)
    inventory  --StockUnavailable-> order (cancels)

Every event carries the whole order (event-carried state transfer), so a service never
has to ask another one for it. The handlers are plain Lambda handlers; ``wire`` makes
each one the target of its EventBridge rule in the local runtime.
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from labs.sandbox import provision
from labs.course import aws
from labs.course.patterns import recreate_table, table_rows
from labs.course.producers.eventbridge import EventPublishError
from labs.sandbox.provision import ORDERS_BUS

SOURCES = {
    "order": "com.myapp.orders",
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


# --- wiring and showing ---------------------------------------------------------------

def rule_pattern(service: str) -> dict:
    pairs = SUBSCRIPTIONS[service]
    return {"source": sorted({SOURCES[s] for s, _ in pairs}), "detail-type": sorted({t for _, t in pairs})}


def setup(stock: dict[str, int]) -> None:
    """Fresh service tables, with ``stock`` (sku -> units) on the shelves, and the bus."""
    provision.ensure_bus(bus_name())
    received.clear()
    recreate_table(ORDER_STATUS_TABLE, "order_id")
    recreate_table(STOCK_TABLE, "sku")
    for sku, units in stock.items():
        aws.client("dynamodb").put_item(TableName=STOCK_TABLE, Item={"sku": {"S": sku}, "available": {"N": str(units)}})


# What each service received, in order: (service, event, handled without error).
received: list[tuple[str, dict, bool]] = []


def _traced(service: str, handler):
    """The handler as wired: notes each event it receives, then runs it unchanged."""

    def traced(event, context):
        try:
            result = handler(event, context)
        except Exception:
            received.append((service, event, False))
            raise
        received.append((service, event, True))
        return result

    return traced


def wire(runtime, handlers: dict | None = None) -> None:
    """One EventBridge rule per service, each targeting that service's handler."""
    handlers = {**HANDLERS, **(handlers or {})}
    for service in SUBSCRIPTIONS:
        rule = f"{service}-service"
        provision.ensure_rule(bus_name(), rule, event_pattern=rule_pattern(service))
        runtime.on_rule(bus_name(), rule, _traced(service, handlers[service]), function_name=f"{service}_service")


def example_event(detail_type: str, detail: dict, service: str = "order") -> dict:
    """An EventBridge event as a target receives it (for reading and for tests)."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail_type,
        "source": SOURCES[service],
        "account": "123456789012",
        "time": datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "ap-northeast-1",
        "resources": [],
        "detail": detail,
    }


def trace(order_id: str) -> list[dict]:
    """One order's chain of events: each event (by id) once, with every service that received it."""
    by_service = {source: service for service, source in SOURCES.items()}
    steps: dict[str, dict] = {}
    for service, event, ok in received:
        if event.get("detail", {}).get("order_id") != order_id:
            continue
        step = steps.setdefault(event["id"], {
            "順番": len(steps) + 1, "イベント": event["detail-type"],
            "発行元": by_service.get(event["source"], event["source"]), "受信": [],
        })
        step["受信"].append(service + ("" if ok else " (失敗)"))
    return [{**s, "受信": ", ".join(s["受信"])} for s in steps.values()]


def state(order_id: str | None = None) -> dict[str, list[dict]]:
    """The services' own tables, as they are now."""
    orders = table_rows(ORDER_STATUS_TABLE, "order_id")
    if order_id:
        orders = [o for o in orders if o["order_id"] == order_id]
    return {"order-status": orders, "stock": table_rows(STOCK_TABLE, "sku")}


def plot_trace(steps: list[dict], title: str = "1 件の注文のイベントの連鎖", ax=None):
    """Services as lanes, events as arrows from the emitting service to each receiver."""
    import matplotlib.pyplot as plt

    import labs.observe.plots  # noqa: F401  (Japanese fonts)

    lanes = ["order", "inventory", "payment", "shipping"]
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.4))
    for x, step in enumerate(steps):
        start = lanes.index(step["発行元"])
        failed = "PaymentFailed" in step["イベント"] or "Unavailable" in step["イベント"]
        colour = "tab:red" if failed else ("tab:orange" if step["イベント"] == "StockReleased" else "tab:blue")
        receivers = [r.split(" ")[0] for r in step["受信"].split(", ") if r]
        for receiver in receivers:
            ax.annotate("", xy=(x + 0.9, lanes.index(receiver)), xytext=(x, start),
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.6})
        ax.scatter([x], [start], color=colour, s=50, zorder=3)
        ax.annotate(step["イベント"], (x, start), textcoords="offset points", xytext=(4, 7), fontsize=8, color=colour)
    ax.set_yticks(range(len(lanes)), [f"{lane} サービス" for lane in lanes])
    ax.set_xticks(range(len(steps) + 1))
    ax.set_xlim(-0.3, len(steps) + 0.3)
    ax.set_ylim(len(lanes) - 0.5, -0.7)
    ax.set_xlabel("イベントの順番 (矢印: 発行したサービス → 受け取ったサービス)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.figure.tight_layout()
    return ax
