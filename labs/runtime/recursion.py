"""Recursive loop detection, as Lambda does it for SQS and SNS.

A handler that sends to the very queue or topic that invokes it runs for ever (and bills
for ever). Lambda counts the invocations of one *chain* (the invocations caused, one after
another, by the same first event) and stops the chain after 16 of them:

    "If a function is invoked by the same triggering event more than 16 times, Lambda will
    stop the next invocation and sends the event to a Dead-Letter Queue or on-failure
    destination, if configured."
    (https://aws.amazon.com/about-aws/whats-new/2023/07/aws-lambda-detects-recursive-loops-lambda-functions/ ,
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-recursion.html)

AWS carries the count in the X-Ray trace header of each message a function sends
(``AWSTraceHeader``). moto carries no such header through SNS, so this runtime keeps the
same facts beside the message, in this kernel: a message sent (SQS ``SendMessage``,
SNS ``Publish`` and their batches) from inside a handler carries that invocation's chain
and depth, keyed by its message id. EventBridge is not tracked, as on AWS.
"""
from __future__ import annotations

import contextvars
import json
import threading
import uuid
from collections import OrderedDict
from dataclasses import dataclass

from labs.observe import recording

MAX_CHAIN_INVOCATIONS = 16  # Lambda stops the 17th invocation of one chain
# The ``condition`` of the on-failure record for a stopped async event. AWS documents that the event
# goes to the DLQ or on-failure destination, not what the record's condition says (the documented
# conditions are RetriesExhausted and EventAgeExceeded); this runtime names the error Lambda
# returns for a stopped invocation (API error RecursiveInvocationException).
STOPPED_CONDITION = "RecursiveInvocationException"
_TRACKED = {"sqs", "sns"}  # services whose messages carry the chain on AWS
_REMEMBERED = 10_000  # message ids kept (oldest forgotten first)


@dataclass(frozen=True)
class Lineage:
    chain: str  # the first event's chain id
    depth: int  # invocations of the chain so far

    def describe(self) -> str:
        return f"連鎖 {self.chain[:8]} の {self.depth} 回目"


_current: contextvars.ContextVar[Lineage | None] = contextvars.ContextVar("lineage", default=None)
_sent: OrderedDict[str, Lineage] = OrderedDict()
_lock = threading.Lock()


def track() -> None:
    """Remember the chain of every message a handler sends (called when a runtime is made)."""
    recording.watch_publishes(after=_remember_sent)


def _remember_sent(service: str, operation: str, params: dict, ids: list[str]) -> None:
    lineage = _current.get()
    if lineage is None or service not in _TRACKED:
        return  # sent from outside a handler: a new chain begins when it is delivered
    with _lock:
        for message_id in ids:
            _sent[message_id] = lineage
        while len(_sent) > _REMEMBERED:
            _sent.popitem(last=False)


def lineage_of(message: dict) -> Lineage | None:
    """The chain an SQS message belongs to: its own id, or the SNS message id it wraps."""
    if not _sent:
        return None
    with _lock:
        found = _sent.get(message["MessageId"])
    if found is not None:
        return found
    body = message.get("Body", "")
    if '"Notification"' not in body:
        return None
    try:
        envelope = json.loads(body)
    except ValueError:
        return None
    with _lock:
        return _sent.get(envelope.get("MessageId", "")) if isinstance(envelope, dict) else None


def next_lineage(messages: list[dict]) -> Lineage:
    """The lineage of an invocation handling ``messages``: one deeper than the deepest chain."""
    known = [lineage for lineage in map(lineage_of, messages) if lineage is not None]
    if not known:
        return Lineage(uuid.uuid4().hex, 1)
    deepest = max(known, key=lambda lineage: lineage.depth)
    return Lineage(deepest.chain, deepest.depth + 1)


def is_looping(message: dict) -> Lineage | None:
    """The message's lineage if invoking for it would exceed Lambda's limit, else None."""
    lineage = lineage_of(message)
    return lineage if lineage is not None and lineage.depth >= MAX_CHAIN_INVOCATIONS else None


class RecursiveInvocationException(Exception):
    """Lambda's answer for an invocation it stopped (the error of the same name in Lambda's API)."""

    def __init__(self) -> None:
        super().__init__("Lambda has detected your function being invoked in a recursive loop with other "
                         "Amazon Web Services resources and stopped your function's invocation.")


def stopped_note(function_name: str, lineage: Lineage, sent_to: list[str]) -> str:
    """What the recorder says about a stopped chain, and where its event went (empty: dropped)."""
    where = f"{', '.join(sent_to)} へ送ります" if sent_to else "送り先 (DLQ / on_failure) がないので捨てます"
    return (f"再帰ループを検出: {function_name} は{lineage.describe()}まで呼ばれました。Lambda は同じ連鎖の "
            f"{MAX_CHAIN_INVOCATIONS} 回を超える呼び出しを止め、イベントを {where}。"
            "ハンドラーが自分を呼び出すキュー/トピックへ送っていないか確かめてください")


def carry(lineage: Lineage):
    """For ``invoke(scope=...)``: what the handler sends carries ``lineage``."""
    return lambda call: _current.set(lineage)
