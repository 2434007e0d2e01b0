"""Calling a handler the way Lambda does: a fresh context, a private copy of the event,
and every outcome (a return value, an exception, a timeout) caught and written down.

A handler that raises never takes the runtime down: the exception becomes an
``Invocation`` with ``error`` set, and the event source decides, as AWS would, whether
the messages are retried, moved to a DLQ or sent to an on-failure destination.
"""
from __future__ import annotations

import copy
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from labs.runtime.context import LambdaContext
from labs.sandbox.clock import clock

Handler = Callable[[dict, LambdaContext], Any]


@dataclass
class Invocation:
    function_name: str
    event: dict
    result: Any = None
    error: BaseException | None = None
    traceback: str = ""
    duration: float = 0.0
    timed_out: bool = False
    started: float = field(default_factory=clock.now)  # on the runtime clock

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out

    def describe_error(self) -> str:
        if self.timed_out:
            return f"タイムアウト ({self.duration:.1f} 秒)"
        if self.error is None:
            return ""
        return f"{type(self.error).__name__}: {self.error}"


def invoke(handler: Handler, event: dict, function_name: str, timeout_seconds: int = 30,
           request_id: str | None = None) -> Invocation:
    """``request_id``: an async event keeps one request id through its retries, as on Lambda."""
    context = LambdaContext(function_name=function_name, timeout_seconds=timeout_seconds)
    if request_id:
        context.aws_request_id = request_id
    call = Invocation(function_name, event)
    started = time.monotonic()
    try:
        call.result = handler(copy.deepcopy(event), context)
    except Exception as error:  # a handler's failure is data for the event source, not a crash
        call.error = error
        call.traceback = traceback.format_exc()
    call.duration = time.monotonic() - started
    # Lambda stops a function at its timeout; a thread cannot be stopped, so the runtime lets
    # it finish and then treats the invocation as timed out, side effects included.
    call.timed_out = call.duration > timeout_seconds
    return call
