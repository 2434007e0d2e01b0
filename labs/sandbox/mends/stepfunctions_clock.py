"""Step Functions: a state's ``TimeoutSeconds`` / ``HeartbeatSeconds`` run on the sandbox clock
(MOTO_GAPS: "timeouts wait in real time only").

moto's interpreter waits for a task (a task token's answer, a heartbeat, the state itself) with
``threading.Event.wait(timeout)`` in real time. The runtime lets waits pass at once on the
sandbox clock (a message's visibility timeout, a retry's back-off), so a worker that crashes
and is retried for five clock minutes would still leave the state waiting five real minutes.
Here those waits end when the sandbox clock says the time is up, whichever comes first: a
``States.Timeout`` then goes through the state's ``Catch`` exactly as on AWS.
"""
from __future__ import annotations

import threading

from labs.sandbox.clock import clock

POLL_SECONDS = 0.02  # how often a waiting state looks at the clock


class ClockEvent(threading.Event):
    """An Event whose ``wait(timeout)`` ends when ``timeout`` has passed on the sandbox clock."""

    def wait(self, timeout: float | None = None) -> bool:
        if timeout is None:
            return super().wait()
        deadline = clock.now() + timeout
        while not super().wait(min(max(deadline - clock.now(), 0), POLL_SECONDS)):
            if clock.now() >= deadline:
                return self.is_set()
        return True


class _ThreadingWithClockEvents:
    """``threading`` as moto's state module sees it, except that its Events read the clock."""

    Event = ClockEvent

    def __getattr__(self, name):
        return getattr(threading, name)


def apply() -> None:
    from moto.stepfunctions.parser.asl.component.state.exec import execute_state
    from moto.stepfunctions.parser.asl.eval.callback import callback

    execute_state.threading = _ThreadingWithClockEvents()  # the state's own TimeoutSeconds
    callback.Event = ClockEvent  # a task token's answer and its heartbeats
