"""The validating producer (演習4): an invalid event is refused before anything is sent."""
import json

import pytest

from labs import sandbox
from labs.observe import recorder
from labs.course.producers.validated import (
    EventRejectedError,
    validated_event_entry,
    publish_validated_event,
    publish_validated_order_event,
)
from labs.course.names import ORDERS_BUS
from labs.sandbox.provision import ensure_bus, ensure_queue, ensure_rule
from labs.course.schema import EventType, EventValidationError, OrderEventV2, create_order_event

ORDER = {
    "order_id": "ORD-001",
    "customer_id": "CUST-001",
    "items": [{"product_id": "P-1", "quantity": 2, "unit_price": 1500}],
    "total_amount": 3000,
}


@pytest.fixture
def bus_queue():
    """orders-bus with a rule that copies every order event to a queue we can read."""
    ensure_bus(ORDERS_BUS)
    url = ensure_queue("all-orders")
    ensure_rule(ORDERS_BUS, "all-orders", event_pattern={"source": ["com.myapp.orders"]}, queue_url=url)
    recorder.clear()
    return url


def delivered(url) -> list[dict]:
    messages = sandbox.client("sqs").receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])
    return [json.loads(m["Body"]) for m in messages]


def assert_nothing_sent(url):
    assert recorder.select(kind="publish") == []
    assert delivered(url) == []


def test_valid_order_is_published_with_its_event_type(bus_queue):
    event = publish_validated_order_event(ORDER, EventType.ORDER_SHIPPED)
    [publish] = recorder.select(kind="publish")
    assert (publish.target, publish.outcome) == ("orders-bus", "ok")
    [body] = delivered(bus_queue)
    assert body["source"] == "com.myapp.orders" and body["detail-type"] == "OrderShipped"
    assert body["detail"]["event_id"] == event.event_id
    assert body["detail"]["timestamp"].endswith("Z")  # aware UTC on the wire


@pytest.mark.parametrize(
    "order, expected",
    [
        ({**ORDER, "items": [{"product_id": "P-1", "quantity": 0, "unit_price": 1500}]},
         ["items[0].quantity: 0 より大きい値が必要です (入力: 0)"]),
        ({**ORDER, "total_amount": 1}, ["(イベント全体): total_amount (1) が明細の合計 (3000) と一致しません"]),
        ({k: v for k, v in ORDER.items() if k != "customer_id"}, ["customer_id: 必須の項目がありません"]),
        ({**ORDER, "items": []}, ["items: 1 件以上の要素が必要です (入力: [])"]),
    ],
)
def test_invalid_order_is_refused_in_japanese_and_nothing_is_sent(bus_queue, order, expected):
    with pytest.raises(EventRejectedError) as info:
        publish_validated_order_event(order)
    assert info.value.problems == expected
    assert str(info.value).startswith("送信を中止しました (何も送信していません)。イベントが不正です (1 件):")
    assert isinstance(info.value, EventValidationError) and isinstance(info.value, ValueError)
    assert_nothing_sent(bus_queue)


def test_unknown_event_type_is_refused(bus_queue):
    with pytest.raises(EventRejectedError) as info:
        publish_validated_order_event(ORDER, "OrderLost")
    assert info.value.problems[0].startswith("event_type: OrderCreated, OrderShipped, OrderCancelled のいずれか")
    assert_nothing_sent(bus_queue)


def test_an_event_changed_after_it_was_built_is_revalidated(bus_queue):
    event = create_order_event(ORDER)
    event.total_amount = 1  # Pydantic does not validate assignments by default
    with pytest.raises(EventRejectedError, match="total_amount"):
        publish_validated_event(event)
    assert_nothing_sent(bus_queue)


def test_raw_dicts_and_json_are_validated_too(bus_queue):
    raw = json.loads(create_order_event(ORDER).model_dump_json())
    with pytest.raises(EventRejectedError) as info:
        publish_validated_event({**raw, "timestamp": "2024-01-01T00:00:00"})
    assert info.value.problems[0].startswith("timestamp: タイムゾーン付きの日時が必要です")
    with pytest.raises(EventRejectedError, match="JSON として読めません"):
        publish_validated_event("{not json")
    assert_nothing_sent(bus_queue)
    publish_validated_event(json.dumps(raw))
    assert [b["detail"]["order_id"] for b in delivered(bus_queue)] == ["ORD-001"]


def test_a_v2_producer_validates_against_v2(bus_queue):
    raw = json.loads(create_order_event(ORDER).model_dump_json())
    publish_validated_event({**raw, "currency": "USD"}, model=OrderEventV2)
    [body] = delivered(bus_queue)
    assert body["detail"]["currency"] == "USD"
    with pytest.raises(EventRejectedError, match="currency: 文字列が必要です"):
        publish_validated_event({**raw, "currency": 840}, model=OrderEventV2)


def test_event_entry_is_a_plain_put_events_entry():
    entry = validated_event_entry(create_order_event(ORDER, EventType.ORDER_CANCELLED))
    assert set(entry) == {"Source", "DetailType", "Detail", "EventBusName"}
    assert entry["DetailType"] == "OrderCancelled" and entry["EventBusName"] == "orders-bus"
    assert json.loads(entry["Detail"])["total_amount"] == 3000


def test_missing_bus_is_an_error_not_silence():
    with pytest.raises(Exception) as info:  # ResourceNotFoundException from EventBridge
        publish_validated_order_event(ORDER, bus="no-such-bus")
    assert "ResourceNotFound" in type(info.value).__name__ + str(info.value)
