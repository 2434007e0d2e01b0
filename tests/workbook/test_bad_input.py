"""A catalogue of bad input. Each case gets a clear error (in Japanese where a learner
reads it), the runtime keeps going (a good message sent after the bad one is still
processed), and nothing is lost (the bad message is in a DLQ or failure queue, or was
never sent at all)."""
import json
import re
from datetime import datetime, timezone

import boto3
import pytest
from botocore.exceptions import ClientError

from labs.course.limits import EVENTBRIDGE_MAX_REQUEST_BYTES
from labs.observe import ledger
from labs.sandbox import provision
from labs.course.consumers import validated
from labs.observe import recorder
from labs.course.producers.eventbridge import EventPublishError, put_events_in_batches
from labs.runtime import LocalRuntime
from labs.course.schema import validate_event_or_explain
from labs.workbook.checks import check, evaluate, load_all

JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def order_event(**changes) -> dict:
    event = {
        "event_type": "OrderCreated",
        "event_id": "e-1",
        "timestamp": datetime(2024, 1, 1, 9, tzinfo=timezone.utc).isoformat(),
        "order_id": "o-1",
        "customer_id": "c-1",
        "items": [{"product_id": "p-1", "quantity": 2, "unit_price": 500}],
        "total_amount": 1000,
    }
    event.update(changes)
    return {k: v for k, v in event.items() if v is not None}


def eventbridge_body(detail: dict) -> str:
    return json.dumps({"version": "0", "id": "x", "detail-type": detail.get("event_type", "OrderCreated"),
                       "source": "com.myapp.orders", "detail": detail})


# --- SQS -> the validating consumer (labs.course.consumers.validated) ---------------------------------

class ValidatedPipeline:
    """queue (DLQ after 2 receives) -> validated.make_handler; remembers what it processed."""

    def __init__(self):
        self.url = provision.ensure_queue("orders-queue", dead_letter_queue="orders-dlq", max_receive_count=2)
        self.processed, self.rejections = [], []
        self.runtime = LocalRuntime()
        self.runtime.on_queue(self.url, validated.make_handler(
            process=lambda event: self.processed.append(event.order_id), on_invalid=self.rejections.append),
            function_name="validated")

    def run(self, bad_body: str) -> str:
        """Send the bad body, then a good one; drain; return the first rejection's reason."""
        sqs = boto3.client("sqs")
        sqs.send_message(QueueUrl=self.url, MessageBody=bad_body)
        sqs.send_message(QueueUrl=self.url, MessageBody=eventbridge_body(order_event(order_id="good")))
        self.runtime.run_until_quiet()
        assert self.processed == ["good"]  # the runtime kept going
        dead = ledger.peek(provision.ensure_queue("orders-dlq"))
        assert [m["Body"] for m in dead] == [bad_body]  # nothing lost: it waits in the DLQ
        assert len(self.rejections) == 2  # rejected on both receives, with the reason logged
        reason = " / ".join(self.rejections[0].problems)
        assert JAPANESE.search(reason), reason
        return reason


@pytest.fixture
def validated_pipeline():
    return ValidatedPipeline()


def test_non_json_body(validated_pipeline):
    assert "JSON として読めません" in validated_pipeline.run("this is not json {")


def test_json_that_is_not_an_object(validated_pipeline):
    assert "EventBridge のイベントではありません" in validated_pipeline.run("[1, 2, 3]")


def test_wrong_envelope_an_sns_notification_where_an_eventbridge_event_is_expected(validated_pipeline):
    sns_envelope = json.dumps({"Type": "Notification", "MessageId": "m", "Message": json.dumps(order_event())})
    assert "detail がありません" in validated_pipeline.run(sns_envelope)


def test_missing_field(validated_pipeline):
    reason = validated_pipeline.run(eventbridge_body(order_event(customer_id=None)))
    assert "customer_id: 必須の項目がありません" in reason


def test_mistyped_field(validated_pipeline):
    bad = order_event(items=[{"product_id": "p-1", "quantity": "2", "unit_price": 500}])
    assert "items[0].quantity: 整数が必要です" in validated_pipeline.run(eventbridge_body(bad))


def test_unknown_event_type(validated_pipeline):
    reason = validated_pipeline.run(eventbridge_body(order_event(event_type="OrderExploded")))
    assert "event_type" in reason and "のいずれかが必要です" in reason


def test_detail_type_that_contradicts_the_event(validated_pipeline):
    body = json.loads(eventbridge_body(order_event()))
    body["detail-type"] = "OrderCancelled"
    assert "一致しません" in validated_pipeline.run(json.dumps(body))


# --- SNS -> Lambda (asynchronous invocation: retries, then the on-failure destination) -------------

def sns_pipeline():
    topic = provision.ensure_topic("order-events")
    processed = []

    def notify(event, context):
        message = event["Records"][0]["Sns"]["Message"]
        processed.append(validate_event_or_explain(message).order_id)

    runtime = LocalRuntime()
    source = runtime.on_topic(topic, notify, on_failure=provision.ensure_queue("failures"))
    return topic, runtime, source, processed


def failure_queue_bodies(source) -> list:
    """The events (requestPayload) of the invocation records in the on-failure queue."""
    return [json.loads(m["Body"])["requestPayload"] for m in ledger.peek(provision.ensure_queue("failures"))]


def invoke_errors(function_name="notify") -> list[str]:
    return [r.detail for r in recorder.select(kind="invoke", target=function_name) if r.outcome == "error"]


def test_sns_envelope_whose_message_is_broken():
    topic, runtime, source, processed = sns_pipeline()
    sns = boto3.client("sns")
    sns.publish(TopicArn=topic, Message="{not json")
    sns.publish(TopicArn=topic, Message=json.dumps(order_event(order_id="good")))
    runtime.run_until_quiet()
    assert processed == ["good"]
    errors = invoke_errors()
    assert len(errors) == 3 and "JSON として読めません" in errors[0]  # first try + two retries
    assert len(failure_queue_bodies(source)) == 1


def test_raw_body_where_an_sns_envelope_is_expected():
    topic, runtime, source, processed = sns_pipeline()
    boto3.client("sqs").send_message(QueueUrl=source.queue_url, MessageBody=json.dumps(order_event()))
    runtime.run_until_quiet()
    errors = [r.detail for r in recorder.select(kind="invoke") if r.outcome == "error"]
    assert errors and "形が想定と違います" in errors[0] and "TopicArn" in errors[0]
    assert len(failure_queue_bodies(source)) == 1 and processed == []


def test_non_json_body_on_an_eventbridge_rule_target():
    provision.ensure_bus("orders-bus")
    provision.ensure_rule("orders-bus", "all-orders", event_pattern={"source": ["com.myapp.orders"]})
    runtime = LocalRuntime()
    source = runtime.on_rule("orders-bus", "all-orders", lambda event, context: None, function_name="audit",
                             on_failure=provision.ensure_queue("failures"))
    boto3.client("sqs").send_message(QueueUrl=source.queue_url, MessageBody="garbage")
    runtime.run_until_quiet()
    errors = [r.detail for r in recorder.select(kind="invoke") if r.outcome == "error"]
    assert errors and "メッセージ本文が JSON ではありません" in errors[0]
    assert failure_queue_bodies(source) == ["garbage"]


# --- batches --------------------------------------------------------------------------------------

def test_empty_batches_are_neither_sent_nor_handed_to_a_handler():
    url = provision.ensure_queue("orders-queue")
    with pytest.raises(ClientError, match="EmptyBatchRequest"):
        boto3.client("sqs").send_message_batch(QueueUrl=url, Entries=[])
    assert put_events_in_batches([]) == []  # nothing to send: no call at all
    handler = validated.make_handler()
    assert handler({"Records": []}, None) == {"batchItemFailures": []}
    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="validated")
    assert runtime.run_until_quiet() == 0  # an empty queue never invokes the function


def test_batch_item_failures_naming_an_unknown_message():
    url = provision.ensure_queue("orders-queue", dead_letter_queue="orders-dlq", max_receive_count=2)
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody="a")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda event, context: {"batchItemFailures": [{"itemIdentifier": "no-such-id"}]},
                     function_name="confused")
    runtime.run_until_quiet()
    errors = [r.detail for r in recorder.select(kind="invoke") if r.outcome == "error"]
    assert errors and "不正な itemIdentifier" in errors[0]
    assert [m["Body"] for m in ledger.peek(provision.ensure_queue("orders-dlq"))] == ["a"]  # retried, not lost


def test_batch_item_failures_of_the_wrong_shape():
    url = provision.ensure_queue("orders-queue", dead_letter_queue="orders-dlq", max_receive_count=2)
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody="a")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda event, context: {"batchItemFailures": "everything"}, function_name="confused")
    runtime.run_until_quiet()
    errors = [r.detail for r in recorder.select(kind="invoke") if r.outcome == "error"]
    assert errors and "batchItemFailures の形が不正です" in errors[0]
    assert len(ledger.peek(provision.ensure_queue("orders-dlq"))) == 1


def test_batch_size_out_of_range():
    url = provision.ensure_queue("orders-queue")
    with pytest.raises(ValueError, match="batch_size は 1〜10"):
        LocalRuntime().on_queue(url, validated.lambda_handler, batch_size=11)


# --- oversize messages ---------------------------------------------------------------------------

def test_oversize_event_is_refused_by_the_producer_and_the_rest_are_sent():
    provision.ensure_bus("orders-bus")
    huge = {"Source": "com.myapp.orders", "DetailType": "OrderCreated", "EventBusName": "orders-bus",
            "Detail": json.dumps({"notes": "x" * EVENTBRIDGE_MAX_REQUEST_BYTES})}
    fine = {**huge, "Detail": json.dumps({"notes": "ok"})}
    with pytest.raises(EventPublishError) as caught:
        put_events_in_batches([huge, fine])
    failure = caught.value.failures[0]
    assert failure["ErrorCode"] == "EntryTooLarge" and "バイトを超えています" in failure["ErrorMessage"]
    assert caught.value.event_ids[1]  # the other entry went out


def test_oversize_sqs_message_is_refused_before_it_is_stored():
    url = provision.ensure_queue("orders-queue", attributes={"MaximumMessageSize": "262144"})
    with pytest.raises(ClientError, match="shorter than 262144 bytes"):
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody="x" * 262_145)
    assert ledger.peek(url) == []


# --- invalid event patterns and filter policies -------------------------------------------------

def test_invalid_event_pattern():
    provision.ensure_bus("orders-bus")
    with pytest.raises(ValueError, match="ルール broken を作れません") as caught:
        provision.ensure_rule("orders-bus", "broken", event_pattern={"source": "com.myapp.orders"})
    assert "must be an object or an array" in str(caught.value)  # AWS's own reason is kept
    assert isinstance(caught.value.__cause__, ClientError)
    rules = boto3.client("events").list_rules(EventBusName="orders-bus")["Rules"]
    assert [r["Name"] for r in rules] == []  # nothing half-made


def test_invalid_filter_policy():
    topic = provision.ensure_topic("order-events")
    queue = provision.ensure_queue("inventory-queue")
    with pytest.raises(ValueError, match="フィルターポリシーが不正です") as caught:
        provision.ensure_subscription(topic, queue, filter_policy={"amount": [{"numeric": [">", "many"]}]})
    assert caught.value.__cause__.response["Error"]["Code"] == "InvalidParameter"
    # nothing half-made: no unfiltered subscription left behind to receive everything
    assert boto3.client("sns").list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


# --- wrong exercise answers ---------------------------------------------------------------------

EXERCISES = sorted(load_all())


def _raises(*args, **kwargs):
    raise RuntimeError("わざと失敗")


@pytest.mark.parametrize("id", EXERCISES)
def test_exercise_answer_of_the_wrong_type(id):
    outcome = evaluate(id, "a string, not a function")
    assert outcome.status == "failed" and JAPANESE.search(outcome.reason), outcome


@pytest.mark.parametrize("id", EXERCISES)
def test_exercise_answer_that_raises(id):
    outcome = evaluate(id, _raises)
    assert outcome.status == "failed" and JAPANESE.search(outcome.reason), outcome


@pytest.mark.parametrize("id", EXERCISES)
def test_exercise_answer_that_returns_none(id):
    outcome = evaluate(id, lambda *args, **kwargs: None)
    assert outcome.status == "failed" and JAPANESE.search(outcome.reason), outcome


def test_a_failed_check_says_why_and_the_notebook_goes_on_with_the_reference(capsys):
    id = EXERCISES[0]
    used = check(id, _raises)
    out = capsys.readouterr().out
    assert "❌ 不合格" in out and "わざと失敗" in out and "参照実装で続けます" in out
    assert used is load_all()[id].reference
