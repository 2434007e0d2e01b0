"""Lesson 01: the order service's tables, as CloudFormation would create them, and its stock.

The consumer (``labs.course.consumers.orders``) only reads and writes these tables; making
them, putting stock on the shelves and looking at it afterwards is the workbook's job.
"""
from __future__ import annotations

from labs import sandbox
from labs.course.consumers.orders import INVENTORY_TABLE, ORDERS_TABLE, REFUNDS_TABLE
from labs.sandbox.provision import ensure_table, recreate_table


def ensure_order_tables() -> None:
    """Create the three tables the order service writes to (idempotent)."""
    ensure_table(INVENTORY_TABLE, "product_id")
    ensure_table(ORDERS_TABLE, "order_id")
    ensure_table(REFUNDS_TABLE, "order_id")


def restock(stock: dict[str, int]) -> None:
    """Set each product's available stock (and clear its reservations)."""
    for product_id, quantity in stock.items():
        sandbox.client("dynamodb").put_item(TableName=INVENTORY_TABLE, Item={
            "product_id": {"S": product_id}, "available": {"N": str(quantity)}, "reserved": {"N": "0"}})


def inventory(product_ids: list[str]) -> dict[str, dict[str, int]]:
    """{product_id: {"available": n, "reserved": n}} for the given products."""
    out = {}
    for product_id in product_ids:
        item = sandbox.client("dynamodb").get_item(TableName=INVENTORY_TABLE,
                                                   Key={"product_id": {"S": product_id}}).get("Item", {})
        out[product_id] = {k: int(item[k]["N"]) for k in ("available", "reserved") if k in item}
    return out


def reset_order_tables(stock: dict[str, int]) -> None:
    """Empty the three tables and set the stock: a section run again starts from the same state."""
    recreate_table(INVENTORY_TABLE, "product_id")
    recreate_table(ORDERS_TABLE, "order_id")
    recreate_table(REFUNDS_TABLE, "order_id")
    restock(stock)


def recreate_archive(name: str, bus_arn: str) -> str:
    """Drop the archive ``name`` (if present) and create it empty; return its ARN."""
    events = sandbox.client("events")
    try:
        events.delete_archive(ArchiveName=name)
    except events.exceptions.ResourceNotFoundException:
        pass
    return events.create_archive(ArchiveName=name, EventSourceArn=bus_arn)["ArchiveArn"]
