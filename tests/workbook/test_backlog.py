"""Lesson 06's backlog experiment (labs/workbook/lessons/backlog.py): small runs, exact arithmetic."""
import pytest

from labs import sandbox
from labs.workbook.lessons.backlog import Alarm, Consumer, Sample, Traffic, scaling_table, time_to_drain, watch_backlog


def test_a_burst_grows_a_backlog_that_drains_and_every_message_is_handled():
    traffic = Traffic(burst_rate=200, burst_seconds=2, steady_rate=1)
    consumer = Consumer(batch_size=10, concurrency=2, seconds_per_invocation=0.9, seconds_per_message=0.01)
    assert consumer.throughput == 20  # two batches of 10 at once, every second

    run = watch_backlog(consumer, traffic, seconds=40)

    assert run.sent == run.processed == 400 + 38
    first, second = run.samples[:2]
    assert (first.visible, second.visible) == (200 - 20, 400 - 40)  # sampled by GetQueueAttributes
    assert run.peak.t == 1 and run.peak.visible == 360
    assert second.oldest_age == 1.0  # the oldest message was sent at second 0
    assert run.drained_at is not None and all(s.visible <= 1 for s in run.samples if s.t >= run.drained_at)
    assert max(s.oldest_age for s in run.samples) >= 17  # the last of the burst waited ~18 s
    assert sandbox.client("sqs").list_queues().get("QueueUrls", []) == []  # its queue is gone


def test_scaling_up_drains_sooner():
    traffic = Traffic(burst_rate=300, burst_seconds=1, steady_rate=0)
    slow = watch_backlog(Consumer(concurrency=2), traffic, seconds=20)
    scaled = watch_backlog(Consumer(concurrency=2), traffic, seconds=20, scale_up=(2, Consumer(concurrency=8)))
    assert slow.processed == scaled.processed == 300
    assert scaled.drained_at < slow.drained_at


def test_an_alarm_needs_its_evaluation_periods_in_a_row():
    # https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    samples = [Sample(t, visible=v, in_flight=0, oldest_age=0) for t, v in
               enumerate([5] * 60 + [2000] * 60 + [5] * 60 + [2000] * 60 + [2000] * 60)]
    assert Alarm("visible", 1000).states(samples) == [(0, "OK"), (60, "ALARM"), (120, "OK"), (180, "ALARM"),
                                                      (240, "ALARM")]
    assert [s for _, s in Alarm("visible", 1000, evaluation_periods=2).states(samples)] == \
        ["OK", "OK", "OK", "OK", "ALARM"]
    assert "120 秒の評価で ALARM、180 秒の評価で OK に戻る" in Alarm("visible", 1000).describe(samples)
    assert "一度も ALARM になりません" in Alarm("oldest_age", 10).describe(samples)


def test_bad_consumers_are_refused_in_japanese():
    with pytest.raises(ValueError, match="batch_size は 1〜10"):
        Consumer(batch_size=11)
    # MaximumConcurrency is 2-1000 (https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html)
    for concurrency in (0, 1, 1001):
        with pytest.raises(ValueError, match="MaximumConcurrency.*2〜1000"):
            Consumer(concurrency=concurrency)
    with pytest.raises(ValueError, match="concurrency \\(MaximumConcurrency"):
        watch_backlog(Consumer(concurrency=None), Traffic(), seconds=1)


def test_the_backlog_runs_through_the_mappings_maximum_concurrency():
    traffic = Traffic(burst_rate=100, burst_seconds=1, steady_rate=0)
    consumer = Consumer(batch_size=5, concurrency=4, seconds_per_invocation=0.2)  # 0.25 s a batch
    run = watch_backlog(consumer, traffic, seconds=3)
    assert run.processed == 100
    assert run.samples[0].visible == 100 - 4 * 4 * 5  # 4 rounds in the first second, 4 batches of 5 in each


def test_the_scaling_table_says_when_a_consumer_never_catches_up():
    rows = scaling_table([Consumer(batch_size=1, concurrency=2), Consumer()], backlog=1000, inflow=20).rows
    assert rows[0][-2:] == ["追いつかない", "最大 2"]  # 2 / 0.16 s = 12.5 per second < 20 coming in
    assert rows[1][-2:] == ["17 秒", "最大 2"]  # 80 - 20 = 60 per second


def test_without_maximum_concurrency_lambda_scales_with_the_backlog():
    # services-sqs-scaling.html: 5 batches at first, up to 300 more a minute, 1,000 at most per mapping
    uncapped = Consumer(batch_size=10, concurrency=None)  # 40 messages a second per batch at once
    assert time_to_drain(uncapped, backlog=200, inflow=0) == (1.0, 5)  # 5 batches: 200 a second
    assert time_to_drain(uncapped, backlog=1000, inflow=0) == (2 + 400 / 600, 15)  # 200 + 400 (10 batches), then 15
    seconds, batches = time_to_drain(uncapped, backlog=10_000, inflow=0)
    assert batches > 5 and seconds < 10_000 / 200  # it scaled up: faster, and more at once downstream
    _, at_most = time_to_drain(uncapped, backlog=100_000_000, inflow=0)
    assert at_most == 1000
    row = scaling_table([uncapped], backlog=200, inflow=0).rows[0]
    assert row[1] == "設定なし (Lambda が増やす)" and row[-1] == "最大 5"
