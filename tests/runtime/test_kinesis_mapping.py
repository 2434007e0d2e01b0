"""The Kinesis event source mapping, case by case as AWS documents it.

Sources: https://docs.aws.amazon.com/lambda/latest/dg/with-kinesis.html (WK),
https://docs.aws.amazon.com/lambda/latest/dg/services-kinesis-batchfailurereporting.html (BF),
https://docs.aws.amazon.com/lambda/latest/dg/kinesis-on-failure-destination.html (OF),
https://docs.aws.amazon.com/lambda/latest/api/API_CreateEventSourceMapping.html (API).
"""
import base64
import json

import pytest
from aws_lambda_powertools.utilities.parser.models import KinesisDataStreamModel

from labs import sandbox
from labs.course.producers import kinesis
from labs.observe import recorder
from labs.runtime import LocalRuntime
from labs.sandbox import provision
from labs.sandbox.clock import clock

STREAM = "orders-stream"


@pytest.fixture
def one_shard():
    provision.ensure_stream(STREAM, shard_count=1)
    return STREAM


def put(*orders, key=None):
    """Put each order (a dict) with its order_id (or ``key``) as partition key; sequence numbers back."""
    return [kinesis.put_order_event(STREAM, o, key or o["order_id"])["SequenceNumber"] for o in orders]


def orders(n, start=1):
    return [{"order_id": f"ORD-{i}", "n": i} for i in range(start, start + n)]


class Recording:
    """A handler that writes down each batch (order numbers) and fails the ones it is told to."""

    def __init__(self, poison=(), report=False, identifier="sequenceNumber"):
        self.batches: list[list[int]] = []
        self.poison, self.report, self.identifier = set(poison), report, identifier

    def __call__(self, event, context):
        batch = [json.loads(base64.b64decode(r["kinesis"]["data"])) for r in event["Records"]]
        self.batches.append([o["n"] for o in batch])
        failed = [r for r, o in zip(event["Records"], batch) if o["n"] in self.poison]
        if failed and not self.report:
            raise RuntimeError(f"処理できません: {[o['n'] for o in batch if o['n'] in self.poison]}")
        return {"batchItemFailures": [{"itemIdentifier": r["kinesis"][self.identifier]} for r in failed]}


def test_the_event_validates_with_powertools_and_carries_what_was_put(one_shard):
    # WK "Example Kinesis record event": kinesis.data is base64, eventID is "<shard>:<sequence number>".
    numbers = put({"order_id": "ORD-1", "amount": 1200})
    seen = []
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, lambda e, c: seen.append(e), function_name="reader")
    runtime.run_until_quiet()
    model = KinesisDataStreamModel.model_validate(seen[0])
    record = model.Records[0]
    assert json.loads(record.kinesis.data) == {"order_id": "ORD-1", "amount": 1200}
    assert record.kinesis.partitionKey == "ORD-1" and record.kinesis.sequenceNumber == numbers[0]
    assert record.eventID == f"shardId-000000000000:{numbers[0]}"
    assert record.awsRegion == sandbox.current().region and record.eventSourceARN.endswith(f":stream/{STREAM}")


def test_each_batch_holds_one_shard_in_put_order():
    # WK: "Each batch contains records from a single shard/data stream"; a shard is read in order.
    provision.ensure_stream(STREAM, shard_count=2)
    events = [{"order_id": f"ORD-{i % 3}", "n": i} for i in range(9)]
    for event in events:
        kinesis.put_order_event(STREAM, event, event["order_id"])
    handler = Recording()
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", batch_size=2)
    runtime.run_until_quiet()
    shard_of = {e["n"]: kinesis.shard_for(STREAM, e["order_id"]) for e in events}
    assert all(len({shard_of[n] for n in batch}) == 1 for batch in handler.batches)
    for shard in set(shard_of.values()):
        read = [n for batch in handler.batches for n in batch if shard_of[n] == shard]
        assert read == sorted(read) == [n for n in range(9) if shard_of[n] == shard]


def test_batch_size_caps_each_invocation(one_shard):
    put(*orders(5))
    handler = Recording()
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", batch_size=2)
    runtime.run_until_quiet()
    assert handler.batches == [[1, 2], [3, 4], [5]]


def test_the_batching_window_waits_for_more_records(one_shard):
    # WK: "Lambda continues to read records ... until it has gathered a full batch, the batching window expires".
    put(*orders(1))
    handler = Recording()
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", batch_size=3, maximum_batching_window_in_seconds=20)
    assert runtime.deliver_due() == 0 and handler.batches == []
    clock.skip(5)
    put(*orders(2, start=2))
    runtime.deliver_due()
    assert handler.batches == [[1, 2, 3]]  # full: no need to wait out the window
    put(*orders(1, start=4))
    before = clock.now()
    runtime.run_until_quiet()
    assert handler.batches == [[1, 2, 3], [4]] and clock.now() - before >= 20


def test_a_reported_failure_checkpoints_at_the_lowest_sequence_number(one_shard):
    # BF: "If the batchItemFailures array contains multiple items, Lambda uses the record with the lowest
    # sequence number as the checkpoint. Lambda then retries all records starting from that checkpoint."
    put(*orders(5))
    handler = Recording(poison={4, 2}, report=True)
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", report_batch_item_failures=True,
                       maximum_retry_attempts=1)
    runtime.run_until_quiet()
    assert handler.batches[:2] == [[1, 2, 3, 4, 5], [2, 3, 4, 5]]


def test_without_report_batch_item_failures_the_answer_is_not_read(one_shard):
    # BF: partial batch responses are ignored unless ReportBatchItemFailures is turned on.
    put(*orders(3))
    handler = Recording(poison={2}, report=True)
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader")
    runtime.run_until_quiet()
    assert handler.batches == [[1, 2, 3]]


def test_an_identifier_that_is_no_sequence_number_retries_the_whole_batch(one_shard):
    # BF: the itemIdentifier is the sequence number; reporting the partition key retries from the start.
    put(*orders(3))
    handler = Recording(poison={2}, report=True, identifier="partitionKey")
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", report_batch_item_failures=True,
                       maximum_retry_attempts=1)
    runtime.run_until_quiet()
    assert handler.batches == [[1, 2, 3], [1, 2, 3]]


def test_retries_are_limited_and_the_failure_destination_gets_where_the_records_were(one_shard):
    # WK "Error handling"; OF "Example invocation record" (KinesisBatchInfo, condition RetryAttemptsExhausted).
    numbers = put(*orders(3))
    failed_url = provision.ensure_queue("orders-stream-failed")
    handler = Recording(poison={1})
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", batch_size=2, maximum_retry_attempts=2,
                       on_failure=provision.queue_arn(failed_url))
    runtime.run_until_quiet()
    assert handler.batches == [[1, 2], [1, 2], [1, 2], [3]]  # 1 try + 2 retries, then the shard moves on
    body = json.loads(sandbox.client("sqs").receive_message(QueueUrl=failed_url)["Messages"][0]["Body"])
    assert body["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert body["requestContext"]["approximateInvokeCount"] == 3
    assert body["requestContext"]["functionArn"].endswith(":function:reader")
    assert body["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = body["KinesisBatchInfo"]
    assert (info["shardId"], info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == \
        ("shardId-000000000000", numbers[0], numbers[1], 2)
    assert info["streamArn"].endswith(f":stream/{STREAM}") and body["version"] == "1.0"
    assert recorder.select(kind="dlq")[0].detail == "RetryAttemptsExhausted"


def test_bisect_splits_a_failed_batch_until_the_bad_record_is_alone(one_shard):
    # API BisectBatchOnFunctionError; WK: "Splitting a batch does not count towards the retry quota."
    put(*orders(4))
    handler = Recording(poison={3})
    runtime = LocalRuntime()
    source = runtime.on_kinesis(STREAM, handler, function_name="reader", bisect_batch_on_function_error=True,
                                maximum_retry_attempts=0)
    runtime.run_until_quiet()
    assert handler.batches == [[1, 2, 3, 4], [1, 2], [3, 4], [3], [4]]
    assert [len(d.records) for d in source.discarded] == [1]


def test_records_older_than_the_maximum_age_are_discarded_without_an_invocation(one_shard):
    # API MaximumRecordAgeInSeconds; OF: condition RecordAgeExceeded (recorded by LocalStack's stream poller).
    put(*orders(2))
    handler = Recording()
    runtime = LocalRuntime()
    source = runtime.on_kinesis(STREAM, handler, function_name="reader", maximum_record_age_in_seconds=60)
    clock.skip(120)
    runtime.run_until_quiet()
    assert handler.batches == [] and [d.condition for d in source.discarded] == ["RecordAgeExceeded"]


@pytest.mark.parametrize("position, expected", [("TRIM_HORIZON", [1, 2]), ("LATEST", [2])])
def test_starting_position(one_shard, position, expected):
    # WK "Starting position": Latest = new records only, Trim horizon = every record in the stream.
    put(*orders(1))
    handler = Recording()
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", starting_position=position)
    put(*orders(1, start=2))
    runtime.run_until_quiet()
    assert [n for b in handler.batches for n in b] == expected


def test_at_timestamp_starts_at_the_first_record_put_at_or_after_it(one_shard):
    put(*orders(1))
    second = sandbox.client("kinesis").put_record(StreamName=STREAM, Data=json.dumps({"order_id": "x", "n": 2}).encode(),
                                                  PartitionKey="x")
    shard = sandbox.client("kinesis").list_shards(StreamName=STREAM)["Shards"][0]["ShardId"]
    iterator = sandbox.client("kinesis").get_shard_iterator(StreamName=STREAM, ShardId=shard,
                                                            ShardIteratorType="AT_SEQUENCE_NUMBER",
                                                            StartingSequenceNumber=second["SequenceNumber"])
    at = sandbox.client("kinesis").get_records(ShardIterator=iterator["ShardIterator"])["Records"][0][
        "ApproximateArrivalTimestamp"]
    handler = Recording()
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", starting_position="AT_TIMESTAMP",
                       starting_position_timestamp=at)
    runtime.run_until_quiet()
    assert handler.batches == [[2]]


def test_a_failing_shard_does_not_hold_back_the_others():
    # WK: "It stops processing additional records in a shard if your function returns an error."
    provision.ensure_stream(STREAM, shard_count=2)
    bad, good = "ORD-1", next(k for k in (f"ORD-{i}" for i in range(2, 50))
                              if kinesis.shard_for(STREAM, k) != kinesis.shard_for(STREAM, "ORD-1"))
    kinesis.put_order_event(STREAM, {"order_id": bad, "n": 1}, bad)
    kinesis.put_order_event(STREAM, {"order_id": bad, "n": 2}, bad)
    kinesis.put_order_event(STREAM, {"order_id": good, "n": 3}, good)
    handler = Recording(poison={1})
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="reader", batch_size=1)  # retries: -1, as on AWS
    runtime.run_until_quiet(max_invocations=20)
    done = [n for b in handler.batches for n in b]
    assert 3 in done and 2 not in done  # the other shard went on; this one is stuck behind record 1
    assert recorder.select(kind="note")[-1].detail.startswith("打ち切りました")


@pytest.mark.parametrize("wrong, message", [
    (dict(batch_size=0), "batch_size"),
    (dict(starting_position="EARLIEST"), "starting_position"),
    (dict(starting_position="AT_TIMESTAMP"), "AT_TIMESTAMP"),
    (dict(maximum_record_age_in_seconds=30), "maximum_record_age_in_seconds"),
    (dict(maximum_retry_attempts=-2), "maximum_retry_attempts"),
])
def test_parameters_aws_refuses_are_refused(one_shard, wrong, message):
    # API: BatchSize 1-10000, MaximumRecordAgeInSeconds -1 or 60-604800, MaximumRetryAttempts -1 to 10000.
    with pytest.raises(ValueError, match=message):
        LocalRuntime().on_kinesis(STREAM, lambda e, c: None, function_name="reader", **wrong)


def test_a_missing_stream_is_a_clear_error():
    with pytest.raises(ValueError, match="Kinesis ストリーム nowhere がありません"):
        LocalRuntime().on_kinesis("nowhere", lambda e, c: None, function_name="reader")
