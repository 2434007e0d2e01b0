"""Event-driven patterns (lesson 05): choreography, saga and CQRS.

Each module is plain boto3 production code (handlers a Lambda would run unchanged)
plus the few helpers a notebook needs to wire it to the local runtime and show it.
"""
from __future__ import annotations

from labs.course import aws


def table_rows(table_name: str, key: str) -> list[dict]:
    """Every item of a (small) table as plain Python values, sorted by ``key``."""
    from boto3.dynamodb.types import TypeDeserializer

    plain = TypeDeserializer()
    items = []
    for page in aws.client("dynamodb").get_paginator("scan").paginate(TableName=table_name):
        for item in page["Items"]:
            row = {name: plain.deserialize(value) for name, value in item.items()}
            items.append({name: _number(value) for name, value in row.items()})
    return sorted(items, key=lambda row: str(row.get(key)))


def _number(value):
    """DynamoDB numbers come back as Decimal; show 3 rather than Decimal('3')."""
    from decimal import Decimal

    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    return value


def recreate_table(name: str, key: str, *, stream: str | None = None) -> str:
    """Drop ``name`` (if present) and create it empty: a section starts from a clean slate."""
    from labs.sandbox import provision

    ddb = aws.client("dynamodb")
    try:
        ddb.delete_table(TableName=name)
    except ddb.exceptions.ResourceNotFoundException:
        pass
    return provision.ensure_table(name, key, stream=stream)
