"""The order event models (exercise 4): constraints, Japanese explanations, envelopes."""

import json
import uuid
from datetime import datetime, timedelta, timezone

import pytest
from aws_lambda_powertools.utilities.parser import envelopes, parse
from hypothesis import given
from hypothesis import strategies as st
from pydantic import ValidationError

from labs.course.schema import (
    EventType,
    EventValidationError,
    OrderEvent,
    OrderEventV2,
    OrderItem,
    create_order_event,
    explain_validation_error,
    validate_event,
    validate_event_or_explain,
)

pytestmark = pytest.mark.no_sandbox  # pure code: no moto, no sandbox

ORDER = {
    "order_id": "ORD-001",
    "customer_id": "CUST-001",
    "items": [
        {"product_id": "P-1", "quantity": 2, "unit_price": 1500},
        {"product_id": "P-2", "quantity": 1, "unit_price": 0},
    ],
    "total_amount": 3000,
}


def raw_event(**changes):
    """A valid event as a JSON-ready dict, with some fields replaced."""
    raw = json.loads(create_order_event(ORDER).model_dump_json())
    raw.update(changes)
    return raw


def problems(raw) -> list[str]:
    with pytest.raises(EventValidationError) as info:
        validate_event_or_explain(raw)
    return info.value.problems


# --- the seed's flaws, fixed ------------------------------------------------


def test_create_order_event_has_uuid_and_aware_utc_timestamp():
    event = create_order_event(ORDER)
    assert event.event_type is EventType.ORDER_CREATED
    assert uuid.UUID(event.event_id).version == 4
    assert event.timestamp.utcoffset() == timedelta(0)
    assert abs(datetime.now(timezone.utc) - event.timestamp) < timedelta(seconds=5)
    assert event.total_amount == 3000 and len(event.items) == 2


def test_create_order_event_other_type_and_optional_fields():
    event = create_order_event({**ORDER, "notes": "置き配"}, EventType.ORDER_SHIPPED)
    assert event.event_type is EventType.ORDER_SHIPPED
    assert event.notes == "置き配" and event.shipping_address is None


def test_event_ids_are_unique_and_default_when_absent():
    assert create_order_event(ORDER).event_id != create_order_event(ORDER).event_id
    raw = raw_event()
    del raw["event_id"]
    assert uuid.UUID(validate_event(raw).event_id)


def test_naive_timestamp_like_the_seeds_utcnow_is_rejected():
    naive = datetime.now(timezone.utc).replace(tzinfo=None)  # what utcnow() returns
    assert problems(raw_event(timestamp=naive)) == [
        f"timestamp: タイムゾーン付きの日時が必要です (例: 2024-01-01T09:00:00+09:00) (入力: {naive!r})"
    ]
    assert problems(raw_event(timestamp="2024-01-01T09:00:00"))[0].startswith("timestamp: タイムゾーン付き")
    jst = validate_event(raw_event(timestamp="2024-01-01T09:00:00+09:00")).timestamp
    assert jst == datetime(2024, 1, 1, 0, 0, tzinfo=timezone.utc)


# --- every constraint, valid and invalid --------------------------------------


def test_valid_event_and_boundaries():
    event = validate_event(raw_event(items=[{"product_id": "P", "quantity": 1, "unit_price": 0}], total_amount=0))
    assert event.items == [OrderItem(product_id="P", quantity=1, unit_price=0)]
    assert validate_event(raw_event(event_type="OrderCancelled")).event_type is EventType.ORDER_CANCELLED


@pytest.mark.parametrize(
    "changes, expected",
    [
        ({"event_type": "OrderPaid"},
         "event_type: 'OrderCreated', 'OrderShipped', 'OrderCancelled' のいずれかが必要です (入力: 'OrderPaid')"),
        ({"order_id": ""}, "order_id: 1 文字以上の文字列が必要です (入力: '')"),
        ({"customer_id": 42}, "customer_id: 文字列が必要です (入力: 42)"),
        ({"items": []}, "items: 1 件以上の要素が必要です (入力: [])"),
        ({"items": "P-1"}, "items: リストが必要です (入力: 'P-1')"),
        ({"total_amount": -1}, "total_amount: 0 以上の値が必要です (入力: -1)"),
        ({"total_amount": "3000"}, "total_amount: 整数が必要です (入力: '3000')"),
        ({"total_amount": 2999}, "(イベント全体): total_amount (2999) が明細の合計 (3000) と一致しません"),
        ({"timestamp": "yesterday"},
         "timestamp: 日時 (ISO 8601 形式, 例: 2024-01-01T09:00:00+09:00) が必要です (入力: 'yesterday')"),
        ({"notes": ["a"]}, "notes: 文字列が必要です (入力: ['a'])"),
    ],
)
def test_each_event_constraint_is_explained_in_japanese(changes, expected):
    assert problems(raw_event(**changes)) == [expected]


@pytest.mark.parametrize(
    "item, expected",
    [
        ({"product_id": "", "quantity": 1, "unit_price": 1}, "items[0].product_id: 1 文字以上の文字列が必要です (入力: '')"),
        ({"product_id": "P", "quantity": 0, "unit_price": 1}, "items[0].quantity: 0 より大きい値が必要です (入力: 0)"),
        ({"product_id": "P", "quantity": -3, "unit_price": 1}, "items[0].quantity: 0 より大きい値が必要です (入力: -3)"),
        ({"product_id": "P", "quantity": 1.5, "unit_price": 1}, "items[0].quantity: 整数が必要です (入力: 1.5)"),
        ({"product_id": "P", "quantity": True, "unit_price": 1}, "items[0].quantity: 整数が必要です (入力: True)"),
        ({"product_id": "P", "quantity": 1, "unit_price": -1}, "items[0].unit_price: 0 以上の値が必要です (入力: -1)"),
        ({"product_id": "P", "quantity": 1}, "items[0].unit_price: 必須の項目がありません"),
        ("P-1", "items[0]: オブジェクト (dict) が必要です (入力: 'P-1')"),
    ],
)
def test_each_item_constraint_is_explained_with_its_location(item, expected):
    assert problems(raw_event(items=[item], total_amount=1)) == [expected]


def test_all_problems_are_listed_and_the_message_is_japanese():
    raw = raw_event(items=[{"product_id": "P", "quantity": 0, "unit_price": -5}])
    del raw["customer_id"]
    with pytest.raises(EventValidationError) as info:
        validate_event_or_explain(raw)
    assert info.value.problems == [
        "customer_id: 必須の項目がありません",
        "items[0].quantity: 0 より大きい値が必要です (入力: 0)",
        "items[0].unit_price: 0 以上の値が必要です (入力: -5)",
    ]
    assert str(info.value).startswith("イベントが不正です (3 件):\n- customer_id:")
    assert isinstance(info.value, ValueError)
    assert isinstance(info.value.__cause__, ValidationError)


def test_not_an_object_and_not_json():
    assert problems("{not json") == ["(イベント全体): JSON として読めません"]
    assert problems([1, 2]) == ["(イベント全体): オブジェクト (dict) が必要です"]


def test_long_inputs_are_shortened():
    (line,) = problems(raw_event(order_id=123456789 * 10**80))
    assert line.endswith("...)") and len(line) < 100


def test_validate_event_raises_pydantics_error_and_accepts_json():
    with pytest.raises(ValidationError):
        validate_event(raw_event(total_amount=1))
    event = create_order_event(ORDER)
    assert validate_event(event.model_dump_json()) == event
    assert validate_event(event.model_dump_json().encode()) == event


def test_create_order_event_refuses_invalid_orders():
    with pytest.raises(ValidationError) as info:
        create_order_event({**ORDER, "total_amount": 1})
    assert explain_validation_error(info.value) == [
        "(イベント全体): total_amount (1) が明細の合計 (3000) と一致しません"
    ]
    with pytest.raises(ValidationError) as info:
        create_order_event({k: v for k, v in ORDER.items() if k != "order_id"})
    assert explain_validation_error(info.value) == ["order_id: 必須の項目がありません"]


def test_v2_adds_currency_and_both_versions_read_each_other():
    old_event = raw_event()
    assert OrderEventV2.model_validate(old_event).currency == "JPY"  # new consumer, old event
    new_event = json.loads(OrderEventV2.model_validate({**old_event, "currency": "USD"}).model_dump_json())
    assert validate_event(new_event).order_id == "ORD-001"  # old consumer ignores currency


# --- hypothesis: valid orders always validate, mutations are always rejected ---

offsets = st.integers(-23 * 60 - 59, 23 * 60 + 59).map(lambda m: timezone(timedelta(minutes=m)))
items = st.lists(
    st.builds(
        dict,
        product_id=st.text(min_size=1, max_size=20),
        quantity=st.integers(1, 10_000),
        unit_price=st.integers(0, 1_000_000),
    ),
    min_size=1,
    max_size=5,
)


@st.composite
def valid_events(draw) -> dict:
    lines = draw(items)
    return {
        "event_type": draw(st.sampled_from(EventType)).value,
        "event_id": str(draw(st.uuids(version=4))),
        "timestamp": draw(st.datetimes(datetime(2000, 1, 1), datetime(2100, 1, 1), timezones=offsets)),
        "order_id": draw(st.text(min_size=1, max_size=20)),
        "customer_id": draw(st.text(min_size=1, max_size=20)),
        "items": lines,
        "total_amount": sum(line["quantity"] * line["unit_price"] for line in lines),
        "shipping_address": draw(st.none() | st.text(max_size=30)),
        "notes": draw(st.none() | st.text(max_size=30)),
    }


@given(valid_events())
def test_valid_orders_validate_and_round_trip_through_json(raw):
    event = validate_event(raw)
    assert event.total_amount == raw["total_amount"]
    text = event.model_dump_json()
    assert validate_event(json.loads(text)) == event
    assert validate_event(text) == event


@given(valid_events(), st.data())
def test_bad_quantity_is_always_rejected(raw, data):
    index = data.draw(st.integers(0, len(raw["items"]) - 1))
    raw["items"][index]["quantity"] = data.draw(st.integers(max_value=0))
    lines = problems(raw)
    assert any(line.startswith(f"items[{index}].quantity: 0 より大きい値が必要です") for line in lines)


@given(valid_events(), st.integers(-10**9, 10**9).filter(lambda d: d != 0))
def test_wrong_total_is_always_rejected(raw, delta):
    raw["total_amount"] = max(0, raw["total_amount"] + delta)
    if raw["total_amount"] == sum(i["quantity"] * i["unit_price"] for i in raw["items"]):
        raw["total_amount"] += 1  # max(0, ...) happened to land on the right sum
    assert len(problems(raw)) == 1


@given(valid_events())
def test_naive_timestamps_are_always_rejected(raw):
    raw["timestamp"] = raw["timestamp"].replace(tzinfo=None)
    assert problems(raw)[0].startswith("timestamp: タイムゾーン付きの日時が必要です")


# --- envelopes: aws-lambda-powertools and the hand-written code agree ----------


def eventbridge_event(detail: dict) -> dict:
    """What EventBridge hands to a Lambda target."""
    return {
        "version": "0",
        "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718",
        "detail-type": detail["event_type"],
        "source": "com.myapp.orders",
        "account": "123456789012",
        "time": "2024-01-01T00:00:00Z",
        "region": "ap-northeast-1",
        "resources": [],
        "detail": detail,
    }


def sqs_event(bodies: list[str]) -> dict:
    return {
        "Records": [
            {
                "messageId": str(uuid.uuid4()),
                "receiptHandle": "handle",
                "body": body,
                "attributes": {
                    "ApproximateReceiveCount": "1",
                    "SentTimestamp": "1704067200000",
                    "SenderId": "AIDAEXAMPLE",
                    "ApproximateFirstReceiveTimestamp": "1704067200001",
                },
                "messageAttributes": {},
                "md5OfBody": "0" * 32,
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:order-events",
                "awsRegion": "ap-northeast-1",
            }
            for body in bodies
        ]
    }


def test_powertools_eventbridge_envelope_and_hand_written_parse_agree():
    event = eventbridge_event(raw_event())
    by_library = parse(event=event, model=OrderEvent, envelope=envelopes.EventBridgeEnvelope)
    by_hand = validate_event(event["detail"])
    assert isinstance(by_library, OrderEvent)
    assert by_library == by_hand

    bad = eventbridge_event(raw_event(total_amount=1))
    with pytest.raises(ValidationError) as library_error:
        parse(event=bad, model=OrderEvent, envelope=envelopes.EventBridgeEnvelope)
    with pytest.raises(ValidationError) as hand_error:
        validate_event(bad["detail"])
    assert explain_validation_error(library_error.value) == explain_validation_error(hand_error.value)


def test_powertools_sqs_envelope_and_hand_written_parse_agree():
    bodies = [create_order_event(ORDER).model_dump_json() for _ in range(2)]
    event = sqs_event(bodies)
    by_library = parse(event=event, model=OrderEvent, envelope=envelopes.SqsEnvelope)
    by_hand = [validate_event(record["body"]) for record in event["Records"]]
    assert by_library == by_hand
