"""The DynamoDB Streams event source mapping's error handling, case by case as AWS documents it.

The mapping reads through the same shard poller as the Kinesis mapping (test_kinesis_mapping.py);
these cases are the settings AWS documents for DynamoDB Streams too.

Sources: https://docs.aws.amazon.com/lambda/latest/dg/with-ddb.html (DDB),
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-batchfailurereporting.html (BF),
https://docs.aws.amazon.com/lambda/latest/dg/services-dynamodb-errors.html (ERR),
https://docs.aws.amazon.com/lambda/latest/dg/services-ddb-params.html (PARAMS).
"""
import json
import re

import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel

from labs import sandbox
from labs.observe.queues import peek
from labs.runtime import LocalRuntime
from labs.sandbox import provision
from labs.sandbox.clock import clock

TABLE = "orders"


@pytest.fixture
def table():
    provision.ensure_table(TABLE, "order_id", stream="NEW_AND_OLD_IMAGES")
    return sandbox.resource("dynamodb").Table(TABLE)


def put(table, *numbers):
    for n in numbers:
        table.put_item(Item={"order_id": f"o{n}", "n": n})


class Recording:
    """A handler that writes down each batch (order numbers) and fails the ones it is told to:
    by raising, or (``report``) by naming their ``dynamodb.SequenceNumber`` in ``batchItemFailures``."""

    def __init__(self, poison=(), report=False):
        self.batches: list[list[int]] = []
        self.events: list[dict] = []
        self.poison, self.report = set(poison), report

    def __call__(self, event, context):
        self.events.append(event)
        numbers = [int(r["dynamodb"]["NewImage"]["n"]["N"]) for r in event["Records"]]
        self.batches.append(numbers)
        failed = [r for r, n in zip(event["Records"], numbers) if n in self.poison]
        if failed and not self.report:
            raise RuntimeError(f"処理できません: {[n for n in numbers if n in self.poison]}")
        return {"batchItemFailures": [{"itemIdentifier": r["dynamodb"]["SequenceNumber"]} for r in failed]}


def run_mapping(handler, **settings):
    """The mapping from the table's stream to ``handler``, run until quiet; returns the source."""
    runtime = LocalRuntime()
    source = runtime.on_stream(TABLE, handler, function_name="projector", **settings)
    runtime.run_until_quiet()
    return source


def test_a_reported_failure_checkpoints_at_the_lowest_sequence_number(table):
    # BF: { "batchItemFailures": [ { "itemIdentifier": "<SequenceNumber>" } ] }; "If the batchItemFailures
    # array contains multiple items, Lambda uses the record with the lowest sequence number as the checkpoint.
    # Lambda then retries all records starting from that checkpoint."
    put(table, 1, 2, 3, 4, 5)
    handler = Recording(poison={4, 2}, report=True)
    run_mapping(handler, report_batch_item_failures=True, maximum_retry_attempts=1)
    assert handler.batches[:2] == [[1, 2, 3, 4, 5], [2, 3, 4, 5]]
    DynamoDBStreamModel.model_validate(handler.events[1])  # the retried batch is still Lambda's event


def test_without_report_batch_item_failures_the_answer_is_not_read(table):
    # BF: "Lambda doesn't use these responses unless you explicitly turn on the ReportBatchItemFailures feature"
    put(table, 1, 2, 3)
    handler = Recording(poison={2}, report=True)
    run_mapping(handler)
    assert handler.batches == [[1, 2, 3]]


def test_bisect_splits_a_failed_batch_until_the_bad_record_is_alone(table):
    # ERR: BisectBatchOnFunctionError "splits a failed batch into two smaller batches, isolating bad
    # records"; "Splitting a batch does not consume the retry quota."
    put(table, 1, 2, 3, 4)
    handler = Recording(poison={3})
    source = run_mapping(handler, bisect_batch_on_function_error=True, maximum_retry_attempts=0)
    assert handler.batches == [[1, 2, 3, 4], [1, 2], [3, 4], [3], [4]]
    assert [len(d.records) for d in source.discarded] == [1]


def test_retries_are_limited_and_the_failure_destination_gets_ddb_stream_batch_info(table):
    # ERR: retries until MaximumRetryAttempts, then "Lambda sends ... to the on-failure destination";
    # DDB "Example invocation record": DDBStreamBatchInfo, condition RetryAttemptsExhausted, arrivals in
    # whole seconds, the function's unqualified ARN.
    put(table, 1, 2, 3)
    failed_url = provision.ensure_queue("projector-failed")
    handler = Recording(poison={1})
    run_mapping(handler, batch_size=2, maximum_retry_attempts=2, on_failure=provision.queue_arn(failed_url))
    assert handler.batches == [[1, 2], [1, 2], [1, 2], [3]]  # 1 try + 2 retries, then the shard moves on
    [message] = peek(failed_url)
    record = json.loads(message["Body"])
    assert sorted(record) == ["DDBStreamBatchInfo", "requestContext", "responseContext", "timestamp", "version"]
    assert record["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 3
    assert record["requestContext"]["functionArn"] == "arn:aws:lambda:ap-northeast-1:123456789012:function:projector"
    assert record["responseContext"] == {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"}
    info = record["DDBStreamBatchInfo"]
    first_batch = handler.events[0]["Records"]
    assert (info["startSequenceNumber"], info["endSequenceNumber"], info["batchSize"]) == \
        (first_batch[0]["dynamodb"]["SequenceNumber"], first_batch[1]["dynamodb"]["SequenceNumber"], 2)
    assert info["streamArn"] == first_batch[0]["eventSourceARN"] == \
        sandbox.client("dynamodb").describe_table(TableName=TABLE)["Table"]["LatestStreamArn"]
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", info["approximateArrivalOfFirstRecord"])


def test_records_older_than_the_maximum_age_are_discarded_without_an_invocation(table):
    # PARAMS MaximumRecordAgeInSeconds (-1 or 60-604800); condition RecordAgeExceeded.
    put(table, 1, 2)
    handler = Recording()
    runtime = LocalRuntime()
    source = runtime.on_stream(TABLE, handler, function_name="projector", maximum_record_age_in_seconds=60)
    clock.skip(120)
    runtime.run_until_quiet()
    assert handler.batches == [] and [d.condition for d in source.discarded] == ["RecordAgeExceeded"]


def test_latest_reads_only_what_is_written_after_the_mapping_is_made(table):
    # PARAMS StartingPosition: TRIM_HORIZON or LATEST (AT_TIMESTAMP is for Kinesis only).
    put(table, 1)
    handler = Recording()
    runtime = LocalRuntime()
    runtime.on_stream(TABLE, handler, function_name="projector", starting_position="LATEST")
    put(table, 2)
    runtime.run_until_quiet()
    assert handler.batches == [[2]]


@pytest.mark.parametrize("wrong, message", [
    (dict(starting_position="AT_TIMESTAMP"), "TRIM_HORIZON か LATEST"),
    (dict(maximum_record_age_in_seconds=30), "maximum_record_age_in_seconds"),
    (dict(on_failure="no-such-queue"), "on_failure"),
])
def test_settings_aws_refuses_are_refused(table, wrong, message):
    with pytest.raises(ValueError, match=message):
        LocalRuntime().on_stream(TABLE, lambda e, c: None, function_name="projector", **wrong)


def test_a_missing_table_is_a_clear_error():
    with pytest.raises(ValueError, match="テーブル nowhere がありません"):
        LocalRuntime().on_stream("nowhere", lambda e, c: None, function_name="projector")
