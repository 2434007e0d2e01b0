"""Fault injection: make a handler fail the way real handlers fail, reproducibly.

Four faults, each decided from the seed, the message's business key and the attempt
number, so the same seed gives the same faults however the messages are interleaved::

    faults = Faults(seed=3, failure_rate=0.2, poison_rate=0.01, crash_rate=0.05, slow_rate=0.01)

    def process_message(order):
        faults.start(order["order_id"])        # may fail, may be poison, may be slow
        reserve_stock(order)                   # a first side effect ...
        faults.crash_point(order["order_id"])  # ... then the process dies before the rest
        record_as_processed(order)

* ``failure_rate``: each attempt fails with this probability (a timeout, a throttled
  downstream call): a retry usually succeeds.
* poison (``poison_rate`` or ``poison={keys}``): the message fails on every attempt,
  as a message your code cannot handle does; it must end in a DLQ, not loop forever.
* ``crash_rate``: the handler dies after a partial side effect; the retry must not
  apply that effect twice.
* ``slow_rate``: the handler takes ``slow_seconds`` (on the runtime clock), longer than
  the queue's visibility timeout, so SQS hands the message to another poller meanwhile:
  it is processed twice.

Faults are raised in the handler, so the runtime treats them like any exception.
"""
from __future__ import annotations

import random
import threading
from collections import Counter
from dataclasses import dataclass, field

from labs.sandbox.clock import clock


class InjectedFault(RuntimeError):
    """A failure put there on purpose by ``Faults`` (never a bug in your code)."""


class TransientFailure(InjectedFault):
    pass


class PoisonMessage(InjectedFault):
    pass


class CrashAfterPartialEffect(InjectedFault):
    pass


def _chance(*parts) -> float:
    # A string seed is hashed with SHA-512: the same parts give the same number in every process.
    return random.Random(":".join(map(str, parts))).random()


def _check_rate(name: str, value: float) -> None:
    if not 0.0 <= value <= 1.0:
        raise ValueError(f"{name} は 0〜1 で指定してください (指定値: {value})")


@dataclass
class Faults:
    seed: int = 0
    failure_rate: float = 0.0
    poison_rate: float = 0.0
    poison: frozenset[str] = frozenset()
    crash_rate: float = 0.0
    slow_rate: float = 0.0
    slow_seconds: float = 60.0
    injected: Counter = field(default_factory=Counter, init=False, repr=False)  # fault kind -> times
    attempts: Counter = field(default_factory=Counter, init=False, repr=False)  # key -> start() calls

    def __post_init__(self) -> None:
        for name in ("failure_rate", "poison_rate", "crash_rate", "slow_rate"):
            _check_rate(name, getattr(self, name))
        self.poison = frozenset(self.poison)
        self._lock = threading.Lock()

    def is_poison(self, key: str) -> bool:
        return key in self.poison or (self.poison_rate > 0 and _chance(self.seed, "poison", key) < self.poison_rate)

    def start(self, key: str) -> None:
        """Call first in the handler, per message: fails, poisons or slows this attempt."""
        with self._lock:
            self.attempts[key] += 1
            attempt = self.attempts[key]
        if self.is_poison(key):
            self._count("poison")
            raise PoisonMessage(f"注入された障害: 処理できないメッセージ (poison) です: {key}")
        if _chance(self.seed, "fail", key, attempt) < self.failure_rate:
            self._count("failure")
            raise TransientFailure(f"注入された障害: 一時的な失敗 ({key}, {attempt} 回目)")
        if _chance(self.seed, "slow", key, attempt) < self.slow_rate:
            self._count("slow")
            clock.skip(self.slow_seconds)  # the handler "takes" this long on the runtime clock

    def crash_point(self, key: str) -> None:
        """Call between two side effects: the process may die here, after the first one."""
        attempt = self.attempts[key]
        if _chance(self.seed, "crash", key, attempt) < self.crash_rate:
            self._count("crash")
            raise CrashAfterPartialEffect(f"注入された障害: 副作用の途中でクラッシュ ({key}, {attempt} 回目)")

    def _count(self, kind: str) -> None:
        with self._lock:
            self.injected[kind] += 1

    def summary(self) -> str:
        kinds = ("failure", "poison", "crash", "slow")
        return " ".join(f"{kind}={self.injected[kind]}" for kind in kinds)
