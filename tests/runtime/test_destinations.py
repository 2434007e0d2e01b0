"""Asynchronous invocations that fail (or succeed) end where AWS sends them, in AWS's records.

Sources:
[DOC]  lambda/latest/dg/invocation-async-retain-records.html (record fields; destinations SQS, SNS,
       Lambda, EventBridge; DLQ attributes RequestID String, ErrorCode Number, ErrorMessage String
       truncated to 1 KB; without a destination or DLQ the event is discarded:
       lambda/latest/dg/invocation-async-error-handling.html)
[LS]   localstack/localstack tests/aws/services/lambda_/test_lambda_destinations.snapshot.json, recorded
       against AWS: test_retries (RetriesExhausted, approximateInvokeCount 3), test_assess_lambda_destination_invocation
       [payload0] (Success, no functionError, MaximumRetryAttempts 0) and [payload1] (RetriesExhausted, count 1),
       test_maxeventage (EventAgeExceeded with count 1 and 2), test_dead_letter_queue (body = the event;
       ErrorCode Number "200"; ErrorMessage = the exception's message; RequestID).
[DDB]  lambda/latest/dg/with-ddb.html on-failure record, and test_lambda_integration_dynamodbstreams.snapshot.json
       test_dynamodb_event_source_mapping_with_on_failure_destination_config (recorded against AWS).
[EB]   aws.amazon.com/blogs/compute/introducing-aws-lambda-destinations: to an event bus, source "lambda",
       detail-type "Lambda Function Invocation Result - Success|Failure", the record as detail.
"""
import json
import re

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SnsModel

from labs import sandbox
from labs.observe import recorder
from labs.observe.queues import peek
from labs.runtime import LocalRuntime
from labs.sandbox import provision

ISO_MS = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")


def orders_rule() -> None:
    provision.ensure_bus("orders-bus")
    provision.ensure_rule("orders-bus", "all", event_pattern={"source": ["shop"]})


def rule(*details, handler, **settings) -> LocalRuntime:
    orders_rule()
    runtime = LocalRuntime()
    runtime.on_rule("orders-bus", "all", handler, **settings)
    boto3.client("events").put_events(Entries=[
        {"Source": "shop", "DetailType": "T", "Detail": json.dumps(d), "EventBusName": "orders-bus"} for d in details])
    runtime.run_until_quiet()
    return runtime


def failing(seen: list):
    def handler(event, context):
        seen.append((event, context.aws_request_id))
        raise Exception("intentional failure")
    return handler


def records(queue_url) -> list[dict]:
    return [json.loads(m["Body"]) for m in peek(queue_url)]


def test_on_failure_record_after_retries_is_aws_record():
    failures = provision.ensure_queue("failures")
    seen = []
    rule({"n": 1}, handler=failing(seen), function_name="orders", on_failure=failures)
    [record] = records(failures)
    assert list(record) == ["version", "timestamp", "requestContext", "requestPayload", "responseContext",
                            "responsePayload"]  # [LS] test_retries, key for key, in order
    assert record["version"] == "1.0" and ISO_MS.match(record["timestamp"])
    context = record["requestContext"]
    assert context["condition"] == "RetriesExhausted" and context["approximateInvokeCount"] == 3
    assert context["functionArn"] == "arn:aws:lambda:ap-northeast-1:123456789012:function:orders:$LATEST"
    assert record["requestPayload"] == seen[0][0]  # the event the handler received
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    payload = record["responsePayload"]
    assert payload["errorMessage"] == "intentional failure" and payload["errorType"] == "Exception"
    assert payload["requestId"] == context["requestId"]
    assert any('raise Exception("intentional failure")' in line for line in payload["stackTrace"])
    # one request id through every retry, and the handler's context has it too
    assert {request_id for _, request_id in seen} == {context["requestId"]}


def test_no_retries_means_one_invocation():  # [LS] payload1: MaximumRetryAttempts 0
    failures = provision.ensure_queue("failures")
    seen = []
    rule({"n": 1}, handler=failing(seen), on_failure=failures, maximum_retry_attempts=0)
    [record] = records(failures)
    assert len(seen) == 1 and record["requestContext"]["approximateInvokeCount"] == 1


def test_on_success_record_carries_the_return_value():  # [LS] payload0
    successes = provision.ensure_queue("successes")
    rule({"n": 1}, handler=lambda event, context: {"handled": event["detail"]["n"]}, on_success=successes)
    [record] = records(successes)
    assert record["requestContext"]["condition"] == "Success"
    assert record["requestContext"]["approximateInvokeCount"] == 1
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST"}
    assert record["responsePayload"] == {"handled": 1}


@pytest.mark.parametrize("age,invocations", [(60, 1), (120, 2)])
def test_an_event_that_would_be_retried_too_late_expires(age, invocations):  # [LS] test_maxeventage
    failures = provision.ensure_queue("failures")
    seen = []
    rule({"n": 1}, handler=failing(seen), on_failure=failures, maximum_event_age_seconds=age)
    [record] = records(failures)
    assert record["requestContext"]["condition"] == "EventAgeExceeded"
    assert record["requestContext"]["approximateInvokeCount"] == invocations == len(seen)


def test_dead_letter_queue_gets_the_bare_event_with_lambdas_attributes():  # [DOC] [LS] test_dead_letter_queue
    dlq = provision.ensure_queue("function-dlq")
    seen = []
    rule({"n": 1}, handler=failing(seen), dead_letter_queue=dlq)
    [message] = peek(dlq)
    assert json.loads(message["Body"]) == seen[0][0]
    attributes = message["MessageAttributes"]
    assert attributes["ErrorCode"] == {"DataType": "Number", "StringValue": "200"}
    assert attributes["ErrorMessage"] == {"DataType": "String", "StringValue": "intentional failure"}
    assert attributes["RequestID"] == {"DataType": "String", "StringValue": seen[0][1]}


def test_a_long_error_message_is_cut_to_1_kb_in_the_dlq():  # [DOC] "truncated to 1 KB"
    dlq = provision.ensure_queue("function-dlq")

    def wordy(event, context):
        raise ValueError("x" * 5000)

    rule({"n": 1}, handler=wordy, dead_letter_queue=dlq)
    assert len(peek(dlq)[0]["MessageAttributes"]["ErrorMessage"]["StringValue"]) == 1024


def test_both_an_on_failure_destination_and_a_dlq_receive_it():
    failures, dlq = provision.ensure_queue("failures"), provision.ensure_queue("function-dlq")
    rule({"n": 1}, handler=failing([]), on_failure=failures, dead_letter_queue=dlq)
    assert len(peek(failures)) == 1 and len(peek(dlq)) == 1
    [moved] = recorder.select(kind="dlq")
    assert moved.target == "failures, function-dlq"


def test_without_a_destination_the_event_is_discarded_and_the_recorder_says_so():  # [DOC]
    runtime = rule({"n": 1}, handler=failing([]), function_name="orders")
    [moved] = recorder.select(kind="dlq")
    assert moved.target == "(破棄)" and "破棄しました" in moved.detail and "RetriesExhausted" in moved.detail
    [source] = runtime.sources
    assert peek(source.queue_url) == []  # not left behind in the runtime's own queue either
    assert [q for q in boto3.client("sqs").list_queues().get("QueueUrls", []) if "failed" in q] == []


def test_to_an_sns_topic():
    topic = provision.ensure_topic("failures")
    queue = provision.ensure_queue("failure-reader")
    provision.ensure_subscription(topic, queue, raw=True)
    rule({"n": 1}, handler=failing([]), on_failure=topic)
    [record] = records(queue)
    assert record["requestContext"]["condition"] == "RetriesExhausted"


def test_to_an_eventbridge_bus():  # [EB]
    bus_arn = provision.ensure_bus("results-bus")
    queue = provision.ensure_queue("result-reader")
    provision.ensure_rule("results-bus", "failures", queue_url=queue, event_pattern={
        "source": ["lambda"], "detail-type": ["Lambda Function Invocation Result - Failure"]})
    rule({"n": 1}, handler=failing([]), function_name="orders", on_failure=bus_arn)
    [event] = records(queue)
    EventBridgeModel.model_validate(event)
    assert event["detail"]["requestContext"]["condition"] == "RetriesExhausted"
    assert event["resources"] == [bus_arn, "arn:aws:lambda:ap-northeast-1:123456789012:function:orders:$LATEST"]


def test_to_another_function():
    got = []

    def on_failure_handler(event, context):
        got.append(event)

    rule({"n": 1}, handler=failing([]), on_failure=on_failure_handler)
    [record] = got
    assert record["requestContext"]["condition"] == "RetriesExhausted" and record["requestPayload"]["detail"] == {"n": 1}


def test_sns_to_lambda_failure_record_holds_the_sns_event():
    topic = provision.ensure_topic("order-events")
    failures = provision.ensure_queue("failures")
    runtime = LocalRuntime()
    runtime.on_topic(topic, failing([]), on_failure=failures)
    boto3.client("sns").publish(TopicArn=topic, Message="hello")
    runtime.run_until_quiet()
    [record] = records(failures)
    SnsModel.model_validate(record["requestPayload"])  # the Records[].Sns event the function got


@pytest.mark.parametrize("settings,word", [
    ({"maximum_retry_attempts": 3}, "maximum_retry_attempts"),
    ({"maximum_retry_attempts": -1}, "maximum_retry_attempts"),
    ({"maximum_event_age_seconds": 59}, "maximum_event_age_seconds"),
    ({"maximum_event_age_seconds": 21601}, "maximum_event_age_seconds"),
    ({"timeout": 0}, "timeout"),
    ({"timeout": 901}, "timeout"),
    ({"dead_letter_queue": "arn:aws:events:ap-northeast-1:123456789012:event-bus/default"}, "dead_letter_queue"),
    ({"on_failure": "arn:aws:lambda:ap-northeast-1:123456789012:function:x"}, "on_failure"),
    ({"on_failure": "no-such-queue"}, "on_failure"),
    ({"dead_letter_queue": print}, "dead_letter_queue"),
])
def test_settings_aws_refuses_are_refused_and_nothing_is_made(settings, word):
    orders_rule()
    with pytest.raises(ValueError, match=word):
        LocalRuntime().on_rule("orders-bus", "all", failing([]), **settings)
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []
    assert boto3.client("events").list_targets_by_rule(Rule="all", EventBusName="orders-bus")["Targets"] == []


def test_a_fifo_queue_is_not_a_destination():  # [DOC] "A standard SQS queue"
    fifo = provision.ensure_queue("failures", fifo=True)
    orders_rule()
    with pytest.raises(ValueError, match="FIFO"):
        LocalRuntime().on_rule("orders-bus", "all", failing([]), on_failure=fifo)


def test_an_unknown_setting_is_named():
    orders_rule()
    with pytest.raises(TypeError, match="on_falure"):
        LocalRuntime().on_rule("orders-bus", "all", failing([]), on_falure="x")


# -- DynamoDB Streams ------------------------------------------------------------------------------

def test_stream_on_failure_record_is_aws_record():  # [DDB]
    provision.ensure_table("orders", "order_id", stream="NEW_AND_OLD_IMAGES")
    table = sandbox.resource("dynamodb").Table("orders")
    table.put_item(Item={"order_id": "o1"})
    table.put_item(Item={"order_id": "o2"})
    failures = provision.ensure_queue("projector-failures")
    runtime = LocalRuntime()
    runtime.on_stream("orders", failing([]), function_name="projector", maximum_retry_attempts=2, on_failure=failures)
    runtime.run_until_quiet()
    [record] = records(failures)
    assert sorted(record) == ["DDBStreamBatchInfo", "requestContext", "responseContext", "timestamp", "version"]
    assert record["version"] == "1.0" and ISO_MS.match(record["timestamp"])
    context = record["requestContext"]
    assert context["condition"] == "RetryAttemptsExhausted" and context["approximateInvokeCount"] == 3
    assert context["functionArn"] == "arn:aws:lambda:ap-northeast-1:123456789012:function:projector"
    assert re.fullmatch(r"[0-9a-f-]{36}", context["requestId"])
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = record["DDBStreamBatchInfo"]
    assert sorted(info) == ["approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "batchSize",
                            "endSequenceNumber", "shardId", "startSequenceNumber", "streamArn"]
    assert info["batchSize"] == 2 and int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["approximateArrivalOfFirstRecord"])
    assert info["approximateArrivalOfFirstRecord"] <= info["approximateArrivalOfLastRecord"]
    assert info["streamArn"].startswith("arn:aws:dynamodb:")


def test_stream_on_failure_to_an_sns_topic():
    provision.ensure_table("orders", "order_id", stream="NEW_AND_OLD_IMAGES")
    sandbox.resource("dynamodb").Table("orders").put_item(Item={"order_id": "o1"})
    topic = provision.ensure_topic("stream-failures")
    queue = provision.ensure_queue("reader")
    provision.ensure_subscription(topic, queue, raw=True)
    runtime = LocalRuntime()
    runtime.on_stream("orders", failing([]), maximum_retry_attempts=0, on_failure=topic)
    runtime.deliver_due()
    [record] = records(queue)
    assert record["DDBStreamBatchInfo"]["batchSize"] == 1
