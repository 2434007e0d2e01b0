"""CQRS: orders are written to one table and read from another, shaped for reading.

    place_order / cancel_order --> orders (write model) --DynamoDB Streams--> project_order
                                                                                  |
    "how much has this customer ordered?" <-- customer-summary (read model) <-----+

The write side only records facts about single orders. The projector, fed by the
table's stream, keeps a per-customer summary up to date, so a question about a
customer is one ``get_item`` instead of a scan over every order. The price is
eventual consistency: between a write and its projection the read model is behind.
"""
from __future__ import annotations

from labs.course import aws

ORDERS_TABLE = "orders"
SUMMARY_TABLE = "customer-summary"


# --- the write side (commands) ---------------------------------------------------------

def place_order(order_id: str, customer_id: str, amount: int, *, table: str = ORDERS_TABLE) -> None:
    """Record a new order; an order id can be placed only once."""
    aws.client("dynamodb").put_item(
        TableName=table,
        Item={"order_id": {"S": order_id}, "customer_id": {"S": customer_id},
              "amount": {"N": str(amount)}, "status": {"S": "PLACED"}},
        ConditionExpression="attribute_not_exists(order_id)",
    )


def cancel_order(order_id: str, *, table: str = ORDERS_TABLE) -> None:
    """Cancel a placed order. Cancelling it again changes nothing (the same command twice is one
    cancel); an order that does not exist is refused by DynamoDB's condition."""
    ddb = aws.client("dynamodb")
    try:
        ddb.update_item(
            TableName=table, Key={"order_id": {"S": order_id}},
            UpdateExpression="SET #status = :cancelled",
            ConditionExpression="#status = :placed",
            ExpressionAttributeNames={"#status": "status"},
            ExpressionAttributeValues={":cancelled": {"S": "CANCELLED"}, ":placed": {"S": "PLACED"}},
        )
    except ddb.exceptions.ConditionalCheckFailedException:
        current = ddb.get_item(TableName=table, Key={"order_id": {"S": order_id}}, ConsistentRead=True).get("Item")
        if not current or current["status"]["S"] != "CANCELLED":
            raise


# --- the projector (a DynamoDB Streams handler) -------------------------------------------

def _active(image: dict | None) -> tuple[int, int]:
    """(orders, amount) an order image counts for in the summary: only placed orders count."""
    if not image or image["status"]["S"] != "PLACED":
        return 0, 0
    return 1, int(image["amount"]["N"])


def summary_change(record: dict) -> dict | None:
    """ストリームのレコード 1 件が、その顧客の集計をどれだけ変えるか。

    戻り値は変化量の dict です (変化がなければ None)::

        {"customer_id": "alice", "order_count": 1, "total_amount": 3000, "cancelled_count": 0}

    order_count / total_amount は PLACED の注文だけを数えた増減 (取り消しならマイナス)、
    cancelled_count は CANCELLED になった注文の数です。古いイメージと新しいイメージの
    差から計算するので、INSERT / MODIFY / REMOVE のどれも同じ計算になります。
    """
    old, new = record["dynamodb"].get("OldImage"), record["dynamodb"].get("NewImage")
    (orders_before, amount_before), (orders_after, amount_after) = _active(old), _active(new)
    became_cancelled = bool(new) and new["status"]["S"] == "CANCELLED" and (not old or old["status"]["S"] != "CANCELLED")
    change = {"order_count": orders_after - orders_before, "total_amount": amount_after - amount_before,
              "cancelled_count": int(became_cancelled)}
    if not any(change.values()):
        return None
    return {"customer_id": (new or old)["customer_id"]["S"], **change}


def project_order(event, context):
    """Apply each order change to the customer's summary (ADD: no read, no race)."""
    ddb = aws.client("dynamodb")
    for record in event["Records"]:
        change = summary_change(record)
        if change is None:
            continue
        ddb.update_item(
            TableName=SUMMARY_TABLE, Key={"customer_id": {"S": change["customer_id"]}},
            UpdateExpression="ADD order_count :orders, total_amount :amount, cancelled_count :cancelled",
            ExpressionAttributeValues={
                ":orders": {"N": str(change["order_count"])},
                ":amount": {"N": str(change["total_amount"])},
                ":cancelled": {"N": str(change["cancelled_count"])},
            },
        )


# --- the read side (queries) -------------------------------------------------------------

def customer_summary(customer_id: str) -> dict | None:
    """One customer's summary: a single key lookup."""
    item = aws.client("dynamodb").get_item(TableName=SUMMARY_TABLE, Key={"customer_id": {"S": customer_id}}).get("Item")
    if item is None:
        return None
    return {name: (value.get("S") or int(value["N"])) for name, value in item.items()}
