"""labs.course.consumers.idempotent under duplicate delivery: the naive consumer applies a
duplicate twice; the conditional-write and Powertools consumers apply it once."""
import json
import uuid

import pytest

from labs import sandbox
from labs.sandbox import provision
from labs.course.consumers import idempotent
from labs.runtime import LambdaContext, LocalRuntime

IDEMPOTENT_HANDLERS = [idempotent.lambda_handler, idempotent.powertools_handler]


@pytest.fixture(autouse=True)
def tables():
    for name, key in idempotent.TABLES.items():
        provision.ensure_table(name, key)


def order(event_id, customer="CUST-1", amount=1200):
    return {"event_id": event_id, "event_type": "OrderCreated", "order_id": f"ORD-{event_id}",
            "customer_id": customer, "amount": amount}


def sqs_event(*deliveries):
    """An SQS event; each delivery is (messageId, event dict or raw body)."""
    return {"Records": [
        {"messageId": message_id, "receiptHandle": "rh", "body": body if isinstance(body, str) else json.dumps(body),
         "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "x",
         "eventSource": "aws:sqs", "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:q", "awsRegion": "ap-northeast-1"}
        for message_id, body in deliveries
    ]}


def context():
    return LambdaContext(function_name="points")


def test_the_naive_consumer_applies_a_duplicate_twice():
    event = order("e1")
    idempotent.naive_handler(sqs_event(("m1", event)), context())
    idempotent.naive_handler(sqs_event(("m1", event)), context())  # SQS delivered it again
    assert idempotent.points_of("CUST-1") == 24  # 12 points, twice


@pytest.mark.parametrize("handler", IDEMPOTENT_HANDLERS, ids=lambda h: h.__name__)
def test_duplicates_have_their_effect_once(handler):
    e1, e2 = order("e1", amount=1200), order("e2", amount=500)
    results = [
        handler(sqs_event(("m1", e1), ("m1", e1), ("m2", e2)), context()),  # twice in one batch
        handler(sqs_event(("m1", e1)), context()),  # again in a later batch
        handler(sqs_event(("m9", e1)), context()),  # a producer's retry: new messageId, same event
    ]
    assert all(r == {"batchItemFailures": []} for r in results)  # a duplicate is a success, not a failure
    assert idempotent.points_of("CUST-1") == 12 + 5


def test_both_idempotent_consumers_agree_on_a_mixed_batch():
    batch = [("m1", order("e1")), ("m2", "not json"), ("m3", order("e1")), ("m4", {"event_id": "e4"}),
             ("m5", order("e5", customer="CUST-2", amount=999))]
    answers = {}
    for handler, customers in ((idempotent.lambda_handler, ("A", "B")), (idempotent.powertools_handler, ("C", "D"))):
        renamed = [(m, {**b, "event_id": f"{customers[0]}-{b['event_id']}",
                        "customer_id": {"CUST-1": customers[0], "CUST-2": customers[1]}[b["customer_id"]]}
                    if isinstance(b, dict) and "customer_id" in b else b) for m, b in batch]
        answers[handler.__name__] = (handler(sqs_event(*renamed), context()),
                                     [idempotent.points_of(c) for c in customers])
    assert answers["lambda_handler"] == answers["powertools_handler"]
    failures, points = answers["lambda_handler"]
    assert failures == {"batchItemFailures": [{"itemIdentifier": "m2"}, {"itemIdentifier": "m4"}]}
    assert points == [12, 9]


def test_conditional_write_records_the_event_and_the_effect_together():
    assert idempotent.award_points_once(order("e1")) is True
    assert idempotent.award_points_once(order("e1")) is False
    item = sandbox.client("dynamodb").get_item(TableName=idempotent.PROCESSED_TABLE,
                                               Key={"event_id": {"S": "e1"}})["Item"]
    assert item["customer_id"]["S"] == "CUST-1"
    assert idempotent.points_of("CUST-1") == 12


def test_a_real_failure_is_not_mistaken_for_a_duplicate():
    sandbox.client("dynamodb").delete_table(TableName=idempotent.POINTS_TABLE)
    result = idempotent.lambda_handler(sqs_event(("m1", order("e1"))), context())
    assert result == {"batchItemFailures": [{"itemIdentifier": "m1"}]}  # SQS will retry it
    provision.ensure_table(idempotent.POINTS_TABLE, "customer_id")
    assert idempotent.lambda_handler(sqs_event(("m1", order("e1"))), context()) == {"batchItemFailures": []}
    assert idempotent.points_of("CUST-1") == 12  # the failed attempt left no half-done record


def test_powertools_keeps_a_completed_record_with_the_result():
    idempotent.powertools_handler(sqs_event(("m1", order("e1"))), context())
    items = sandbox.client("dynamodb").scan(TableName=idempotent.IDEMPOTENCY_TABLE)["Items"]
    assert len(items) == 1
    assert items[0]["status"]["S"] == "COMPLETED"
    assert json.loads(items[0]["data"]["S"]) == {"customer_id": "CUST-1", "points_added": 12}


@pytest.mark.parametrize("body, reason", [
    ("not json", "JSON ではありません"),
    ("[1, 2]", "JSON オブジェクトではありません"),
    (json.dumps({"event_id": "e1", "customer_id": "C"}), "amount がありません"),
    (json.dumps({"event_id": "e1", "customer_id": "C", "amount": "1200"}), "0 以上の整数"),
])
def test_bad_events_are_refused_with_a_clear_reason(body, reason):
    with pytest.raises(ValueError, match=reason):
        idempotent.parse_order_event(body)


def test_parse_order_event_opens_an_sns_envelope():
    envelope = {"Type": "Notification", "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:t",
                "Message": json.dumps(order("e1"))}
    assert idempotent.parse_order_event(json.dumps(envelope))["event_id"] == "e1"


@pytest.mark.parametrize("handler", [idempotent.naive_handler] + IDEMPOTENT_HANDLERS, ids=lambda h: h.__name__)
def test_through_the_runtime_with_a_duplicate_on_the_queue(handler):
    """End to end: a producer retry puts the same event on the queue twice."""
    url = provision.ensure_queue(f"points-{uuid.uuid4().hex[:8]}")
    sqs = sandbox.client("sqs")
    for event in (order("e1"), order("e2", amount=300), order("e1")):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps(event))
    runtime = LocalRuntime()
    runtime.on_queue(url, handler, batch_size=2)
    runtime.run_until_quiet()
    expected = 12 + 3 + (12 if handler is idempotent.naive_handler else 0)
    assert idempotent.points_of("CUST-1") == expected


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_under_realistic_delivery_only_the_naive_consumer_double_counts(seed):
    """labs.runtime.delivery.RealisticDelivery: reordered batches and redelivered messages, seeded."""
    from labs.runtime.delivery import RealisticDelivery
    from labs.observe import recorder

    events = [order(f"e{i}", customer=f"CUST-{i % 3}", amount=100 * (i + 1)) for i in range(12)]
    expected = {}
    for event in events:
        expected[event["customer_id"]] = expected.get(event["customer_id"], 0) + idempotent.points_for(event)
    totals = {}
    for handler in [idempotent.naive_handler] + IDEMPOTENT_HANDLERS:
        prefix = handler.__name__ + ":"
        url = provision.ensure_queue("points-realistic")  # same queue and seed: the same deliveries for each
        for event in events:
            body = {**event, "event_id": prefix + event["event_id"], "customer_id": prefix + event["customer_id"]}
            sandbox.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(body))
        recorder.clear()
        runtime = LocalRuntime(delivery=RealisticDelivery(seed=seed, duplicate_rate=0.5))
        runtime.on_queue(url, handler, batch_size=5)
        runtime.run_until_quiet()
        duplicates = sum(r.count for r in recorder.select(kind="deliver") if r.outcome == "duplicate")
        assert duplicates > 0  # the mode did redeliver
        totals[handler.__name__] = {c: idempotent.points_of(prefix + c) for c in expected}
    assert totals["lambda_handler"] == totals["powertools_handler"] == expected
    assert totals["naive_handler"] != expected
    assert all(totals["naive_handler"][c] >= expected[c] for c in expected)
