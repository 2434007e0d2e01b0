"""DynamoDB Streams: records carry AWS's ``eventVersion`` and ``SizeBytes``
(MOTO_GAPS: "stream records say eventVersion 1.0 and overstate SizeBytes").

* ``eventVersion``: moto says "1.0"; AWS's records say "1.1" (GetRecords example in
  amazondynamodb/latest/APIReference/API_streams_GetRecords.html, and every record in
  LocalStack's snapshots recorded against AWS).
* ``SizeBytes``: moto counts the characters of its own JSON dump. AWS's figure is the item
  size (amazondynamodb/latest/developerguide/CapacityUnitCalculations.html) of ``Keys`` plus
  whichever of ``NewImage`` / ``OldImage`` the record carries: it reproduces every recorded
  value we have (AWS's sample event 26/59/38 in lambda/latest/dg/with-ddb.html and 30 records
  in LocalStack's snapshots; tests/sandbox/test_dynamodb_streams.py lists them).
"""
from __future__ import annotations

import base64
from decimal import Decimal


def attribute_size(value: dict) -> int:
    """The size of one attribute value, by DynamoDB's item-size rules."""
    (kind, data), = value.items()
    if kind == "S":
        return len(data.encode("utf-8"))
    if kind == "N":
        return _number_size(data)
    if kind == "B":
        return len(data if isinstance(data, bytes) else base64.b64decode(data))
    if kind in ("BOOL", "NULL"):
        return 1
    if kind in ("SS", "NS", "BS"):
        return sum(attribute_size({kind[0]: v}) for v in data)
    if kind == "L":
        return 3 + sum(1 + attribute_size(v) for v in data)
    if kind == "M":
        return 3 + sum(1 + len(k.encode("utf-8")) + attribute_size(v) for k, v in data.items())
    raise ValueError(f"unknown DynamoDB type {kind}")


def _number_size(text: str) -> int:
    """1 byte per two significant digits, plus 1 (leading and trailing zeros do not count)."""
    digits = Decimal(text).normalize().as_tuple().digits
    significant = len("".join(map(str, digits)).strip("0")) or 1
    return (significant + 1) // 2 + 1


def item_size(item: dict) -> int:
    return sum(len(name.encode("utf-8")) + attribute_size(value) for name, value in item.items())


def record_size(dynamodb: dict) -> int:
    return sum(item_size(dynamodb[part]) for part in ("Keys", "NewImage", "OldImage") if part in dynamodb)


def apply() -> None:
    from moto.dynamodb.models.table import StreamRecord

    original = StreamRecord.__init__

    def __init__(self, *args, **kwargs):
        original(self, *args, **kwargs)
        self.record["eventVersion"] = "1.1"
        self.record["dynamodb"]["SizeBytes"] = record_size(self.record["dynamodb"])

    StreamRecord.__init__ = __init__
