"""Event sources: what Lambda's pollers and AWS's service integrations do between
the services and your function. One module per kind of source:

* ``sqs.SqsSource``: an SQS event source mapping (batches, ``ReportBatchItemFailures``,
  the visibility timeout before a retry, SQS's RedrivePolicy moving a message to the DLQ).
* ``asynchronous.AsyncSource``: an asynchronous invocation (EventBridge rule -> Lambda,
  SNS -> Lambda): one event per invocation, up to two retries, then the function's
  on-failure destination or DLQ (``labs.runtime.destinations``), or discarded.
* ``stream.StreamSource``: a DynamoDB Streams event source mapping, shard by shard, in order
  (``stream.StreamMapping``: what it shares with the Kinesis mapping; checkpoints in ``shards.py``).
* ``schedule.ScheduleSource``: a scheduled EventBridge rule firing on the runtime clock.
* ``kinesis.KinesisSource``: a Kinesis event source mapping (a ``stream.StreamMapping`` too).
* ``pipes.PipeQueueSource`` / ``pipes.PipeStreamSource``: an EventBridge pipe (filter, enrichment, target).
* ``eventbridge_scheduler.SchedulerSource``: EventBridge Scheduler's schedules (at / rate / cron
  in a time zone, flexible windows, retry policy and DLQ) firing on the runtime clock.

``filter_criteria.FilterCriteria`` is what the SQS and stream mappings (and Pipes) filter with.

Every source is a ``Source``: the runtime only ever calls what this protocol names, so a
new kind of source is one new module here that implements it.
"""
from __future__ import annotations

from typing import Protocol, runtime_checkable

from labs.runtime.invoke import Invocation


@runtime_checkable
class Source(Protocol):
    """What the runtime needs from an event source."""

    function_name: str  # the Lambda function the source invokes
    name: str  # where its events come from (queue, bus/rule, topic, table), as notes show it
    invocations: list[Invocation]  # every invocation made, in order

    def poll(self) -> int:
        """Hand over what is due now; return how many invocations were made."""

    def next_due(self) -> float | None:
        """When (runtime clock) a parked message or retry comes due; None if nothing waits."""

    @property
    def parked(self) -> int:
        """Messages waiting out a visibility timeout or retry delay."""


def identity(source: Source) -> tuple[str, str, str]:
    """Which mapping a source is: one function, one origin, one kind of source.

    Wiring the same identity again (re-running a notebook cell) replaces the source.
    """
    return type(source).__name__, source.function_name, source.name


from labs.runtime.sources.asynchronous import ASYNC_RETRY_DELAYS, AsyncSource  # noqa: E402
from labs.runtime.sources.eventbridge_scheduler import SchedulerSource  # noqa: E402
from labs.runtime.sources.kinesis import KinesisSource  # noqa: E402
from labs.runtime.sources.schedule import ScheduleSource  # noqa: E402
from labs.runtime.sources.sqs import SqsSource  # noqa: E402
from labs.runtime.sources.stream import StreamSource  # noqa: E402

__all__ = ["Source", "identity", "SqsSource", "AsyncSource", "StreamSource", "ScheduleSource",
           "SchedulerSource", "KinesisSource", "ASYNC_RETRY_DELAYS"]
