"""Order event schemas (exercise 4): the seed's Pydantic models, done right.

What changed compared with the seed (``event_schema.py``):

* ``uuid`` is imported (the seed called ``uuid.uuid4()`` without importing it).
* Timestamps are timezone-aware: ``datetime.now(timezone.utc)`` instead of the
  deprecated, naive ``datetime.utcnow()``; naive timestamps are rejected.
* The constraints a real order needs: non-empty ids and items, positive
  quantities, non-negative prices, and ``total_amount`` equal to the items' sum.
* Validation errors can be explained field by field, in Japanese.
"""

from __future__ import annotations

import uuid  # the seed forgot this import
from datetime import datetime, timezone
from enum import Enum
from typing import Any

from pydantic import (
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError


class EventType(str, Enum):
    ORDER_CREATED = "OrderCreated"
    ORDER_SHIPPED = "OrderShipped"
    ORDER_CANCELLED = "OrderCancelled"


class OrderItem(BaseModel):
    """注文明細 (1 行)"""

    product_id: str = Field(min_length=1, description="商品ID")
    # strict=True: reject True/"2"/2.0 instead of silently turning them into ints
    quantity: int = Field(strict=True, gt=0, description="数量 (1 以上)")
    unit_price: int = Field(strict=True, ge=0, description="単価 (円, 0 以上)")


class OrderEvent(BaseModel):
    """注文イベントのスキーマ (v1)"""

    event_type: EventType
    event_id: str = Field(
        default_factory=lambda: str(uuid.uuid4()), min_length=1, description="一意なイベントID"
    )
    # AwareDatetime rejects naive datetimes such as the seed's datetime.utcnow()
    timestamp: AwareDatetime = Field(description="発生日時 (タイムゾーン付き)")

    order_id: str = Field(min_length=1)
    customer_id: str = Field(min_length=1)
    items: list[OrderItem] = Field(min_length=1)
    total_amount: int = Field(strict=True, ge=0, description="合計金額 = Σ 数量 × 単価")

    # optional
    shipping_address: str | None = None
    notes: str | None = None

    @model_validator(mode="after")
    def _total_matches_items(self) -> OrderEvent:
        expected = sum(item.quantity * item.unit_price for item in self.items)
        if self.total_amount != expected:
            raise PydanticCustomError(
                "total_mismatch",
                "total_amount ({total}) が明細の合計 ({expected}) と一致しません",
                {"total": self.total_amount, "expected": expected},
            )
        return self


class OrderEventV2(OrderEvent):
    """注文イベントのスキーマ (v2): v1 + 任意の currency。v1 と後方・前方互換。"""

    model_config = ConfigDict(title="OrderEvent")

    currency: str = Field(default="JPY", description="通貨コード (ISO 4217)")


# the order keys an event copies
_ORDER_KEYS = ("order_id", "customer_id", "items", "total_amount", "shipping_address", "notes")


def create_order_event(
    order: dict[str, Any], event_type: EventType = EventType.ORDER_CREATED
) -> OrderEvent:
    """Build a validated event from an order dict (raises ``ValidationError`` if invalid)."""
    # Only the keys the order has: a missing one is then reported as "必須の項目がありません",
    # and item errors keep their full location (items[0].quantity).
    fields = {key: order[key] for key in _ORDER_KEYS if key in order}
    return OrderEvent(
        event_type=event_type,
        event_id=str(uuid.uuid4()),
        timestamp=datetime.now(timezone.utc),  # not utcnow(): deprecated and naive
        **fields,
    )


def validate_event(raw: dict[str, Any] | str | bytes) -> OrderEvent:
    """イベントのバリデーション: a dict, or a JSON string such as an SQS body.

    Raises ``pydantic.ValidationError`` (a ``ValueError``) when invalid.
    """
    if isinstance(raw, (str, bytes)):
        return OrderEvent.model_validate_json(raw)
    return OrderEvent.model_validate(raw)


# --- readable, Japanese validation errors ---------------------------------

_MESSAGES_JA = {
    "missing": "必須の項目がありません",
    "greater_than": "{gt} より大きい値が必要です",
    "greater_than_equal": "{ge} 以上の値が必要です",
    "string_too_short": "{min_length} 文字以上の文字列が必要です",
    "too_short": "{min_length} 件以上の要素が必要です",
    "timezone_aware": "タイムゾーン付きの日時が必要です (例: 2024-01-01T09:00:00+09:00)",
    "int_type": "整数が必要です",
    "int_parsing": "整数が必要です",
    "int_from_float": "整数が必要です",
    "string_type": "文字列が必要です",
    "list_type": "リストが必要です",
    "model_type": "オブジェクト (dict) が必要です",
    "dict_type": "オブジェクト (dict) が必要です",
    "model_attributes_type": "オブジェクト (dict) が必要です",
    "extra_forbidden": "未知の項目です",
    "json_invalid": "JSON として読めません",
}


def _format_loc(loc: tuple[int | str, ...]) -> str:
    """('items', 0, 'quantity') -> 'items[0].quantity'"""
    text = ""
    for part in loc:
        text += f"[{part}]" if isinstance(part, int) else (f".{part}" if text else str(part))
    return text or "(イベント全体)"


def _message_ja(error: dict[str, Any]) -> str:
    kind, ctx = error["type"], error.get("ctx") or {}
    if kind == "enum":
        return ctx["expected"].replace(" or ", ", ") + " のいずれかが必要です"
    if kind.startswith("datetime"):
        return "日時 (ISO 8601 形式, 例: 2024-01-01T09:00:00+09:00) が必要です"
    if kind == "value_error":
        return str(ctx.get("error", error["msg"]))
    if kind in _MESSAGES_JA:
        return _MESSAGES_JA[kind].format(**ctx)
    return error["msg"]  # custom errors (total_mismatch) already speak Japanese


def explain_validation_error(exc: ValidationError) -> list[str]:
    """One readable Japanese line per problem, e.g.
    ``items[0].quantity: 0 より大きい値が必要です (入力: 0)``."""
    lines = []
    for error in exc.errors():
        line = f"{_format_loc(error['loc'])}: {_message_ja(error)}"
        # the input of a missing field or a whole-event check is the whole event: not shown
        if error["type"] != "missing" and error["loc"]:
            shown = repr(error["input"])
            line += f" (入力: {shown if len(shown) <= 60 else shown[:57] + '...'})"
        lines.append(line)
    return lines


class EventValidationError(ValueError):
    """An invalid event, with its problems listed field by field (in Japanese)."""

    def __init__(self, problems: list[str]):
        self.problems = problems
        super().__init__(
            f"イベントが不正です ({len(problems)} 件):\n" + "\n".join(f"- {p}" for p in problems)
        )


def validate_event_or_explain(raw: dict[str, Any] | str | bytes) -> OrderEvent:
    """Like ``validate_event``, but raises ``EventValidationError`` with Japanese lines."""
    try:
        return validate_event(raw)
    except ValidationError as exc:
        raise EventValidationError(explain_validation_error(exc)) from exc
