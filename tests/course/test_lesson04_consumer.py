"""The validating consumer (演習4): invalid events become batch failures, then the DLQ."""
import json

import pytest
from pydantic import Field

from labs import sandbox
from labs.course.consumers.validated import Rejection, make_handler, parse_record
from labs.observe import recorder
from labs.course.producers.validated import publish_validated_event, publish_validated_order_event
from labs.course.names import ORDERS_BUS
from labs.sandbox.provision import ensure_bus, ensure_queue, ensure_rule
from labs.runtime import LocalRuntime
from labs.course.schema import EventValidationError, OrderEvent, OrderEventV2, create_order_event

ORDER = {
    "order_id": "ORD-001",
    "customer_id": "CUST-001",
    "items": [{"product_id": "P-1", "quantity": 2, "unit_price": 1500}],
    "total_amount": 3000,
}
QUEUE, DLQ = "order-validation-queue", "order-validation-dlq"


def raw_event(**changes) -> dict:
    return {**json.loads(create_order_event(ORDER).model_dump_json()), **changes}


def put_unchecked(detail: dict | str, detail_type: str = "OrderCreated") -> None:
    """A careless producer: plain put_events, no validation."""
    sandbox.client("events").put_events(Entries=[{
        "Source": "com.myapp.orders", "DetailType": detail_type, "EventBusName": ORDERS_BUS,
        "Detail": detail if isinstance(detail, str) else json.dumps(detail),
    }])


@pytest.fixture
def wired():
    ensure_bus(ORDERS_BUS)
    url = ensure_queue(QUEUE, dead_letter_queue=DLQ, max_receive_count=3)
    ensure_rule(ORDERS_BUS, "orders-to-validation", event_pattern={"source": ["com.myapp.orders"]}, queue_url=url)
    recorder.clear()
    return url


def run(url, model=OrderEvent):
    processed, rejections = [], []
    runtime = LocalRuntime()
    runtime.on_queue(url, make_handler(model, process=processed.append, on_invalid=rejections.append),
                     function_name="order_validator")
    runtime.run_until_quiet()
    return processed, rejections


def dlq_bodies() -> list[dict]:
    sqs = sandbox.client("sqs")
    url = sqs.get_queue_url(QueueName=DLQ)["QueueUrl"]
    return [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", [])]


def sqs_event(*bodies: str) -> dict:
    return {"Records": [{"messageId": f"m{i}", "body": body, "attributes": {"ApproximateReceiveCount": "1"}}
                        for i, body in enumerate(bodies)]}


def envelope(detail, detail_type="OrderCreated") -> str:
    return json.dumps({"version": "0", "id": "x", "detail-type": detail_type, "source": "com.myapp.orders",
                       "time": "2024-01-01T00:00:00Z", "region": "ap-northeast-1", "resources": [], "detail": detail})


# --- the handler alone ----------------------------------------------------------------

def test_invalid_records_are_reported_and_valid_ones_processed():
    processed, rejections = [], []
    handler = make_handler(process=processed.append, on_invalid=rejections.append)
    event = sqs_event(envelope(raw_event()), envelope(raw_event(total_amount=5)), "{not json",
                      json.dumps({"order_id": "no envelope"}), envelope(raw_event()))
    result = handler(event, None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}, {"itemIdentifier": "m2"}, {"itemIdentifier": "m3"}]}
    assert len(processed) == 2 and all(isinstance(e, OrderEvent) for e in processed)
    assert [r.message_id for r in rejections] == ["m1", "m2", "m3"]
    assert rejections[0].problems == ["(イベント全体): total_amount (5) が明細の合計 (3000) と一致しません"]
    assert rejections[1].problems[0].startswith("(メッセージ本文): JSON として読めません")
    assert rejections[2].problems == ["(メッセージ本文): EventBridge のイベントではありません (detail がありません)"]


def test_all_valid_returns_an_empty_failure_list_never_status_code():
    assert make_handler(process=lambda e: None)(sqs_event(envelope(raw_event())), None) == {"batchItemFailures": []}


def test_a_processing_error_fails_only_its_record():
    def process(event):
        if event.customer_id == "CUST-BAD":
            raise RuntimeError("在庫サービスが応答しません")

    handler = make_handler(process=process)
    result = handler(sqs_event(envelope(raw_event(customer_id="CUST-BAD")), envelope(raw_event())), None)
    assert result == {"batchItemFailures": [{"itemIdentifier": "m0"}]}


def test_parse_record_explains_field_by_field_and_checks_detail_type():
    record = {"body": envelope(raw_event(order_id="", items=[{"product_id": "P-1", "quantity": -1, "unit_price": 1}]))}
    with pytest.raises(EventValidationError) as info:
        parse_record(record)
    assert info.value.problems == ["order_id: 1 文字以上の文字列が必要です (入力: '')",
                                   "items[0].quantity: 0 より大きい値が必要です (入力: -1)"]
    with pytest.raises(EventValidationError, match="detail-type: event_type \\(OrderCreated\\) と一致しません"):
        parse_record({"body": envelope(raw_event(), detail_type="OrderShipped")})


def test_invalid_events_are_logged_in_japanese(caplog):
    caplog.set_level("WARNING", logger="labs.course.consumers.validated")
    make_handler()(sqs_event(envelope(raw_event(total_amount=5))), None)
    assert "m0 (受信 1 回目): (イベント全体): total_amount (5) が明細の合計 (3000) と一致しません" in caplog.text


# --- in the sandbox: rule -> queue -> handler -> DLQ ----------------------------------------

def test_invalid_event_ends_in_the_dlq_after_max_receive_count(wired):
    publish_validated_order_event(ORDER)
    put_unchecked(raw_event(total_amount=999))
    processed, rejections = run(wired)

    assert [e.order_id for e in processed] == ["ORD-001"]  # the valid one, once
    assert [r.receive_count for r in rejections] == [1, 2, 3]
    assert {r.message_id for r in rejections} == {rejections[0].message_id}
    invokes = recorder.select(kind="invoke")
    assert [(r.outcome, r.count) for r in invokes] == [("partial", 2), ("partial", 1), ("partial", 1)]
    [moved] = recorder.select(kind="dlq")
    assert (moved.source, moved.target) == (QUEUE, DLQ)
    [body] = dlq_bodies()
    assert body["detail"]["total_amount"] == 999  # kept whole, to be read and fixed
    assert sandbox.client("sqs").get_queue_attributes(
        QueueUrl=wired, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    )["Attributes"] == {"ApproximateNumberOfMessages": "0", "ApproximateNumberOfMessagesNotVisible": "0"}


def test_a_rejected_producer_event_never_reaches_the_consumer(wired):
    with pytest.raises(EventValidationError):
        publish_validated_order_event({**ORDER, "total_amount": 1})
    processed, rejections = run(wired)
    assert processed == [] and rejections == [] and recorder.select(kind="invoke") == []
    assert dlq_bodies() == []


def test_old_consumer_reads_new_events_and_new_consumer_reads_old_ones(wired):
    publish_validated_event({**raw_event(), "currency": "USD"}, model=OrderEventV2)  # a v2 producer
    processed, rejections = run(wired, OrderEvent)  # a v1 consumer
    assert rejections == [] and [type(e) for e in processed] == [OrderEvent]

    publish_validated_order_event(ORDER)  # a v1 producer
    processed, rejections = run(wired, OrderEventV2)  # a v2 consumer
    assert rejections == [] and [e.currency for e in processed] == ["JPY"]


def test_a_breaking_change_sends_old_events_to_the_dlq(wired):
    class OrderEventRequiredCurrency(OrderEvent):
        currency: str = Field(min_length=3)  # required: v1 events do not have it

    publish_validated_order_event(ORDER)
    processed, rejections = run(wired, OrderEventRequiredCurrency)
    assert processed == []
    assert rejections[-1].problems == ["currency: 必須の項目がありません"] and len(rejections) == 3
    assert len(dlq_bodies()) == 1


def test_rejection_describe():
    r = Rejection("m-1", 2, ["a: b", "c: d"], "{}")
    assert r.describe() == "m-1 (受信 2 回目): a: b / c: d"
