"""EventBridge Pipes made with create_pipe, run by the runtime, case by case as AWS documents them.

Sources (https://docs.aws.amazon.com/eventbridge/latest/userguide/...):
eb-pipes.html (P), eb-pipes-event-filtering.html (F), eb-pipes-input-transformation.html (T),
eb-pipes-error-troubleshooting.html (E), eb-pipes-batching-concurrency.html (B), eb-pipes-sqs.html (S),
eb-pipes-kinesis.html (K); pipes-reference/API_CreatePipe.html (API).
"""
import json

import boto3
import pytest

from labs import sandbox
from labs.course.producers import kinesis
from labs.observe import recorder
from labs.runtime import LocalRuntime
from labs.runtime import input_template
from labs.runtime.sources.pipes import PipeError
from labs.sandbox import provision
from tests.runtime.helpers import depth

REGION, ACCOUNT = "ap-northeast-1", sandbox.ACCOUNT_ID
ROLE = f"arn:aws:iam::{ACCOUNT}:role/pipe-role"


def arn(service: str, resource: str) -> str:
    return f"arn:aws:{service}:{REGION}:{ACCOUNT}:{resource}"


def make_pipe(name, source, target, **parameters):
    boto3.client("pipes").create_pipe(Name=name, Source=source, Target=target, RoleArn=ROLE, **parameters)


def drain(url):
    sqs, bodies = boto3.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for m in batch:
            bodies.append(m["Body"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=m["ReceiptHandle"])
    return bodies


def send_orders(url, *types):
    for i, event_type in enumerate(types, 1):
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=json.dumps(
            {"event_type": event_type, "order": {"order_id": f"ORD-{i}", "amount": 1000 * i}}))


@pytest.fixture
def orders_queue():
    return provision.ensure_queue("orders-in")


def only_created():
    return {"Filters": [{"Pattern": json.dumps({"body": {"event_type": ["OrderCreated"]}})}]}


def test_sqs_to_bus_filters_reshapes_and_names_the_pipe(orders_queue):
    # F (body filter), T (<$.body...> reaches into a JSON body), and the event a pipe puts on a bus
    # without EventBridgeEventBusParameters: source "Pipe <name>", detail-type "Event from aws:sqs"
    # (recorded on AWS in OrcaBus's integration tests).
    provision.ensure_bus("orders-bus")
    seen = provision.ensure_queue("bus-seen")
    provision.ensure_rule("orders-bus", "from-pipe", queue_url=seen, event_pattern={"source": ["Pipe orders-pipe"]})
    make_pipe("orders-pipe", arn("sqs", "orders-in"), arn("events", "event-bus/orders-bus"),
              SourceParameters={"FilterCriteria": only_created()},
              TargetParameters={"InputTemplate": '{"order_id": <$.body.order.order_id>, "amount": <$.body.order.amount>}'})
    send_orders(orders_queue, "OrderCreated", "OrderShipped", "OrderCreated")
    runtime = LocalRuntime()
    runtime.on_pipe("orders-pipe")
    runtime.run_until_quiet()
    events = [json.loads(b) for b in drain(seen)]
    assert [e["detail"] for e in events] == [{"order_id": "ORD-1", "amount": 1000}, {"order_id": "ORD-3", "amount": 3000}]
    assert {(e["source"], e["detail-type"]) for e in events} == {("Pipe orders-pipe", "Event from aws:sqs")}
    assert depth(orders_queue) == 0  # F: "EventBridge automatically removes the message from the queue"
    assert [r.count for r in recorder.select(kind="filter")] == [1]


def test_a_json_filter_drops_a_plain_string_body(orders_queue):
    # F table "Properly filtering Amazon SQS messages": plain string body + JSON pattern -> dropped.
    target = provision.ensure_queue("out")
    make_pipe("p", arn("sqs", "orders-in"), arn("sqs", "out"), SourceParameters={"FilterCriteria": only_created()})
    boto3.client("sqs").send_message(QueueUrl=orders_queue, MessageBody="OrderCreated")
    runtime = LocalRuntime()
    runtime.on_pipe("p")
    runtime.run_until_quiet()
    assert drain(target) == [] and depth(orders_queue) == 0


def test_a_pipe_may_filter_sqs_metadata(orders_queue):
    # F: "Metadata properties are the fields of the event object" (a Lambda mapping on SQS filters body only).
    target = provision.ensure_queue("out")
    pattern = {"messageAttributes": {"channel": {"stringValue": ["web"]}}}
    make_pipe("p", arn("sqs", "orders-in"), arn("sqs", "out"),
              SourceParameters={"FilterCriteria": {"Filters": [{"Pattern": json.dumps(pattern)}]}},
              TargetParameters={"InputTemplate": "<$.body>"})
    sqs = boto3.client("sqs")
    for channel in ("web", "shop"):
        sqs.send_message(QueueUrl=orders_queue, MessageBody=channel,
                         MessageAttributes={"channel": {"DataType": "String", "StringValue": channel}})
    runtime = LocalRuntime()
    runtime.on_pipe("p")
    runtime.run_until_quiet()
    assert drain(target) == ["web"]


def test_enrichment_gets_the_batch_and_its_answer_replaces_it(orders_queue):
    # P "Enrichment": the target receives what the enrichment returns; B: Lambda gets the batch as an array.
    target = provision.ensure_queue("out")
    batches = []

    def enrich(events, context):
        batches.append(events)
        return [{"order_id": json.loads(e["body"])["order"]["order_id"], "customer": "山田"} for e in events]

    make_pipe("p", arn("sqs", "orders-in"), arn("sqs", "out"), Enrichment=arn("lambda", "function:enrich"),
              SourceParameters={"SqsQueueParameters": {"BatchSize": 10}})
    send_orders(orders_queue, "OrderCreated", "OrderCreated")
    runtime = LocalRuntime()
    runtime.on_pipe("p", functions={"enrich": enrich})
    runtime.run_until_quiet()
    assert len(batches) == 1 and [e["eventSource"] for e in batches[0]] == ["aws:sqs", "aws:sqs"]
    assert [json.loads(b) for b in drain(target)] == [{"order_id": "ORD-1", "customer": "山田"},
                                                      {"order_id": "ORD-2", "customer": "山田"}]
    assert [c.function_name for c in runtime.invocations()] == ["enrich"]


def test_an_empty_enrichment_answer_stops_the_batch(orders_queue):
    # P "Filtering events using enrichment": return "", {} or [] and the target is not invoked.
    target = provision.ensure_queue("out")
    make_pipe("p", arn("sqs", "orders-in"), arn("sqs", "out"), Enrichment=arn("lambda", "function:nothing"))
    send_orders(orders_queue, "OrderCreated")
    runtime = LocalRuntime()
    runtime.on_pipe("p", functions={"nothing": lambda events, context: []})
    runtime.run_until_quiet()
    assert drain(target) == [] and depth(orders_queue) == 0


def test_a_failing_target_returns_the_message_and_the_queues_dlq_takes_it():
    # E: "A pipe inherits dead-letter queue (DLQ) behavior from the source"; S: the message is received
    # again after the visibility timeout, and SQS moves it after maxReceiveCount.
    source = provision.ensure_queue("orders-in", dead_letter_queue="orders-in-dlq", max_receive_count=2)
    dlq = boto3.client("sqs").get_queue_url(QueueName="orders-in-dlq")["QueueUrl"]
    tries = []

    def broken(events, context):
        tries.append(len(events))
        raise ConnectionError("配送サービスに接続できません")

    make_pipe("p", arn("sqs", "orders-in"), arn("lambda", "function:broken"))
    send_orders(source, "OrderCreated")
    runtime = LocalRuntime()
    runtime.on_pipe("p", functions={"broken": broken})
    runtime.run_until_quiet()
    assert tries == [1, 1] and depth(source) == 0 and depth(dlq) == 1
    assert [r.outcome for r in recorder.select(kind="deliver")] == ["error", "error"]


def test_a_lambda_target_retries_only_what_it_reports(orders_queue):
    # B "Partial batch failure": itemIdentifier is the messageId for SQS.
    calls = []

    def target(events, context):
        calls.append([json.loads(e["body"])["order"]["order_id"] for e in events])
        if len(calls) == 1:
            return {"batchItemFailures": [{"itemIdentifier": events[1]["messageId"]}]}
        return {"batchItemFailures": []}

    make_pipe("p", arn("sqs", "orders-in"), arn("lambda", "function:target"))
    send_orders(orders_queue, "OrderCreated", "OrderCreated", "OrderCreated")
    runtime = LocalRuntime()
    runtime.on_pipe("p", functions={"target": target})
    runtime.run_until_quiet()
    assert calls == [["ORD-1", "ORD-2", "ORD-3"], ["ORD-2"]]


def test_kinesis_source_keeps_shard_order_and_reads_decoded_data():
    # K (order kept; the record's keys at the top level), T "Implicit body data parsing": <$.data.someKey>.
    provision.ensure_stream("orders-stream", shard_count=1)
    target = provision.ensure_queue("out")
    make_pipe("p", arn("kinesis", "stream/orders-stream"), arn("sqs", "out"),
              SourceParameters={"KinesisStreamParameters": {"StartingPosition": "TRIM_HORIZON", "BatchSize": 10},
                                "FilterCriteria": {"Filters": [{"Pattern": '{"data": {"event_type": ["OrderCreated"]}}'}]}},
              TargetParameters={"InputTemplate": '{"order_id": <$.data.order_id>, "key": <$.partitionKey>}'})
    for i, kind in enumerate(["OrderCreated", "OrderShipped", "OrderCreated"], 1):
        kinesis.put_order_event("orders-stream", {"event_type": kind, "order_id": f"ORD-{i}"}, f"ORD-{i}")
    runtime = LocalRuntime()
    runtime.on_pipe("p")
    runtime.run_until_quiet()
    assert [json.loads(b) for b in drain(target)] == [{"order_id": "ORD-1", "key": "ORD-1"},
                                                      {"order_id": "ORD-3", "key": "ORD-3"}]


def test_a_stream_pipe_retries_then_sends_to_its_own_dlq():
    # E: "For stream sources ... you can configure a DLQ for the pipe"; API: MaximumRetryAttempts, DeadLetterConfig.
    provision.ensure_stream("orders-stream", shard_count=1)
    dlq = provision.ensure_queue("pipe-dlq")
    tries = []

    def broken(events, context):
        tries.append(len(events))
        raise RuntimeError("だめです")

    make_pipe("p", arn("kinesis", "stream/orders-stream"), arn("lambda", "function:broken"),
              SourceParameters={"KinesisStreamParameters": {
                  "StartingPosition": "TRIM_HORIZON", "MaximumRetryAttempts": 1,
                  "DeadLetterConfig": {"Arn": provision.queue_arn(dlq)}}})
    kinesis.put_order_event("orders-stream", {"order_id": "ORD-1"}, "ORD-1")
    runtime = LocalRuntime()
    runtime.on_pipe("p", functions={"broken": broken})
    runtime.run_until_quiet()
    assert tries == [1, 1]
    record = json.loads(drain(dlq)[0])
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["KinesisBatchInfo"]["batchSize"] == 1


def test_dynamodb_stream_source_filters_on_the_new_image():
    # F: for DynamoDB the data field is `dynamodb`.
    provision.ensure_table("orders", "order_id", stream="NEW_AND_OLD_IMAGES")
    stream_arn = boto3.client("dynamodb").describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    target = provision.ensure_queue("out")
    pattern = {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}}
    make_pipe("p", stream_arn, arn("sqs", "out"),
              SourceParameters={"DynamoDBStreamParameters": {"StartingPosition": "TRIM_HORIZON"},
                                "FilterCriteria": {"Filters": [{"Pattern": json.dumps(pattern)}]}},
              TargetParameters={"InputTemplate": '{"order_id": <$.dynamodb.NewImage.order_id.S>}'})
    table = boto3.resource("dynamodb").Table("orders")
    table.put_item(Item={"order_id": "ORD-1", "status": "PAID"})
    table.put_item(Item={"order_id": "ORD-2", "status": "NEW"})
    runtime = LocalRuntime()
    runtime.on_pipe("p")
    runtime.run_until_quiet()
    assert [json.loads(b) for b in drain(target)] == [{"order_id": "ORD-1"}]


def test_a_stopped_pipe_leaves_the_messages_and_a_started_one_runs(orders_queue):
    # P "Starting or stopping a pipe": DesiredState STOPPED processes nothing.
    target = provision.ensure_queue("out")
    make_pipe("p", arn("sqs", "orders-in"), arn("sqs", "out"), DesiredState="STOPPED")
    send_orders(orders_queue, "OrderCreated")
    runtime = LocalRuntime()
    runtime.on_pipe("p")
    runtime.run_until_quiet()
    assert depth(orders_queue) == 1
    boto3.client("pipes").start_pipe(Name="p")
    runtime.run_until_quiet()
    assert depth(orders_queue) == 0 and len(drain(target)) == 1


def test_sns_and_state_machine_targets():
    # P "Targets"; a standard workflow is invoked asynchronously with the batch (B: the JSON array).
    provision.ensure_queue("orders-in")
    provision.ensure_queue("machine-in")
    topic = provision.ensure_topic("order-topic")
    inbox = provision.ensure_queue("topic-inbox")
    provision.ensure_subscription(topic, inbox, raw=True)
    sfn = boto3.client("stepfunctions")
    machine = sfn.create_state_machine(name="orders", roleArn=ROLE, definition=json.dumps(
        {"StartAt": "Done", "States": {"Done": {"Type": "Pass", "End": True}}}))["stateMachineArn"]
    make_pipe("to-topic", arn("sqs", "orders-in"), topic, TargetParameters={"InputTemplate": "注文 <$.body.order.order_id>"})
    runtime = LocalRuntime()
    runtime.on_pipe("to-topic")
    send_orders(provision.ensure_queue("orders-in"), "OrderCreated")
    runtime.run_until_quiet()
    assert drain(inbox) == ["注文 ORD-1"]
    make_pipe("to-machine", arn("sqs", "machine-in"), machine)
    runtime.on_pipe("to-machine")
    send_orders(provision.ensure_queue("machine-in"), "OrderCreated")
    runtime.run_until_quiet()
    execution = sfn.list_executions(stateMachineArn=machine)["executions"][0]
    started = json.loads(sfn.describe_execution(executionArn=execution["executionArn"])["input"])
    assert isinstance(started, list) and json.loads(started[0]["body"])["order"]["order_id"] == "ORD-1"


def test_every_step_is_on_the_timeline(orders_queue):
    target = provision.ensure_queue("out")
    make_pipe("p", arn("sqs", "orders-in"), arn("sqs", "out"), Enrichment=arn("lambda", "function:enrich"),
              SourceParameters={"FilterCriteria": only_created()})
    send_orders(orders_queue, "OrderCreated", "OrderShipped")
    runtime = LocalRuntime()
    runtime.on_pipe("p", functions={"enrich": lambda events, context: events})
    runtime.run_until_quiet()
    assert [(r.kind, r.target) for r in recorder.records if r.kind != "publish"] == \
        [("filter", "p"), ("invoke", "enrich"), ("deliver", "out")]
    assert len(drain(target)) == 1


@pytest.mark.parametrize("parameters, message", [
    (dict(SourceParameters={"SqsQueueParameters": {"BatchSize": 11}}), "1 回に 10 件まで"),
    (dict(Enrichment=arn("lambda", "function:missing")), "関数 missing のハンドラーがありません"),
])
def test_pipes_the_runtime_cannot_run_are_refused_clearly(orders_queue, parameters, message):
    # B: "you can't configure a pipe with a larger batch size than the target supports".
    make_pipe("p", arn("sqs", "orders-in"), arn("sqs", "out"), **parameters)
    with pytest.raises(PipeError, match=message):
        LocalRuntime().on_pipe("p")


def test_a_missing_pipe_is_a_clear_error():
    with pytest.raises(PipeError, match="パイプ nowhere がありません"):
        LocalRuntime().on_pipe("nowhere")


# --- input templates (T) ---------------------------------------------------------------------------
SQS_EVENT = {"messageId": "m-1", "body": json.dumps({"order": {"order_id": "ORD-1", "amount": 1200, "items": ["a", "b"]}}),
             "attributes": {"SenderId": "AIDA"}}
VARIABLES = {"pipe-name": "orders-pipe", "pipe-arn": "arn:aws:pipes:x:1:pipe/orders-pipe"}


@pytest.mark.parametrize("template, expected", [
    ('{"id": <$.body.order.order_id>, "amount": <$.body.order.amount>}', {"id": "ORD-1", "amount": 1200}),
    ('{"text": "注文 <$.body.order.order_id> (<$.body.order.amount> 円)"}', {"text": "注文 ORD-1 (1200 円)"}),
    ('{"order": <$.body.order>, "pipe": <aws.pipes.pipe-name>}',
     {"order": {"order_id": "ORD-1", "amount": 1200, "items": ["a", "b"]}, "pipe": "orders-pipe"}),
    ('{"first": <$.body.order.items[0]>, "missing": <$.body.nothing>}', {"first": "a", "missing": None}),
    ("Hello, <$.attributes.SenderId>", "Hello, AIDA"),
    ("<$.body.order.items>", "[a, b]"),  # T: free text loses the quotes of what it inserts
])
def test_input_templates(template, expected):
    assert input_template.render(template, SQS_EVENT, VARIABLES) == expected


def test_a_template_that_is_not_json_once_filled_is_a_clear_error():
    with pytest.raises(input_template.TemplateError, match="JSON になりません"):
        input_template.render('{"id": <$.body.order.order_id>', SQS_EVENT, VARIABLES)
