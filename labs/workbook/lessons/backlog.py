"""Lesson 06: a backlog you can watch. Producers burst, consumers fall behind, the queue grows and drains.

The experiment runs on a *simulated* clock, one tick per second: each tick the producer sends
its messages to a real (sandbox) SQS queue, the consumer (a Lambda function behind the local
runtime's event source mapping, whose ``maximum_concurrency`` batches run at once) takes as many
rounds of batches as its per-batch time allows in one second, and then the queue is sampled:

* ``ApproximateNumberOfMessages`` (CloudWatch calls it ``ApproximateNumberOfMessagesVisible``):
  asked of SQS with ``GetQueueAttributes``, as a dashboard would;
* the age of the oldest message. That is ``ApproximateAgeOfOldestMessage``, a CloudWatch metric
  and not a queue attribute: CloudWatch computes it from the send time of the oldest message
  still in the queue. Here it is computed the same way, from each message's send time on the
  simulated clock (the sandbox's own ``SentTimestamp`` is wall-clock time, and a few seconds of
  wall clock stand for minutes here).

Minutes of traffic take seconds: the mended sandbox's queue costs the same at any depth
(labs/sandbox/mends/sqs_queue_depth.py).
"""
from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field

from labs import sandbox
from labs.observe import Table, table
from labs.runtime import LocalRuntime
from labs.runtime.sources.sqs import valid_maximum_concurrency
from labs.sandbox import provision

# CloudWatch publishes SQS metrics once a minute; an alarm looks at one value per period.
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/monitoring-using-cloudwatch.html
METRIC_PERIOD_SECONDS = 60

# How Lambda scales an SQS mapping without MaximumConcurrency: five batches at once, then "up to
# 300 more instances per minute" while messages remain, at most 1,000 batches per mapping.
# https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-scaling.html
STARTING_BATCHES, ADDED_PER_MINUTE, MAPPING_MAXIMUM = 5, 300, 1000


@dataclass(frozen=True)
class Consumer:
    """A Lambda consumer: how many messages per batch, how many batches at once (the mapping's
    ``MaximumConcurrency``, 2-1000; ``None``: not set, Lambda scales on its own), how long a batch takes."""

    batch_size: int = 10
    concurrency: int | None = 2
    seconds_per_invocation: float = 0.15  # start-up, connections: paid once per batch
    seconds_per_message: float = 0.01

    def __post_init__(self) -> None:
        if not 1 <= self.batch_size <= 10:
            raise ValueError(f"batch_size は 1〜10 にしてください (指定値: {self.batch_size})")
        if self.concurrency is not None:
            valid_maximum_concurrency(self.concurrency)

    @property
    def batch_seconds(self) -> float:
        return self.seconds_per_invocation + self.seconds_per_message * self.batch_size

    @property
    def throughput(self) -> float:
        """Messages per second when the queue never runs dry (at Lambda's 1,000 batches, uncapped)."""
        return (self.concurrency or MAPPING_MAXIMUM) * self.batch_size / self.batch_seconds

    @property
    def label(self) -> str:
        at_once = self.concurrency or f"最大 {MAPPING_MAXIMUM:,}"
        return f"バッチ {self.batch_size} 件 × 同時実行 {at_once} ({self.throughput:,.0f} 件/秒)"


@dataclass(frozen=True)
class Traffic:
    """The producer: a burst, then a steady trickle."""

    burst_rate: int = 1000  # messages per second during the burst
    burst_seconds: int = 11
    steady_rate: int = 5  # afterwards

    def sent_at(self, second: int) -> int:
        return self.burst_rate if second < self.burst_seconds else self.steady_rate


@dataclass
class Sample:
    t: int  # seconds on the simulated clock
    visible: int  # ApproximateNumberOfMessages from GetQueueAttributes
    in_flight: int  # ApproximateNumberOfMessagesNotVisible
    oldest_age: float  # seconds: now minus the send time of the oldest message still in the queue


@dataclass
class BacklogRun:
    consumer: Consumer
    traffic: Traffic
    scale_up: tuple[int, Consumer] | None = None
    samples: list[Sample] = field(default_factory=list)
    sent: int = 0
    processed: int = 0

    @property
    def peak(self) -> Sample:
        return max(self.samples, key=lambda s: s.visible)

    def series(self, metric: str) -> tuple[list[int], list[float]]:
        """(times, values) of one sampled metric: "visible", "in_flight" or "oldest_age"."""
        return [s.t for s in self.samples], [getattr(s, metric) for s in self.samples]

    @property
    def drained_at(self) -> int | None:
        """The first second after the burst at which the backlog was gone (at most one second's trickle left)."""
        peak = self.peak.t
        return next((s.t for s in self.samples if s.t > peak and s.visible <= self.traffic.steady_rate), None)


def watch_backlog(consumer: Consumer, traffic: Traffic = Traffic(), seconds: int = 240,
                  scale_up: tuple[int, Consumer] | None = None, progress=None) -> BacklogRun:
    """Run the burst through a new queue and a local Lambda, sampling the queue once a simulated second.

    ``scale_up=(t, faster)``: from second ``t`` on, the consumer is ``faster`` (more concurrency or
    bigger batches), as when someone answers the alarm. ``progress``: a tqdm bar (or anything with
    ``update(n)``), advanced by each message sent and each message handled (``2 * messages`` in all).
    The queue is made for this run and deleted after it (a purge could not be repeated within 60 s).
    """
    for one in (consumer, scale_up[1] if scale_up else consumer):
        if one.concurrency is None:
            raise ValueError("watch_backlog の Consumer には concurrency (MaximumConcurrency, 2〜1000) を指定してください "
                             "(このランタイムは上限なしの自動スケーリングを再現しません)")
    sqs = sandbox.client("sqs")
    url = provision.ensure_queue(f"l06-backlog-{uuid.uuid4().hex[:8]}", visibility_timeout=30)
    try:
        return _run(sqs, url, consumer, traffic, seconds, scale_up, progress)
    finally:
        sqs.delete_queue(QueueUrl=url)


def _run(sqs, url: str, consumer: Consumer, traffic: Traffic, seconds: int, scale_up, progress) -> BacklogRun:
    run = BacklogRun(consumer, traffic, scale_up=scale_up)
    sent_at: list[int] = []  # send time of message n (the producer numbers them)
    done: set[int] = set()
    oldest = 0  # the lowest n not yet done

    def handler(event, context):
        for record in event["Records"]:
            done.add(json.loads(record["body"])["n"])
        if progress is not None:
            progress.update(len(event["Records"]))

    runtime = LocalRuntime()
    credit = 0.0
    for second in range(seconds):
        if second == 0 or (scale_up and second == scale_up[0]):
            consumer = consumer if second == 0 else scale_up[1]
            runtime.on_queue(url, handler, function_name="backlog-consumer", batch_size=consumer.batch_size,
                             maximum_concurrency=consumer.concurrency)
            rounds_per_second = 1 / consumer.batch_seconds
        _send(sqs, url, sent_at, second, traffic.sent_at(second))
        if progress is not None:
            progress.update(traffic.sent_at(second))
        credit += rounds_per_second
        while credit >= 1 and runtime.deliver_due():  # one poll: up to `concurrency` batches at once
            credit -= 1
        credit = min(credit, math.ceil(rounds_per_second))  # an idle consumer does not bank time
        while oldest < len(sent_at) and oldest in done:
            oldest += 1
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=[
            "ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
        run.samples.append(Sample(second, int(attributes["ApproximateNumberOfMessages"]),
                                  int(attributes["ApproximateNumberOfMessagesNotVisible"]),
                                  float(second - sent_at[oldest]) if oldest < len(sent_at) else 0.0))
    run.sent, run.processed = len(sent_at), len(done)
    return run


def _send(sqs, url: str, sent_at: list[int], second: int, count: int) -> None:
    for start in range(0, count, 10):
        entries = []
        for i in range(min(10, count - start)):
            entries.append({"Id": str(i), "MessageBody": json.dumps({"n": len(sent_at)})})
            sent_at.append(second)
        sqs.send_message_batch(QueueUrl=url, Entries=entries)


# --- what a CloudWatch alarm would say ------------------------------------------------------------

@dataclass(frozen=True)
class Alarm:
    """A CloudWatch alarm on one metric: Maximum over each period > threshold, for N periods in a row.

    https://docs.aws.amazon.com/AmazonCloudWatch/latest/monitoring/AlarmThatSendsEmail.html
    (Period, EvaluationPeriods, DatapointsToAlarm: here all N of N).
    """

    metric: str  # "visible" or "oldest_age"
    threshold: float
    evaluation_periods: int = 1
    period: int = METRIC_PERIOD_SECONDS

    def states(self, samples: list[Sample]) -> list[tuple[int, str]]:
        """(start of each period, "ALARM" / "OK") as the alarm would have evaluated it."""
        maxima = []
        for start in range(0, len(samples), self.period):
            window = samples[start:start + self.period]
            maxima.append((window[0].t, max(getattr(s, self.metric) for s in window)))
        states = []
        for i, (start, _) in enumerate(maxima):
            recent = [value for _, value in maxima[max(0, i - self.evaluation_periods + 1):i + 1]]
            breaching = len(recent) == self.evaluation_periods and all(v > self.threshold for v in recent)
            states.append((start, "ALARM" if breaching else "OK"))
        return states

    def describe(self, samples: list[Sample]) -> str:
        """When it would go off and come back, in Japanese."""
        states = self.states(samples)
        fired = next((t for t, state in states if state == "ALARM"), None)
        name = {"visible": "ApproximateNumberOfMessagesVisible", "oldest_age": "ApproximateAgeOfOldestMessage"}[
            self.metric]
        unit = " 件" if self.metric == "visible" else " 秒"
        head = f"{name} > {self.threshold:g}{unit} ({self.period} 秒ごとの最大値, {self.evaluation_periods} 期間連続)"
        if fired is None:
            return f"{head}: 一度も ALARM になりません"
        cleared = next((t for t, state in states if t > fired and state == "OK"), None)
        end = f"{cleared + self.period} 秒の評価で OK に戻る" if cleared is not None else "最後まで ALARM のまま"
        return f"{head}: {fired + self.period} 秒の評価で ALARM、{end}"


def scaling_table(consumers: list[Consumer], backlog: int = 10_000, inflow: float = 5) -> Table:
    """For each consumer: throughput, how long a ``backlog`` takes to drain while ``inflow`` keeps
    coming, and how many batches run at once (each holds, say, one database connection)."""
    rows = []
    for consumer in consumers:
        seconds, peak = time_to_drain(consumer, backlog, inflow)
        cap = consumer.concurrency
        rows.append({"バッチサイズ": consumer.batch_size,
                     "最大同時実行数": f"{cap}" if cap else "設定なし (Lambda が増やす)",
                     "1 バッチの処理時間 (秒)": f"{consumer.batch_seconds:.2f}",
                     "処理能力 (件/秒)": f"{consumer.throughput:,.0f}" if cap else f"最大 {consumer.throughput:,.0f}",
                     f"{backlog:,} 件を消化する時間": f"{seconds:,.0f} 秒" if seconds is not None else "追いつかない",
                     "同時に動く呼び出し (DB 接続)": f"最大 {peak:,}"})
    return table(rows)


def time_to_drain(consumer: Consumer, backlog: int, inflow: float, limit_seconds: int = 24 * 3600) -> tuple[float | None, int]:
    """(seconds to drain ``backlog`` while ``inflow`` arrives or None if never, the most batches at once).

    A capped consumer runs ``concurrency`` batches from the start. An uncapped one follows Lambda's
    scaling at its fastest: 5 batches, then 300 more a minute (5 a second), to 1,000.
    """
    if consumer.concurrency is not None:
        net = consumer.throughput - inflow
        return (backlog / net if net > 0 else None), consumer.concurrency
    left, batches, second = float(backlog), STARTING_BATCHES, 0
    while second < limit_seconds:
        rate = batches * consumer.batch_size / consumer.batch_seconds
        if rate - inflow >= left:
            return second + left / (rate - inflow), batches
        left += inflow - rate
        second += 1
        batches = min(MAPPING_MAXIMUM, batches + ADDED_PER_MINUTE // 60)
    return None, batches
