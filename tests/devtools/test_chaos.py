"""The soak (labs.devtools.chaos): a short one, and the same invariant as a property of small runs."""
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from labs.devtools import chaos
from labs.observe import ledger
from labs.runtime.delivery import RealisticDelivery

LAST_LINE = re.compile(r"^runs=(\d+) published=(\d+) processed=(\d+) dlq=(\d+) lost=0 double_effects=0$")


def test_quick_soak_balances_and_says_so_on_its_last_line(capsys):
    assert chaos.main(["--quick"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    match = LAST_LINE.match(lines[-1])
    assert match, lines[-1]
    runs, published, processed, dlq = map(int, match.groups())
    assert runs == 4 and len(lines) == runs + 2  # one line per run, the wall time, then the total
    assert re.fullmatch(r"wall=\d+\.\ds", lines[-2])
    assert published == 160 and processed + dlq == published
    assert dlq > 0  # the 50 % runs really did fail messages


def test_the_soak_is_run_again_on_bare_moto_and_compared(capsys):
    assert chaos.main(["--seeds", "1", "--messages", "12", "--rates", "0.3"]) == 0
    lines = capsys.readouterr().out.strip().splitlines()
    assert LAST_LINE.match(lines[-1]), lines[-1]
    comparison = re.fullmatch(r"wall=(\d+\.\d)s bare_wall=(\d+\.\d)s bare/mended=(\d+\.\d\d)", lines[-2])
    assert comparison, lines[-2]
    wall, bare_wall, ratio = map(float, comparison.groups())
    assert wall > 0 and bare_wall > 0 and ratio > 0


def test_the_soak_exits_non_zero_when_something_is_lost(monkeypatch, capsys):
    real_run = chaos.run

    def leaky(*args, **kwargs):
        result, faults = real_run(*args, **kwargs)
        return ledger.Ledger(result.published, result.processed - 1, result.duplicates, result.dlq,
                             result.in_flight, result.lost + 1, result.double_effects), faults

    monkeypatch.setattr(chaos, "run", leaky)
    assert chaos.main(["--seeds", "1", "--messages", "10", "--rates", "0"]) == 1
    assert capsys.readouterr().out.strip().splitlines()[-1].endswith("lost=1 double_effects=0")


def test_a_consumer_that_is_not_idempotent_is_caught():
    result, _ = chaos.run(3, 60, 0.2, duplicate_rate=0.2, idempotent=False)
    assert result.double_effects > 0 and not result.ok


def test_the_same_seed_injects_the_same_faults():
    _, first = chaos.run(4, 40, 0.3)
    _, second = chaos.run(4, 40, 0.3)
    assert first.injected == second.injected


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    seed=st.integers(0, 10_000),
    messages=st.integers(1, 30),
    failure_rate=st.sampled_from([0.0, 0.1, 0.3, 0.5]),
    duplicate_rate=st.floats(0, 0.5),
    crash_rate=st.floats(0, 0.3),
    round_size=st.integers(1, 20),
)
def test_nothing_is_lost_and_nothing_is_applied_twice(seed, messages, failure_rate, duplicate_rate, crash_rate,
                                                      round_size):
    result, _ = chaos.run(seed, messages, failure_rate, duplicate_rate=duplicate_rate, crash_rate=crash_rate,
                          poison_rate=0.05, slow_rate=0.05, round_size=round_size)
    assert result.ok, result.line()
    assert result.in_flight == 0
    assert result.published == messages == result.processed + result.dlq


@settings(max_examples=200, deadline=None)
@given(
    seed=st.integers(0, 1000),
    received=st.lists(st.integers(0, 50), unique=True, max_size=10),
    succeeded=st.sets(st.integers(0, 50)),
    duplicate_rate=st.floats(0, 1),
)
def test_delivery_hands_over_what_was_received_and_copies_only_what_succeeded(seed, received, succeeded,
                                                                               duplicate_rate):
    queue = RealisticDelivery(seed=seed, duplicate_rate=duplicate_rate).for_queue("q", 0)
    messages = [{"MessageId": str(i), "Body": str(i), "Attributes": {}} for i in received]
    handed = queue.arrange(messages, 10, "f")
    assert sorted(m["MessageId"] for m in handed) == sorted(m["MessageId"] for m in messages)
    failed = {m["MessageId"] for m in messages if int(m["MessageId"]) not in succeeded}
    queue.settled(handed, failed, overran=False)
    copies = queue.arrange([], 10, "f")  # visibility timeout 0: every copy is due at once
    assert {m["MessageId"] for m in copies} <= {m["MessageId"] for m in messages} - failed
    assert all(queue.is_copy(m) for m in copies)
