"""Recording the flow of messages: every publish, delivery and invocation, on the sandbox clock.

Producers stay plain boto3: publishes are heard as the sandbox tells its listeners of every
AWS call of the process (``labs.sandbox.on_call``), whatever client made it, so nothing in a
producer knows it is being watched. The local runtime records deliveries and invocations.
"""
from __future__ import annotations

import threading
from dataclasses import dataclass, field

from labs import sandbox
from labs.observe.tables import Table
from labs.sandbox.clock import clock
from labs.sandbox.mends import queue_policies

# Operations that put messages into the system: (botocore service id, operation) -> name.
_PUBLISHING = {
    ("eventbridge", "PutEvents"): "put_events",
    ("sns", "Publish"): "publish",
    ("sns", "PublishBatch"): "publish_batch",
    ("sqs", "SendMessage"): "send_message",
    ("sqs", "SendMessageBatch"): "send_message_batch",
    ("kinesis", "PutRecord"): "put_record",
    ("kinesis", "PutRecords"): "put_records",
}


@dataclass(frozen=True)
class Record:
    t: float  # seconds since the recorder was last cleared, on the runtime clock
    kind: str  # publish | deliver | invoke | dlq | redrive | schedule | note
    source: str  # where it came from (bus, topic, queue, table, producer)
    target: str  # where it went (function, queue)
    outcome: str  # ok | error | partial | retry | ...
    count: int = 1
    detail: str = ""
    ids: tuple[str, ...] = field(default=())
    failed: int = 0  # of ``count``, how many did not go through (a publish's failed entries)


class Recorder:
    """An append-only log of what happened, safe to write from several threads."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self.records: list[Record] = []
        self._zero = clock.now()  # the clock reading shown as +0.000s

    def record(self, kind, source, target, outcome="ok", count=1, detail="", ids=(), t=None, failed=0) -> Record:
        """Write down one happening, at clock reading ``t`` (default: now)."""
        at = (clock.now() if t is None else t) - self._zero
        entry = Record(at, kind, source, target, outcome, count, detail, tuple(ids), failed)
        with self._lock:
            self.records.append(entry)
        return entry

    def now(self) -> float:
        """The time a timeline shows for a happening now: seconds since the last clear()."""
        return clock.now() - self._zero

    def clear(self) -> None:
        """Forget everything; what happens next is timed from zero. The clock itself goes on."""
        with self._lock:
            self.records.clear()
            self._zero = clock.now()

    def select(self, kind: str | None = None, target: str | None = None, source: str | None = None):
        return [
            r for r in list(self.records)
            if (kind is None or r.kind == kind)
            and (target is None or r.target == target)
            and (source is None or r.source == source)
        ]

    def table(self, kind: str | None = None, limit: int | None = None) -> Table:
        rows = self.select(kind)[:limit]
        return Table(
            ["時刻", "種類", "送信元", "宛先", "結果", "件数", "詳細"],
            [[f"+{r.t:.3f}s", r.kind, r.source, r.target, r.outcome, r.count, r.detail] for r in rows],
        )

    def timeline(self, title: str = "メッセージの流れ", ax=None):
        """One lane per target; a dot per record, coloured by outcome."""
        from labs.observe.plots import timeline

        return timeline(self.records, title=title, ax=ax)


recorder = Recorder()  # one per kernel, shared by the runtime and the publish hooks


# --- publish hooks ---------------------------------------------------------------------

def _target_of(service: str, params: dict) -> str:
    if service == "eventbridge":
        buses = {e.get("EventBusName", "default") for e in params.get("Entries", [])}
        return ",".join(sorted(b.rsplit("/", 1)[-1] for b in buses))
    if service == "sns":
        return (params.get("TopicArn") or params.get("TargetArn") or "").rsplit(":", 1)[-1]
    if service == "sqs":
        return params.get("QueueUrl", "").rsplit("/", 1)[-1]
    return params.get("StreamName", "")


def _summarise(params: dict, parsed: dict) -> tuple[int, int, list[str], str]:
    """(messages sent, messages failed, their ids, error code) of one publishing call."""
    sent = params.get("Entries") or params.get("PublishBatchRequestEntries") or params.get("Records") or [params]
    error = (parsed.get("Error") or {}).get("Code", "")
    failed = len(sent) if error else (
        parsed.get("FailedEntryCount") or parsed.get("FailedRecordCount") or len(parsed.get("Failed") or []))
    results = parsed.get("Entries") or parsed.get("Successful") or parsed.get("Records") or [parsed]
    ids = [r[key] for r in results for key in ("EventId", "MessageId", "SequenceNumber") if r.get(key)]
    return len(sent), failed, ids, error


# Who else wants to see publishes (the runtime: recursion tracking, stopped handlers).
# ``before(service, operation, params)`` may refuse a publish by raising;
# ``after(service, operation, params, ids)`` learns the ids of what was published.
_watchers: list[tuple] = []


def watch_publishes(before=None, after=None) -> None:
    """Call ``before``/``after`` around every publishing call (registered once per pair)."""
    if (before, after) not in _watchers:
        _watchers.append((before, after))


def _before_call(service: str, operation: str, params: dict) -> None:
    if (service, operation) in _PUBLISHING:
        for before, _ in list(_watchers):
            if before is not None:
                before(service, operation, params)


def _on_call(service: str, operation: str, params: dict, response: dict) -> None:
    """Record a publishing call (any other call passes by), and tell the watchers."""
    name = _PUBLISHING.get((service, operation))
    if name is None:
        _record_refusals()  # a replay, say, may deliver too
        return
    sent, failed, ids, error = _summarise(params, response)
    outcome = "error" if error or failed == sent else ("partial" if failed else "ok")
    detail = error or (f"{failed} 件失敗" if failed else "")
    recorder.record("publish", name, _target_of(service, params), outcome, sent, detail, ids, failed=failed)
    _record_refusals()
    for _, after in list(_watchers):
        if after is not None:
            after(service, operation, params, ids)


def _record_refusals() -> None:
    """Deliveries a queue's policy refused during the call (in-process sandbox only: the mend
    runs where moto runs), shown after the publish that caused them."""
    while queue_policies.refusals:
        refused = queue_policies.refusals.popleft()
        gone = ("ターゲットの DLQ へ (ERROR_CODE NO_PERMISSIONS)" if refused.dead_letter_queue
                else "DLQ がないので破棄")
        recorder.record("dlq", refused.source_arn.rsplit("/" if refused.service == "events" else ":", 1)[-1],
                        refused.dead_letter_queue or "(破棄)", "error", 1,
                        f"キュー {refused.queue_arn.rsplit(':', 1)[-1]} が拒否: {refused.reason}。再試行なし、{gone}")


def attach() -> None:
    """Listen to every AWS call of this process, whatever client makes it (the sandbox tells its listeners)."""
    sandbox.on_call("labs.observe.recording", _on_call, before=_before_call)


attach()  # the recorder hears every publish from the moment it exists
