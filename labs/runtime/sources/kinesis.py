"""Lambda's Kinesis event source mapping: shard by shard, in order, with checkpoints.

moto keeps Kinesis records but runs no Lambda, so nothing reads a stream for a function.
``KinesisSource`` does what Lambda's poller does (AWS: lambda/latest/dg/with-kinesis.html):
one batch per shard at a time, the ``Records[].kinesis`` event, ``ReportBatchItemFailures``
with sequence numbers, bisecting, retry and age limits, and an on-failure destination that
receives where the discarded records were (not the records). The checkpoint rules live in
``shards.py``; this module turns a batch into an invocation and its answer into an ``Outcome``.
"""
from __future__ import annotations

from labs import sandbox
from labs.observe import recorder
from labs.runtime import shapes
from labs.runtime.context import LambdaContext
from labs.runtime.invoke import Invocation, invoke
from labs.runtime.sources.filter_criteria import FilterCriteria
from labs.runtime.sources.shards import (Discarded, KinesisReader, Outcome, ShardPoller, StreamPolicy,
                                         failure_destination, failure_record)


class KinesisSource:
    """Lambda's event source mapping from a Kinesis data stream to ``handler``."""

    def __init__(self, stream: str, handler, function_name: str, policy: StreamPolicy, *,
                 report_batch_item_failures: bool = False, on_failure: str | None = None,
                 filter_criteria: dict | None = None, timeout: int = 30):
        self.filter_criteria = FilterCriteria(filter_criteria, "kinesis") if filter_criteria is not None else None
        self.reader = KinesisReader(stream)
        self.name = self.reader.name
        self.handler = handler
        self.function_name = function_name
        self.timeout = timeout
        self.report_batch_item_failures = report_batch_item_failures
        self.send_failure = failure_destination(on_failure) if on_failure else None
        self.on_failure = on_failure
        self.invocations: list[Invocation] = []
        self.discarded: list[Discarded] = []
        self.poller = ShardPoller(self.reader, policy, self.name, function_name, self._deliver, self._discard)

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

    # -- one batch ------------------------------------------------------------------------------
    def _deliver(self, shard_id: str, records: list[dict]) -> Outcome:
        role = f"arn:aws:iam::{sandbox.ACCOUNT_ID}:role/{self.function_name}-role"
        event_records = [shapes.kinesis_record(r, shard_id, self.reader.arn, sandbox.current().region, role)
                         for r in records]
        kept = self._kept(event_records)
        if not kept:
            return Outcome.ok()  # all filtered out: the checkpoint moves past them, nothing is invoked
        call = invoke(self.handler, {"Records": kept}, self.function_name, self.timeout)
        self.invocations.append(call)
        outcome = self._outcome(call, kept, event_records)
        numbers = [r["kinesis"]["sequenceNumber"] for r in kept]
        recorder.record("invoke", f"{self.name}/{shard_id}", self.function_name, outcome.kind, len(kept),
                        outcome.detail, numbers)
        return outcome

    def _kept(self, event_records: list[dict]) -> list[dict]:
        """Records some filter matches (a Kinesis filter reads ``data`` and the ``kinesis`` metadata)."""
        if self.filter_criteria is None:
            return event_records
        kept = [r for r in event_records if self.filter_criteria.keeps(r["kinesis"])]
        skipped = [r["kinesis"]["sequenceNumber"] for r in event_records if r not in kept]
        if skipped:
            recorder.record("filter", self.name, self.function_name, "ignored", len(skipped),
                            "フィルターに合わず読み飛ばし", skipped)
        return kept

    def _outcome(self, call: Invocation, kept: list[dict], batch: list[dict]) -> Outcome:
        """Lambda's reading of the answer (services-kinesis-batchfailurereporting.html)."""
        if not call.ok:
            return Outcome.error(call.describe_error())
        if not self.report_batch_item_failures:
            return Outcome.ok()  # the return value is not read
        result = call.result
        items = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not items:
            return Outcome.ok()  # None, {}, or an empty list: complete success
        numbers = [r["kinesis"]["sequenceNumber"] for r in batch]
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
        recorder.record("dlq", f"{self.name}/{discarded.shard_id}", self.on_failure or "(破棄)", "dlq",
                        len(numbers), discarded.condition, numbers)
        if self.send_failure:
            arn = LambdaContext(self.function_name).invoked_function_arn
            self.send_failure(failure_record(self.reader, discarded, arn))
