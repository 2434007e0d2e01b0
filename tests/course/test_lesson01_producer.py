"""The EventBridge producer: entries, batching (<= 10 per call, <= 1 MB), and retrying
only the entries that failed transiently."""
import json
from datetime import datetime

import pytest

from labs import sandbox
from labs.course.limits import EVENTBRIDGE_MAX_REQUEST_BYTES
from labs.sandbox import provision
from labs.course.producers.eventbridge import EventPublishError, batches, publish_order_event, put_events_in_batches

ORDER = {"order_id": "ORD-1", "customer_id": "CUST-1", "amount": 12000}


def entry(n, detail=None):
    return {"Source": "com.myapp.orders", "DetailType": "OrderCreated", "EventBusName": "orders-bus",
            "Detail": json.dumps(detail or {"orderId": f"ORD-{n}"})}


class ScriptedEvents:
    """put_events answering from a script: {entry index in its call: ErrorCode} per call."""

    def __init__(self, *failures_per_call):
        self.script = list(failures_per_call)
        self.calls = []

    def put_events(self, Entries):  # noqa: N803
        self.calls.append([json.loads(e["Detail"])["orderId"] for e in Entries])
        failing = self.script.pop(0) if self.script else {}
        results = [{"ErrorCode": failing[i], "ErrorMessage": "scripted"} if i in failing else {"EventId": f"id-{d}"}
                   for i, d in enumerate(self.calls[-1])]
        return {"FailedEntryCount": len(failing), "Entries": results}


@pytest.fixture
def bus_queue():
    provision.ensure_bus("orders-bus")
    queue = provision.ensure_queue("producer-test")
    provision.ensure_rule("orders-bus", "all-orders", event_pattern={"source": ["com.myapp.orders"]}, queue_url=queue)
    return queue


def received(queue):
    sqs = sandbox.client("sqs")
    out = []
    while messages := sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", []):
        out += [json.loads(m["Body"]) for m in messages]
        sqs.delete_message_batch(QueueUrl=queue, Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]}
                                                          for i, m in enumerate(messages)])
    return out


def test_publish_order_event_delivers_an_aware_timestamp_and_returns_the_event_id(bus_queue):
    event_id = publish_order_event(ORDER, "OrderCreated")
    [event] = received(bus_queue)
    assert event["id"] == event_id
    assert event["source"] == "com.myapp.orders" and event["detail-type"] == "OrderCreated"
    assert event["detail"]["orderId"] == "ORD-1" and event["detail"]["amount"] == 12000
    assert datetime.fromisoformat(event["detail"]["timestamp"]).utcoffset().total_seconds() == 0


def test_unknown_event_type_and_missing_fields_are_refused_before_sending():
    fake = ScriptedEvents()
    with pytest.raises(ValueError, match="OrderReturned"):
        publish_order_event(ORDER, "OrderReturned", events=fake)
    with pytest.raises(ValueError, match="customer_id"):
        publish_order_event({"order_id": "X", "amount": 1}, "OrderCreated", events=fake)
    assert fake.calls == []


def test_batches_split_at_ten_entries_and_at_the_request_size_limit():
    assert [len(g) for g in batches([entry(i) for i in range(23)])] == [10, 10, 3]
    # two of these fit under AWS's 1 MB per request (labs.course.limits), three do not
    pad = "x" * (EVENTBRIDGE_MAX_REQUEST_BYTES * 2 // 5)
    big = [entry(i, {"orderId": f"ORD-{i}", "pad": pad}) for i in range(5)]
    assert batches(big) == [[0, 1], [2, 3], [4]]


def test_25_entries_take_three_calls_and_all_arrive(bus_queue):
    ids = put_events_in_batches([entry(i) for i in range(25)])
    assert len(ids) == 25 and all(ids)
    assert sorted(e["detail"]["orderId"] for e in received(bus_queue)) == sorted(f"ORD-{i}" for i in range(25))


def test_only_transiently_failed_entries_are_retried():
    fake = ScriptedEvents({1: "ThrottlingException", 3: "InternalFailure"}, {})
    waits = []
    ids = put_events_in_batches([entry(i) for i in range(5)], events=fake, sleep=waits.append)
    assert fake.calls == [["ORD-0", "ORD-1", "ORD-2", "ORD-3", "ORD-4"], ["ORD-1", "ORD-3"]]
    assert ids == [f"id-ORD-{i}" for i in range(5)]
    assert len(waits) == 1 and 0 <= waits[0] <= 0.1


def test_permanent_failures_are_not_retried_and_are_reported_with_their_error_code(bus_queue):
    entries = [entry(0), {**entry(1), "Detail": "not json"}, entry(2)]
    with pytest.raises(EventPublishError) as caught:
        put_events_in_batches(entries, sleep=lambda s: pytest.fail("a permanent failure was retried"))
    error = caught.value
    assert [f["ErrorCode"] for f in error.failures] == ["MalformedDetail"]
    assert error.failures[0]["entry"] is entries[1]
    assert error.event_ids[0] and error.event_ids[1] is None and error.event_ids[2]
    assert "MalformedDetail" in str(error)
    assert len(received(bus_queue)) == 2  # the good entries went through


def test_retries_give_up_after_max_attempts_and_name_the_entry():
    fake = ScriptedEvents({0: "ThrottlingException"}, {0: "ThrottlingException"}, {0: "ThrottlingException"})
    with pytest.raises(EventPublishError, match="ThrottlingException") as caught:
        put_events_in_batches([entry(7)], events=fake, max_attempts=3, sleep=lambda s: None)
    assert len(fake.calls) == 3
    assert caught.value.failures[0]["entry"]["Detail"] == json.dumps({"orderId": "ORD-7"})


def test_an_entry_over_the_request_limit_is_refused_locally_and_the_rest_are_sent():
    fake = ScriptedEvents()
    huge = entry(1, {"orderId": "ORD-1", "pad": "x" * EVENTBRIDGE_MAX_REQUEST_BYTES})
    with pytest.raises(EventPublishError, match="EntryTooLarge"):
        put_events_in_batches([entry(0), huge], events=fake)
    assert fake.calls == [["ORD-0"]]


def test_publish_order_event_raises_with_the_error_code_of_its_entry():
    fake = ScriptedEvents({0: "AccessDeniedException"})  # permanent: no retry, no wait
    with pytest.raises(EventPublishError, match="AccessDeniedException"):
        publish_order_event(ORDER, "OrderShipped", events=fake)
    assert len(fake.calls) == 1
