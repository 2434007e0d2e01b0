"""Calling a handler the way Lambda does: a fresh context, a private copy of the event,
and every outcome (a return value, an exception, an exit, a timeout) caught and written down.

A handler that raises never takes the runtime down: the exception becomes an
``Invocation`` with ``error`` set, and the event source decides, as AWS would, whether
the messages are retried, moved to a DLQ or sent to an on-failure destination. That holds
for ``SystemExit``, ``KeyboardInterrupt``, ``GeneratorExit`` and ``asyncio.CancelledError``
raised *by the handler* too: Lambda records them as a function error (``Runtime.ExitError``).

The handler runs in a thread of its own (a Lambda execution environment, reused by the next
invocation once it is free, as Lambda reuses warm ones), and the caller waits for it at most the
function's timeout. Lambda stops a function at its timeout; Python cannot stop a thread.
So at the deadline the invocation fails ("Task timed out after N.NN seconds"), the event
source treats it as failed, and the call is *abandoned*: its later publishes are refused
(on AWS they never happen) and, when it finally returns, a note says so.

Ctrl-C in the notebook (KeyboardInterrupt in the kernel's main thread while the runtime
waits for a handler) abandons the call the same way and raises ``InvocationInterrupted``
(a KeyboardInterrupt): the event source puts its messages back as AWS would, and the cell stops.
"""
from __future__ import annotations

import asyncio
import contextvars
import copy
import queue
import threading
import time
import traceback
from dataclasses import dataclass, field
from typing import Any, Callable

from labs.observe import recorder
from labs.runtime.context import LambdaContext
from labs.sandbox.clock import clock

Handler = Callable[[dict, LambdaContext], Any]
Job = Callable[[Callable[[], None]], None]  # runs one invocation; calls its argument once the thread is free

# What a Python process exiting looks like to Lambda: the runtime dies, the invocation fails.
EXITS = (SystemExit, KeyboardInterrupt, GeneratorExit, asyncio.CancelledError)
EXIT_ERROR = "Runtime.ExitError"


@dataclass(eq=False)  # one invocation is itself, whatever it holds
class Invocation:
    function_name: str
    event: dict
    result: Any = None
    error: BaseException | None = None
    traceback: str = ""
    duration: float = 0.0
    timed_out: bool = False
    timeout_seconds: float = 30
    started: float = field(default_factory=clock.now)  # on the runtime clock
    abandoned: str = ""  # why the runtime stopped waiting: "timeout" | "interrupt" ("" = it did not)
    finished: threading.Event = field(default_factory=threading.Event, repr=False, compare=False)

    @property
    def ok(self) -> bool:
        return self.error is None and not self.timed_out

    @property
    def error_type(self) -> str:
        """What Lambda reports as the function error's type."""
        if self.timed_out:
            return "Sandbox.Timedout"
        if isinstance(self.error, EXITS):
            return EXIT_ERROR
        return type(self.error).__name__ if self.error is not None else ""

    def describe_error(self) -> str:
        if self.timed_out:
            return f"Task timed out after {self.timeout_seconds:.2f} seconds"
        if self.abandoned == "interrupt":
            return "Ctrl-C で中断 (KeyboardInterrupt): この呼び出しの結果は待たずに止めました"
        if self.error is None:
            return ""
        if isinstance(self.error, EXITS):
            return (f"{EXIT_ERROR}: ハンドラーが {type(self.error).__name__} で終了しました "
                    f"(Lambda では関数エラーとして記録され、再試行されます) {self.error}".rstrip())
        return f"{type(self.error).__name__}: {self.error}"


class InvocationInterrupted(KeyboardInterrupt):
    """Ctrl-C while the runtime waited for a handler; ``call`` is the (first) abandoned invocation."""

    def __init__(self, call: Invocation, calls: list[Invocation] | None = None) -> None:
        super().__init__(f"{call.function_name} の呼び出しを待っている間に中断しました")
        self.call = call
        self.calls = calls or [call]  # every call of the interrupted round (concurrent batches)


# The invocation whose handler is running in this context (None outside handlers).
current_invocation: contextvars.ContextVar[Invocation | None] = contextvars.ContextVar(
    "current_invocation", default=None)

_SLICE = 0.05  # seconds between checks for Ctrl-C while waiting for a handler
_lock = threading.Lock()
_running: set[Invocation] = set()  # handlers still running, waited for or abandoned


def still_running() -> list[Invocation]:
    """Handlers that have not returned yet (among them, abandoned ones that run on)."""
    with _lock:
        return [call for call in _running if not call.finished.is_set()]


def invoke(handler: Handler, event: dict, function_name: str, timeout_seconds: float = 30,
           *, scope: Callable[[Invocation], None] | None = None, request_id: str | None = None) -> Invocation:
    """Run ``handler`` for ``event`` in a thread of its own; wait at most ``timeout_seconds``.

    ``scope(call)`` runs first in the handler's context (e.g. to set what the handler's
    sends carry, see labs.runtime.recursion). ``request_id``: an async event keeps one
    request id through its retries, as on Lambda.
    """
    return invoke_concurrently(handler, [(event, scope)], function_name, timeout_seconds, request_id=request_id)[0]


def invoke_concurrently(handler: Handler, events: list[tuple[dict, Callable[[Invocation], None] | None]],
                        function_name: str, timeout_seconds: float = 30, *,
                        request_id: str | None = None) -> list[Invocation]:
    """Run one invocation per ``(event, scope)`` at the same time, each in a thread of its own
    (an event source mapping's concurrent batches); wait for them at most ``timeout_seconds``.

    Ctrl-C abandons every call still running and raises ``InvocationInterrupted`` (its ``calls``).
    """
    prepared = [_prepare(handler, event, function_name, timeout_seconds, scope, request_id)
                for event, scope in events]
    deadline = time.monotonic() + timeout_seconds
    started: list[Job] = []
    try:
        for _, job in prepared:
            started.append(job)  # first: Ctrl-C may land while the job is being handed over
            _Environment.run_next(job)
        for call, _ in prepared:
            # Short slices: a Ctrl-C that lands just before a long wait begins is still seen at once.
            while not (done := call.finished.wait(min(_SLICE, max(0.0, deadline - time.monotonic())))):
                if time.monotonic() >= deadline:
                    break
            if not done and _abandon(call, "timeout"):
                call.timed_out = True
                call.duration = float(timeout_seconds)
    except KeyboardInterrupt:  # Ctrl-C in the notebook, not the handler's own exception
        for call, job in prepared:
            if job not in started:
                _never_started(call)
        abandoned = [call for call, _ in prepared if _abandon(call, "interrupt")]
        if abandoned:
            raise InvocationInterrupted(abandoned[0], [call for call, _ in prepared]) from None
    return [call for call, _ in prepared]


def _prepare(handler: Handler, event: dict, function_name: str, timeout_seconds: float,
             scope: Callable[[Invocation], None] | None, request_id: str | None) -> tuple[Invocation, Job]:
    """The invocation and the job that will run it (in a fresh context, on an environment's thread)."""
    context = LambdaContext(function_name=function_name, timeout_seconds=timeout_seconds)
    if request_id:
        context.aws_request_id = request_id
    call = Invocation(function_name, event, timeout_seconds=timeout_seconds)

    def run(release: Callable[[], None]) -> None:
        current_invocation.set(call)
        if scope is not None:
            scope(call)
        began = time.monotonic()
        try:
            call.result = handler(copy.deepcopy(event), context)
        except BaseException as error:  # an exit too: Lambda's Runtime.ExitError, never the runtime's end
            call.error = error
            call.traceback = traceback.format_exc()
        call.duration = time.monotonic() - began
        with _lock:
            _running.discard(call)
            release()  # free for the next invocation before anyone is told this one ended
            call.finished.set()
            late = call.abandoned
        if late:
            _say_it_ended_late(call)

    with _lock:
        _running.add(call)
    return call, lambda release: contextvars.Context().run(run, release)


class _Environment(threading.Thread):
    """A thread that runs one handler after another, like a warm Lambda execution environment.

    Starting a thread costs more than a small handler (``make bench``: runtime/bare), so a free
    one is reused. One still running an abandoned call (a timeout, Ctrl-C) is not free: the next
    invocation gets another thread, and a stuck handler never holds up the rest.
    """

    _free: list[_Environment] = []

    def __init__(self) -> None:
        super().__init__(daemon=True, name="lambda-environment")
        self.jobs: queue.SimpleQueue[Job] = queue.SimpleQueue()

    @classmethod
    def run_next(cls, job: Job) -> None:
        with _lock:
            environment = cls._free.pop() if cls._free else None
        if environment is None:
            environment = cls()
            environment.start()
        environment.jobs.put(job)

    def run(self) -> None:
        while True:
            self.jobs.get()(self._release)  # the job catches everything the handler raises

    def _release(self) -> None:  # called by the job, holding _lock
        self._free.append(self)


def _never_started(call: Invocation) -> None:
    """Ctrl-C came before this call's thread began: it never runs, so nothing waits for it."""
    with _lock:
        _running.discard(call)
        call.abandoned = "interrupt"
        call.finished.set()


def _abandon(call: Invocation, why: str) -> bool:
    """Stop waiting for ``call`` unless it has finished meanwhile; True if it was abandoned."""
    with _lock:
        if call.finished.is_set():
            return False
        call.abandoned = why
        return True


def _say_it_ended_late(call: Invocation) -> None:
    when = "タイムアウト" if call.abandoned == "timeout" else "Ctrl-C での中断"
    recorder.record("note", "runtime", call.function_name, "late", 1, (
        f"{when}の後もハンドラーは動き続け、{call.duration:.1f} 秒で終わりました。AWS では{when}の時点で"
        "関数は止まるので、その後の副作用は起きません (ここではその後の送信を拒否しました。"
        "DynamoDB などへの書き込みは止められないので、結果を確かめてください)"))


def refuse_if_abandoned() -> None:
    """Called before each publish: a handler that was abandoned must not publish on (AWS stopped it)."""
    call = current_invocation.get()
    if call is not None and call.abandoned:
        raise FunctionStopped(call)


class FunctionStopped(RuntimeError):
    """A send from a handler that AWS would already have stopped (timeout or Ctrl-C)."""

    def __init__(self, call: Invocation) -> None:
        super().__init__(
            f"{call.function_name} は {'タイムアウト' if call.abandoned == 'timeout' else '中断'}で止まった呼び出しです。"
            "AWS ではこの送信は起きないので、送信しませんでした "
            f"({call.function_name} was stopped by {call.abandoned}; on AWS this send would never happen)")
