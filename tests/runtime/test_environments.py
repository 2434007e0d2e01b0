"""Handlers run on reusable threads, as Lambda reuses warm execution environments; an abandoned
call keeps its thread, so a stuck handler never holds up the next invocation."""
import threading

import pytest

from labs.runtime.invoke import invoke

pytestmark = pytest.mark.no_sandbox


def test_a_free_environment_runs_the_next_invocation():
    seen = []
    for n in range(3):
        call = invoke(lambda event, context: seen.append(threading.get_ident()), {"n": n}, "warm")
        assert call.ok
    assert len(set(seen)) == 1 and seen[0] != threading.get_ident()


def test_an_abandoned_call_keeps_its_thread_and_the_next_one_runs_elsewhere():
    release = threading.Event()
    stuck = invoke(lambda event, context: release.wait(10), {}, "stuck", timeout_seconds=0.2)
    assert stuck.timed_out and not stuck.finished.is_set()
    try:
        threads = []
        after = invoke(lambda event, context: threads.append(threading.get_ident()) or "done", {}, "next")
        assert after.ok and after.result == "done"
    finally:
        release.set()
    assert stuck.finished.wait(5)


def test_each_invocation_gets_its_own_copy_of_the_event_and_a_fresh_context():
    event = {"order": {"id": 1}}

    def handler(received, context):
        received["order"]["id"] = 2
        return context.aws_request_id

    first, second = invoke(handler, event, "copy"), invoke(handler, event, "copy")
    assert event == {"order": {"id": 1}}
    assert first.result != second.result
