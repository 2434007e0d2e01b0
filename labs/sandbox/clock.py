"""The runtime's clock: real time, plus the waits it was allowed to skip.

AWS makes a failed SQS message wait out its visibility timeout (30 s by default) and
retries an async Lambda invocation after a minute. A notebook cannot wait that long, so
in step-wise mode the runtime *skips* such waits: ``now()`` jumps ahead by the wait,
exactly as if it had passed. Every time shown in the workbook is read from this clock,
so timelines show the waits AWS would make, without making the learner sit through them.

The clock only ever moves forward. What a timeline calls "+0.000s" is the recorder's
business (``recorder.clear()`` marks a new zero), not the clock's: sources that remember
a moment (a schedule's last fire time, a parked retry's due time) can trust it.
"""
from __future__ import annotations

import threading
import time
from datetime import datetime, timedelta, timezone


class Clock:
    def __init__(self) -> None:
        """Time zero is now (when the kernel first imported the clock); nothing has been skipped."""
        self._lock = threading.Lock()
        self._origin = time.monotonic()
        self._skipped = 0.0
        self._origin_datetime = datetime.now(timezone.utc)

    def now(self) -> float:
        """Seconds since time zero, skipped waits included."""
        return time.monotonic() - self._origin + self._skipped

    def datetime(self) -> datetime:
        """The wall-clock date and time the runtime believes it is (UTC)."""
        return self._origin_datetime + timedelta(seconds=self.now())

    def skip(self, seconds: float) -> None:
        """Let ``seconds`` pass at once."""
        if seconds > 0:
            with self._lock:
                self._skipped += seconds

    def skip_to(self, moment: float) -> None:
        self.skip(moment - self.now())


clock = Clock()  # one clock per kernel: the runtime and the recorder read the same time
