"""An SQS mapping's maximum concurrency (ScalingConfig.MaximumConcurrency) and the function's
reserved concurrency, in the runtime's model: one poll hands over up to N batches at once.

AWS's rules, quoted from:
- https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html
  "MaximumConcurrency: Limits the number of concurrent instances that the Amazon SQS event source
  can invoke. ... Valid Range: Minimum value of 2. Maximum value of 1000."
- https://docs.aws.amazon.com/ja_jp/lambda/latest/dg/services-sqs-scaling.html
  "最大同時実行数を、関数の予約された同時実行よりも多い数に設定しないでください。... 合計数未満に
  なった場合は、Lambda がメッセージをスロットルする可能性があります。"
- https://docs.aws.amazon.com/lambda/latest/operatorguide/sqs-retries.html
  "If the invocation fails due to throttling, ... Lambda continues to retry the message until the
  message's timestamp exceeds your queue's visibility timeout, at which point Lambda drops the message."
  (it becomes visible again: its receive count grows, and maxReceiveCount sends it to the DLQ)
"""
import json
import threading

import boto3
import pytest

from labs.observe import recorder
from labs.runtime import LocalRuntime
from labs.sandbox import provision, template


def send(url: str, count: int) -> None:
    sqs = boto3.client("sqs")
    for start in range(0, count, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(n), "MessageBody": json.dumps({"n": n})} for n in range(start, min(count, start + 10))])


class InFlight:
    """A handler that counts how many of its invocations run at the same time."""

    def __init__(self, together: int = 1):
        self.lock = threading.Lock()
        self.now = self.peak = 0
        self.handled: list[int] = []
        # Every round must really run ``together`` batches at once, or the barrier breaks (the handler fails).
        self.barrier = threading.Barrier(together, timeout=10) if together > 1 else None

    def __call__(self, event, context):
        with self.lock:
            self.now += 1
            self.peak = max(self.peak, self.now)
        if self.barrier is not None:
            self.barrier.wait()
        with self.lock:
            self.handled += [json.loads(r["body"])["n"] for r in event["Records"]]
            self.now -= 1


@pytest.mark.parametrize("value", [0, 1, 1001, -5, True, 2.5, "5"])
def test_maximum_concurrency_outside_2_to_1000_is_refused_in_japanese(value):
    url = provision.ensure_queue("orders")
    with pytest.raises(ValueError, match="MaximumConcurrency.*2〜1000"):
        LocalRuntime().on_queue(url, InFlight(), function_name="f", maximum_concurrency=value)


@pytest.mark.parametrize("value", [2, 1000])
def test_the_bounds_themselves_are_accepted(value):
    url = provision.ensure_queue("orders")
    assert LocalRuntime().on_queue(url, InFlight(), function_name="f", maximum_concurrency=value).concurrency == value


def test_reserved_concurrency_must_be_zero_or_more():
    url = provision.ensure_queue("orders")
    with pytest.raises(ValueError, match="予約された同時実行数"):
        LocalRuntime().on_queue(url, InFlight(), function_name="f", reserved_concurrency=-1)


def test_at_most_maximum_concurrency_batches_are_in_flight_at_once():
    url = provision.ensure_queue("orders")
    send(url, 60)
    handler = InFlight(together=3)
    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="f", batch_size=2, maximum_concurrency=3)
    assert runtime.deliver_due() == 3  # one poll: three batches of two, at once
    runtime.run_until_quiet()
    assert handler.peak == 3  # the barrier proved three together; never a fourth
    assert sorted(handler.handled) == list(range(60))  # each message once
    assert all(call.ok for call in runtime.invocations("f"))


def test_without_maximum_concurrency_the_runtime_hands_over_one_batch_at_a_time():
    url = provision.ensure_queue("orders")
    send(url, 20)
    handler = InFlight()
    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="f", batch_size=5)
    assert runtime.deliver_due() == 1
    runtime.run_until_quiet()
    assert handler.peak == 1 and sorted(handler.handled) == list(range(20))


def throttled_run(maximum_concurrency: int) -> tuple[InFlight, list[str], LocalRuntime]:
    """30 messages, one per batch, a function with reserved concurrency 2; maxReceiveCount 1, so
    that one throttle is enough to show where a throttled message ends (AWS advises 5 or more)."""
    url = provision.ensure_queue("orders", dead_letter_queue="orders-dlq", max_receive_count=1)
    dlq = provision.ensure_queue("orders-dlq")
    send(url, 30)
    handler = InFlight()
    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="f", batch_size=1, maximum_concurrency=maximum_concurrency,
                     reserved_concurrency=2)
    runtime.run_until_quiet()
    return handler, [json.loads(body)["n"] for body in drain(dlq)], runtime


def drain(url: str) -> list[str]:
    sqs, bodies = boto3.client("sqs"), []
    while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        bodies += [m["Body"] for m in messages]
        sqs.delete_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)])
    return bodies


def test_maximum_concurrency_above_reserved_concurrency_throttles_and_fills_the_dlq_with_good_messages():
    handler, moved, runtime = throttled_run(maximum_concurrency=3)
    throttles = [r for r in recorder.select(kind="invoke") if r.outcome == "throttled"]
    assert throttles and "予約された同時実行数 2" in throttles[0].detail
    # Each round of three batches: two invoked, one throttled. The throttled ones never failed, were
    # never even invoked: back in the queue after the visibility timeout, SQS moves them to the DLQ.
    assert len(throttles) == len(moved) == 10
    assert sorted(handler.handled + moved) == list(range(30))
    assert all(call.ok for call in runtime.invocations("f"))  # no function error anywhere


def test_maximum_concurrency_within_reserved_concurrency_leaves_the_backlog_in_the_queue():
    handler, moved, _ = throttled_run(maximum_concurrency=2)
    assert not [r for r in recorder.select(kind="invoke") if r.outcome == "throttled"]
    assert moved == [] and sorted(handler.handled) == list(range(30))


def test_a_sam_events_scaling_config_reaches_the_mapping():
    # AWS::Serverless::Function SQS event: ScalingConfig: {MaximumConcurrency: N}
    # (https://docs.aws.amazon.com/serverless-application-model/latest/developerguide/sam-property-function-sqs.html)
    url = provision.ensure_queue("orders")
    runtime, notes = LocalRuntime(), []
    wiring = template.Wiring("sqs", "f", "labs.course.consumers.sqs.lambda_handler", url,
                             {"BatchSize": 5, "ScalingConfig": {"MaximumConcurrency": 4}})
    template._wire_sqs(runtime, wiring, InFlight(), 3, notes)
    assert runtime.sources[0].concurrency == 4 and notes == []
