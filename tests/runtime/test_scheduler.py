"""Scheduled rules fire under the runtime clock with AWS's "Scheduled Event" shape."""
from datetime import datetime, timedelta, timezone

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from labs import sandbox
from labs.sandbox import provision
from labs.observe import recorder
from labs.runtime import LocalRuntime, clock
from labs.runtime.sources import Source


def collect():
    events = []

    def job(event, context):
        events.append(EventBridgeModel.model_validate(event))

    return events, job


def test_rate_fires_once_per_period_passed_and_not_at_creation():
    arn = provision.ensure_rule("default", "hourly", schedule="rate(1 hour)")
    events, job = collect()
    runtime = LocalRuntime()
    runtime.on_schedule("default", "hourly", job, function_name="hourly-job")
    assert runtime.deliver_due() == 0
    assert runtime.advance(59 * 60) == 0
    assert runtime.advance(5 * 3600) == 5
    assert len(events) == 5
    first = events[0]
    assert first.detail_type == "Scheduled Event" and first.source == "aws.events"
    assert first.resources == [arn] and first.detail == {} and first.account == sandbox.ACCOUNT_ID
    gaps = {b.time - a.time for a, b in zip(events, events[1:])}
    assert gaps == {timedelta(hours=1)}


def test_a_nightly_cron_fires_once_a_day_at_its_utc_time():
    provision.ensure_rule("default", "nightly", schedule="cron(0 18 * * ? *)")  # 03:00 JST
    events, job = collect()
    runtime = LocalRuntime()
    runtime.on_schedule("default", "nightly", job, function_name="nightly-report")
    assert runtime.advance(3 * 86400) == 3
    assert [(e.time.hour, e.time.minute) for e in events] == [(18, 0)] * 3
    start = clock.datetime() - timedelta(days=3)
    assert all(start < e.time.replace(tzinfo=timezone.utc) <= clock.datetime() for e in events)
    schedules = recorder.select(kind="schedule")
    invokes = recorder.select(kind="invoke")
    assert len(schedules) == len(invokes) == 3
    # each firing is written down at its own moment on the clock, a day apart
    assert [round(b.t - a.t) for a, b in zip(schedules, schedules[1:])] == [86400, 86400]


def test_a_failing_job_is_recorded_and_the_next_night_still_fires():
    provision.ensure_rule("default", "nightly", schedule="cron(0 18 * * ? *)")
    runtime = LocalRuntime()
    runtime.on_schedule("default", "nightly", lambda e, c: 1 / 0, function_name="broken")
    assert runtime.advance(2 * 86400) == 2
    assert [r.outcome for r in recorder.select(kind="invoke")] == ["error", "error"]
    assert "ZeroDivisionError" in recorder.select(kind="invoke")[0].detail


def test_a_disabled_rule_does_not_fire_and_a_changed_expression_is_picked_up():
    provision.ensure_rule("default", "job", schedule="rate(1 hour)")
    events, job = collect()
    runtime = LocalRuntime()
    runtime.on_schedule("default", "job", job)
    sandbox.client("events").disable_rule(Name="job")
    assert runtime.advance(3 * 3600) == 0
    provision.ensure_rule("default", "job", schedule="rate(30 minutes)")  # re-enables, new period
    assert runtime.advance(2 * 3600) == 4
    sandbox.client("events").delete_rule(Name="job")
    assert runtime.advance(3 * 3600) == 0  # a deleted rule fires no more, and polling goes on quietly


def test_the_source_looks_like_the_runtime_expects():
    provision.ensure_rule("default", "job", schedule="rate(5 minutes)")
    source = LocalRuntime().on_schedule("default", "job", lambda e, c: None, function_name="f")
    assert isinstance(source, Source)
    assert (source.name, source.function_name, source.parked, source.next_due()) == ("default/job", "f", 0, None)


def test_a_rule_without_a_schedule_or_missing_is_a_clear_error():
    provision.ensure_bus("orders-bus")
    provision.ensure_rule("orders-bus", "pattern-only", event_pattern={"source": ["x"]})
    runtime = LocalRuntime()
    with pytest.raises(ValueError, match="スケジュールルールではありません"):
        runtime.on_schedule("orders-bus", "pattern-only", lambda e, c: None)
    with pytest.raises(ValueError, match="ありません"):
        runtime.on_schedule("default", "no-such-rule", lambda e, c: None)


def test_clearing_the_recorder_neither_fires_the_past_again_nor_skips_the_future():
    provision.ensure_rule("default", "job", schedule="rate(1 hour)")
    events, job = collect()
    runtime = LocalRuntime()
    runtime.on_schedule("default", "job", job)
    assert runtime.advance(2 * 3600) == 2
    recorder.clear()  # a new timeline; the clock (and the source's last poll) stay where they were
    assert runtime.deliver_due() == 0
    assert runtime.advance(3600) == 1
