"""How a standard SQS queue hands messages over: exactly, or realistically.

moto hands messages back in the order they were sent and never twice. Real standard
queues promise neither: delivery is *at least once* (a message you already processed
and deleted can come again) and *best-effort ordering* (messages arrive shuffled).
Code that is only ever tested against moto never meets either, so the local runtime
can be asked to behave like the real thing::

    runtime = LocalRuntime(delivery=RealisticDelivery(seed=7, duplicate_rate=0.1))

* ``ExactDelivery`` (the default): what moto does. Deterministic.
* ``RealisticDelivery``: seeded, so a run can be repeated exactly. Each received batch
  is shuffled; each message that was processed and deleted is, with
  ``duplicate_rate``, handed over once more a little later, as a copy SQS kept.

Either way, a handler that ran longer than the queue's visibility timeout sees its
messages again: SQS made them visible while the handler was still busy, and another
poller took them. FIFO queues keep their order and are never duplicated here.

A copy is never deleted from SQS (the message is gone already). If the handler fails
on a copy, the copy comes back after the visibility timeout, up to maxReceiveCount
times; then it is dropped with a note, since the original was processed.
"""
from __future__ import annotations

import random
import threading
from dataclasses import dataclass

from labs.observe import recorder
from labs.sandbox.clock import clock

_COPY = "LabsCopy"  # marks a copy in the receive_message dict; never reaches the handler


@dataclass
class _Held:
    due: float
    message: dict
    attempts: int = 0


class QueueDelivery:
    """One queue's delivery: arranges what was received, and keeps copies to hand over later."""

    def __init__(self, queue_name: str, visibility_timeout: float, *, rng: random.Random | None = None,
                 duplicate_rate: float = 0.0, reorder: bool = False, max_attempts: int = 3) -> None:
        self.queue_name = queue_name
        self.visibility_timeout = visibility_timeout
        self.rng = rng
        self.duplicate_rate = duplicate_rate
        self.reorder = reorder
        self.max_attempts = max_attempts
        self._held: list[_Held] = []
        self._lock = threading.Lock()

    @staticmethod
    def is_copy(message: dict) -> bool:
        return bool(message.get(_COPY))

    @property
    def pending(self) -> int:
        """Copies waiting to be handed over."""
        return len(self._held)

    def next_due(self) -> float | None:
        with self._lock:
            return min((h.due for h in self._held), default=None)

    def arrange(self, received: list[dict], batch_size: int, function_name: str) -> list[dict]:
        """What the handler gets: the received messages (shuffled when reordering),
        plus copies that are due, up to ``batch_size``."""
        now = clock.now()
        ids = {m["MessageId"] for m in received}
        with self._lock:
            due = [h for h in self._held if h.due <= now and h.message["MessageId"] not in ids]
            due = due[: max(0, batch_size - len(received))]
            taken = {id(h) for h in due}
            self._held = [h for h in self._held if id(h) not in taken]
        copies = [self._copy_of(h) for h in due]
        batch = list(received) + copies
        if self.reorder and self.rng is not None and len(batch) > 1:
            self.rng.shuffle(batch)
        if copies:
            recorder.record("deliver", self.queue_name, function_name, "duplicate", len(copies),
                            "重複配信 (処理済みのメッセージがもう一度届きました)",
                            [m["MessageId"] for m in copies])
        return batch

    def settled(self, handed: list[dict], failed_ids: set[str], overran: bool) -> None:
        """After a batch: decide which messages SQS will hand over again."""
        now = clock.now()
        held = []
        for message in handed:
            failed = message["MessageId"] in failed_ids
            if self.is_copy(message):
                if failed:
                    attempts = message[_COPY]
                    if attempts >= self.max_attempts:
                        recorder.record("note", self.queue_name, "(破棄)", "duplicate", 1,
                                        f"重複コピーが {attempts} 回失敗したので破棄 (元のメッセージは処理済み)",
                                        [message["MessageId"]])
                    else:
                        held.append(_Held(now + self.visibility_timeout, message, attempts))
                continue
            if failed:
                continue  # back to the queue by SQS itself: not a copy
            if overran:  # visible again before the delete: another poller already has it
                held.append(_Held(now, message))
            elif self.duplicate_rate and self.rng is not None and self.rng.random() < self.duplicate_rate:
                held.append(_Held(now + self.rng.uniform(0, self.visibility_timeout), message))
        with self._lock:
            self._held += held

    def _copy_of(self, held: _Held) -> dict:
        copy = dict(held.message)
        attributes = dict(copy.get("Attributes", {}))
        receives = int(attributes.get("ApproximateReceiveCount", 1)) + 1
        attributes["ApproximateReceiveCount"] = str(receives)
        copy["Attributes"] = attributes
        copy[_COPY] = held.attempts + 1
        return copy


class ExactDelivery:
    """moto's delivery: in order, once (except after a handler overran the visibility timeout)."""

    def for_queue(self, queue_name: str, visibility_timeout: float, max_receive_count: int | None = None) -> QueueDelivery:
        return QueueDelivery(queue_name, visibility_timeout, max_attempts=max_receive_count or 3)

    def __repr__(self) -> str:
        return "ExactDelivery()"


@dataclass(frozen=True)
class RealisticDelivery:
    """Standard SQS as AWS runs it: duplicates and reordering, seeded for repeatability."""

    seed: int = 0
    duplicate_rate: float = 0.05
    reorder: bool = True

    def __post_init__(self) -> None:
        if not 0.0 <= self.duplicate_rate <= 1.0:
            raise ValueError(f"duplicate_rate は 0〜1 で指定してください (指定値: {self.duplicate_rate})")

    def for_queue(self, queue_name: str, visibility_timeout: float, max_receive_count: int | None = None) -> QueueDelivery:
        if queue_name.endswith(".fifo"):  # FIFO: exactly-once processing, strict order per group
            return ExactDelivery().for_queue(queue_name, visibility_timeout, max_receive_count)
        # One random stream per queue: the same seed gives the same run, whatever the polling order.
        rng = random.Random(f"{self.seed}:{queue_name}")
        return QueueDelivery(queue_name, visibility_timeout, rng=rng, duplicate_rate=self.duplicate_rate,
                             reorder=self.reorder, max_attempts=max_receive_count or 3)
