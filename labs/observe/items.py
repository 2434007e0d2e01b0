"""Reading a small DynamoDB table back as plain rows, to show it (never for production reads)."""
from __future__ import annotations

from decimal import Decimal

from boto3.dynamodb.types import TypeDeserializer

from labs import sandbox


def table_rows(table_name: str, key: str) -> list[dict]:
    """Every item of a (small) table as plain Python values, sorted by ``key``."""
    plain = TypeDeserializer()
    rows = []
    for page in sandbox.client("dynamodb").get_paginator("scan").paginate(TableName=table_name):
        for item in page["Items"]:
            rows.append({name: _number(plain.deserialize(value)) for name, value in item.items()})
    return sorted(rows, key=lambda row: str(row.get(key)))


def _number(value):
    """DynamoDB numbers come back as Decimal; show 3 rather than Decimal('3')."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value
