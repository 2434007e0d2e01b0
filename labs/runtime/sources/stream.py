"""Lambda's event source mappings for streams: DynamoDB Streams here, Kinesis in ``kinesis.py``.

moto keeps the records of both kinds of stream but runs no Lambda, so nothing reads a stream
for a function. Lambda's poller is the same for both (AWS: lambda/latest/dg/with-ddb.html,
with-kinesis.html): one batch per shard at a time, in order; ``ReportBatchItemFailures`` by
sequence number; ``BisectBatchOnFunctionError``, ``MaximumRetryAttempts`` and
``MaximumRecordAgeInSeconds``; an on-failure destination that receives where the discarded
records were (not the records). The checkpoint rules live in ``shards.py``; ``StreamMapping``
turns a batch into an invocation and the answer into an ``Outcome``. What differs between
the two streams is small: the reader, the record's shape, where its sequence number sits,
and what a filter reads.
"""
from __future__ import annotations

from labs import sandbox
from labs.observe import recorder
from labs.runtime import shapes
from labs.runtime.destinations import destination, function_arn
from labs.runtime.invoke import Invocation, invoke
from labs.runtime.sources.filter_criteria import FilterCriteria
from labs.runtime.sources.shards import Discarded, DynamoDBStreamReader, Outcome, ShardPoller, StreamPolicy, failure_record


class StreamMapping:
    """What Lambda's stream event source mappings share. A subclass names its ``reader`` and
    says how a record is shaped (``_event_record``), where its sequence number sits
    (``_sequence_number``) and what a filter reads (``_filtered``)."""

    filter_source: str  # FilterCriteria's name for the source kind

    def __init__(self, reader, handler, function_name: str, policy: StreamPolicy, *,
                 report_batch_item_failures: bool = False, on_failure: str | None = None,
                 filter_criteria: dict | None = None, timeout: int = 30):
        # Checked before any shard is opened: Lambda refuses a bad filter or destination at once.
        self.filter_criteria = FilterCriteria(filter_criteria, self.filter_source) if filter_criteria is not None else None
        # A standard SQS queue or SNS topic, as a stream mapping's OnFailure allows (services-ddb-params.html)
        self.on_failure = destination(on_failure, allowed=("sqs", "sns"), setting="on_failure") if on_failure else None
        self.reader = reader
        self.name = reader.name
        self.handler = handler
        self.function_name = function_name
        self.timeout = timeout
        self.report_batch_item_failures = report_batch_item_failures
        self.invocations: list[Invocation] = []
        self.discarded: list[Discarded] = []
        self.poller = ShardPoller(reader, policy, self.name, function_name, self._deliver, self._discard)

    def poll(self) -> int:
        return self.poller.poll()

    def next_due(self) -> float | None:
        return self.poller.next_due()

    @property
    def parked(self) -> int:
        return self.poller.parked

    @property
    def policy(self) -> StreamPolicy:
        return self.poller.policy

    # -- what differs between the streams -------------------------------------------------------
    def _event_record(self, record: dict, shard_id: str) -> dict:
        raise NotImplementedError

    def _sequence_number(self, event_record: dict) -> str:
        raise NotImplementedError

    def _filtered(self, event_record: dict) -> dict:
        return event_record

    # -- one batch ------------------------------------------------------------------------------
    def _deliver(self, shard_id: str, records: list[dict]) -> Outcome:
        batch = [self._event_record(r, shard_id) for r in records]
        kept = self._kept(batch)
        if not kept:
            return Outcome.ok()  # all filtered out: the checkpoint moves past them, nothing is invoked
        call = invoke(self.handler, {"Records": kept}, self.function_name, self.timeout)
        self.invocations.append(call)
        outcome = self._outcome(call, batch)
        recorder.record("invoke", f"{self.name}/{shard_id}", self.function_name, outcome.kind, len(kept),
                        outcome.detail, [self._sequence_number(r) for r in kept])
        return outcome

    def _kept(self, batch: list[dict]) -> list[dict]:
        """The records some filter matches; the others are skipped, as Lambda does on streams.

        AWS (lambda/latest/dg/invocation-eventfiltering.html): for streams, a record that does not
        meet the filter criteria is not sent to the function, and the mapping moves past it.
        """
        if self.filter_criteria is None:
            return batch
        kept = [r for r in batch if self.filter_criteria.keeps(self._filtered(r))]
        skipped = [self._sequence_number(r) for r in batch if r not in kept]
        if skipped:
            recorder.record("filter", self.name, self.function_name, "ignored", len(skipped),
                            "フィルターに合わず読み飛ばし", skipped)
        return kept

    def _outcome(self, call: Invocation, batch: list[dict]) -> Outcome:
        """Lambda's reading of the answer (services-ddb-batchfailurereporting.html,
        services-kinesis-batchfailurereporting.html: the same rules for both streams)."""
        if not call.ok:
            return Outcome.error(call.describe_error())
        if not self.report_batch_item_failures:
            return Outcome.ok()  # the return value is not read
        result = call.result
        items = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not items:
            return Outcome.ok()  # None, {}, or an empty list: complete success
        numbers = [self._sequence_number(r) for r in batch]
        reported = [i.get("itemIdentifier") if isinstance(i, dict) else None for i in items]
        unknown = [str(n) for n in reported if n not in numbers]
        if unknown:
            # An empty, null or misnamed itemIdentifier fails the whole batch (AWS). The docs do not
            # say what an identifier that is no sequence number of the batch does; like SQS's rule,
            # the whole batch is retried here.
            call.error = ValueError(f"batchItemFailures の itemIdentifier がこのバッチのシーケンス番号ではありません: {unknown}")
            return Outcome.error(call.describe_error())
        lowest = min(numbers.index(n) for n in reported)
        return Outcome.partial(lowest, f"シーケンス番号 {numbers[lowest]} から再試行")

    def _discard(self, discarded: Discarded) -> None:
        self.discarded.append(discarded)
        numbers = [self.reader.sequence_number(r) for r in discarded.records]
        recorder.record("dlq", f"{self.name}/{discarded.shard_id}", self.on_failure.name if self.on_failure else "(破棄)",
                        "dlq", len(numbers), discarded.condition, numbers)
        if self.on_failure:
            arn = function_arn(self.function_name, qualified=False)
            self.on_failure.send_record(failure_record(self.reader, discarded, arn), success=False)


class StreamSource(StreamMapping):
    """Lambda's event source mapping from a DynamoDB table's stream to ``handler``.

    One difference from AWS, chosen for a notebook: ``maximum_retry_attempts`` defaults to 2
    (``LocalRuntime.on_stream``), where AWS's default is -1 (retry until the records expire, 24 h).
    """

    filter_source = "dynamodb"  # a DynamoDB filter reads the whole record (eventName, dynamodb.NewImage...)

    def __init__(self, table_name: str, handler, function_name: str, policy: StreamPolicy, **settings):
        super().__init__(DynamoDBStreamReader(table_name), handler, function_name, policy, **settings)

    def _event_record(self, record: dict, shard_id: str) -> dict:
        return shapes.stream_record(record, self.reader.arn, sandbox.current().region)

    def _sequence_number(self, event_record: dict) -> str:
        return event_record["dynamodb"]["SequenceNumber"]
