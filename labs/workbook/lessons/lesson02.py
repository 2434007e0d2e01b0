"""Lesson 02: watching consumers work at their own pace."""
from __future__ import annotations

import time
from typing import Callable

from labs.observe.queues import depth


def watch_queue_depths(runtime, queues: dict[str, str], *, until: Callable[[], bool], seconds: float = 10.0,
                       every: float = 0.05) -> list[tuple[float, dict[str, int]]]:
    """Run ``runtime``'s consumers in their own threads and sample each queue's depth every
    ``every`` seconds until ``until()`` holds (at most ``seconds``): [(elapsed, {name: depth})]."""
    def sample(started: float) -> tuple[float, dict[str, int]]:
        return time.monotonic() - started, {name: depth(url) for name, url in queues.items()}

    samples = []
    started = time.monotonic()
    with runtime.running():  # from here each consumer polls its queue in a thread of its own
        while time.monotonic() - started < seconds:
            samples.append(sample(started))
            if until():
                break
            time.sleep(every)
    samples.append(sample(started))
    return samples
