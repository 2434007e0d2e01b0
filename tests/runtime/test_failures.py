"""The runtime never stalls silently, never double-applies and never loses a message
(issue "A sandbox a learner can trust", section 2)."""
import asyncio
import json
import signal
import threading
import time

import boto3
import pytest

from labs import sandbox
from labs.observe import recorder
from labs.observe.queues import peek
from labs.runtime import LocalRuntime, clock
from labs.runtime.invoke import EXIT_ERROR, still_running
from labs.runtime.recursion import MAX_CHAIN_INVOCATIONS, STOPPED_CONDITION
from labs.sandbox import provision
from tests.runtime.helpers import bodies, depth, send


def interrupt_main_when(event: threading.Event) -> None:
    """Ctrl-C in the kernel: SIGINT to the main thread once ``event`` is set."""
    def fire():
        if event.wait(60):
            signal.pthread_kill(threading.main_thread().ident, signal.SIGINT)
    threading.Thread(target=fire, daemon=True).start()


# --- a handler that exits ---------------------------------------------------------------------
# Lambda records a process exit as a function error, Runtime.ExitError, and retries by the
# source's rules (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html).

EXITS = [SystemExit(1), KeyboardInterrupt(), GeneratorExit(), asyncio.CancelledError()]


@pytest.mark.parametrize("exit_", EXITS, ids=lambda e: type(e).__name__)
def test_a_handler_that_exits_is_a_recorded_function_error_retried_into_the_dlq(exit_):
    url = provision.ensure_queue("orders", dead_letter_queue="orders-dlq", max_receive_count=2)
    send(url, "a")
    runtime = LocalRuntime()

    def exits(event, context):
        raise exit_

    runtime.on_queue(url, exits, function_name="f")
    runtime.run_until_quiet()  # does not raise
    calls = runtime.invocations("f")
    assert len(calls) == 2 and all(call.error_type == EXIT_ERROR for call in calls)
    assert [r.outcome for r in recorder.select(kind="invoke")] == ["error", "error"]
    assert bodies(provision.ensure_queue("orders-dlq")) == ["a"]


def test_a_background_consumer_survives_an_exit_and_strands_nothing():
    url = provision.ensure_queue("orders", visibility_timeout=1)
    exited, done = [], []

    def exits_once(event, context):
        for record in event["Records"]:
            if record["body"] == "3" and not exited:
                exited.append(1)
                raise SystemExit("once")
        done.extend(r["body"] for r in event["Records"])

    runtime = LocalRuntime()
    runtime.on_queue(url, exits_once, function_name="f", batch_size=1, timeout=1)
    with runtime.running():
        send(url, *map(str, range(6)))
        assert runtime.wait_until_quiet(timeout=20)
    assert sorted(done) == list(map(str, range(6))) and exited == [1]


def rule_for_shop():
    provision.ensure_bus("orders-bus")
    provision.ensure_rule("orders-bus", "all", event_pattern={"source": ["shop"]})


def publish_five_events():
    boto3.client("events").put_events(Entries=[
        {"Source": "shop", "DetailType": "T", "Detail": json.dumps({"n": n}), "EventBusName": "orders-bus"}
        for n in range(5)])


def test_an_exit_on_the_third_of_five_async_events_applies_each_event_once():
    rule_for_shop()
    applied, raised = [], []

    def handler(event, context):
        n = event["detail"]["n"]
        if n == 2 and not raised:
            raised.append(n)
            raise KeyboardInterrupt  # raised by the handler: a function error, retried after 1 minute
        applied.append(n)

    runtime = LocalRuntime()
    runtime.on_rule("orders-bus", "all", handler, function_name="apply")
    publish_five_events()
    runtime.run_until_quiet()
    assert sorted(applied) == [0, 1, 2, 3, 4]


def test_ctrl_c_on_the_third_of_five_async_events_stops_the_cell_and_applies_nothing_twice():
    rule_for_shop()
    applied_url = provision.ensure_queue("applied")
    third_started, release = threading.Event(), threading.Event()

    def handler(event, context):
        n = event["detail"]["n"]
        if n == 2 and not third_started.is_set():
            third_started.set()
            release.wait(60)  # still running when the learner presses Ctrl-C (released right after)
        boto3.client("sqs").send_message(QueueUrl=applied_url, MessageBody=str(n))

    runtime = LocalRuntime()
    runtime.on_rule("orders-bus", "all", handler, function_name="apply")
    publish_five_events()
    interrupt_main_when(third_started)
    with pytest.raises(KeyboardInterrupt):
        runtime.run_until_quiet()
    release.set()  # the abandoned call runs on: its send is refused, as on AWS it never happens
    while still_running():
        time.sleep(0.01)
    assert bodies(applied_url) == ["0", "1"]
    runtime.run_until_quiet()  # event 2 after its retry delay, 3 and 4 at once
    assert bodies(applied_url) == ["0", "1", "2", "3", "4"]
    assert any("中断" in r.detail for r in recorder.select(kind="note"))


def test_ctrl_c_during_an_sqs_batch_returns_it_after_the_visibility_timeout():
    url = provision.ensure_queue("orders", visibility_timeout=45)
    send(url, "a", "b")
    started, release, seen = threading.Event(), threading.Event(), []

    def handler(event, context):
        seen.append([r["body"] for r in event["Records"]])
        if not started.is_set():
            started.set()
            release.wait(60)

    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="f")
    interrupt_main_when(started)
    with pytest.raises(KeyboardInterrupt):
        runtime.deliver_due()
    release.set()
    assert runtime.parked == 2 and runtime.deliver_due() == 0  # in flight, invisible
    before = clock.now()
    runtime.run_until_quiet()
    assert clock.now() - before >= 45 and seen[-1] == ["a", "b"] and depth(url) == 0


# --- partial batch responses --------------------------------------------------------------------
# "Lambda treats a batch as a complete success if your function returns: an empty
# batchItemFailures list, a null batchItemFailures list, an empty EventResponse, a null
# EventResponse. ... as a complete failure if: the function returns an invalid JSON response,
# an empty string itemIdentifier, a null itemIdentifier, an itemIdentifier with a bad key name,
# an itemIdentifier value with a message ID that doesn't exist."
# (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html)

MALFORMED = [
    {"batchItemFailures": [{"itemIdentifier": ["x"]}]},
    {"batchItemFailures": [{"itemIdentifier": {"id": "x"}}]},
    {"batchItemFailures": ""},
    {"batchItemFailures": "x"},
    {"batchItemFailures": [{"itemIdentifier": "no-such-id"}]},
    {"batchItemFailures": [{"itemIdentifier": None}]},
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"itemId": "x"}]},
    {"batchItemFailures": ["x"]},
    "x",
]
SUCCESS = [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}, {"statusCode": 200}]


@pytest.mark.parametrize("response", MALFORMED, ids=repr)
def test_a_malformed_partial_batch_response_fails_the_whole_batch_and_says_why(response):
    url = provision.ensure_queue("orders")
    send(url, "a", "b")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda e, c: response, function_name="f")
    assert runtime.deliver_due() == 1
    assert runtime.parked == 2 and depth(url) == 2
    [note] = recorder.select(kind="invoke")
    assert note.outcome == "error" and "バッチ全体を失敗" in note.detail


@pytest.mark.parametrize("response", SUCCESS, ids=repr)
def test_an_empty_partial_batch_response_is_success(response):
    url = provision.ensure_queue("orders")
    send(url, "a", "b")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda e, c: response, function_name="f")
    runtime.deliver_due()
    assert runtime.parked == 0 and depth(url) == 0


# --- the function timeout -----------------------------------------------------------------------
# A function that runs past its timeout is stopped: the invocation fails ("Task timed out
# after N seconds", https://docs.aws.amazon.com/lambda/latest/dg/configuration-timeout.html)
# and the batch returns after its visibility timeout.

def test_a_handler_past_its_timeout_fails_at_the_deadline_and_its_late_sends_are_refused():
    url = provision.ensure_queue("orders", visibility_timeout=30)
    late_url = provision.ensure_queue("late-effects")
    send(url, "a")
    release, attempts = threading.Event(), []

    def slow(event, context):
        attempts.append(1)
        if len(attempts) == 1:
            release.wait(60)  # past the 1 s timeout
        boto3.client("sqs").send_message(QueueUrl=late_url, MessageBody="effect")

    runtime = LocalRuntime()
    runtime.on_queue(url, slow, function_name="f", timeout=1)
    runtime.deliver_due()
    [call] = runtime.invocations("f")
    assert call.timed_out and call.describe_error() == "Task timed out after 1.00 seconds"
    assert runtime.parked == 1  # back after the visibility timeout
    release.set()
    while still_running():
        time.sleep(0.01)
    assert peek(late_url) == []  # the late send did not happen, as on AWS
    assert any(r.outcome == "late" and "副作用は起きません" in r.detail for r in recorder.select(kind="note"))
    runtime.run_until_quiet()  # the retry runs in time
    assert bodies(late_url) == ["effect"] and depth(url) == 0


def test_stop_says_so_when_a_handler_is_still_running():
    url = provision.ensure_queue("orders")
    started, release = threading.Event(), threading.Event()

    def stuck(event, context):
        started.set()
        release.wait(20)

    runtime = LocalRuntime()
    runtime.on_queue(url, stuck, function_name="stuck", timeout=30)
    runtime.start()
    send(url, "a")
    started.wait(10)
    try:
        with pytest.warns(RuntimeWarning, match="ハンドラーが動いています"):
            runtime.stop(wait=0.2)
    finally:
        release.set()
    assert any(r.outcome == "late" for r in recorder.select(kind="note"))


# --- recursive loops ------------------------------------------------------------------------------
# "If a function is invoked by the same triggering event more than 16 times, Lambda will stop
# the next invocation and sends the event to a Dead-Letter Queue or on-failure destination, if
# configured." (https://aws.amazon.com/about-aws/whats-new/2023/07/aws-lambda-detects-recursive-loops-lambda-functions/)

def run_topic_loop(**settings) -> LocalRuntime:
    """A function "echo" that publishes to the very topic that invokes it (one "!" more each time),
    with the function's async ``settings``; "hi" published, run until quiet."""
    topic = provision.ensure_topic("loop-topic")
    sns = boto3.client("sns")

    def echo(event, context):
        sns.publish(TopicArn=topic, Message=event["Records"][0]["Sns"]["Message"] + "!")

    runtime = LocalRuntime()
    runtime.on_topic(topic, echo, **settings)
    sns.publish(TopicArn=topic, Message="hi")
    runtime.run_until_quiet()
    return runtime


def test_a_handler_sending_to_its_own_queue_is_stopped_after_16_invocations_of_the_chain():
    url = provision.ensure_queue("loop", dead_letter_queue="loop-dlq")
    send(url, "0")

    def echo(event, context):
        for record in event["Records"]:
            boto3.client("sqs").send_message(QueueUrl=url, MessageBody=str(int(record["body"]) + 1))

    runtime = LocalRuntime()
    runtime.on_queue(url, echo, function_name="echo")
    runtime.run_until_quiet()
    assert len(runtime.invocations("echo")) == MAX_CHAIN_INVOCATIONS == 16
    [stopped] = recorder.select(kind="dlq")
    assert stopped.outcome == "loop" and "再帰ループ" in stopped.detail
    assert bodies(provision.ensure_queue("loop-dlq")) == ["16"] and depth(url) == 0


def test_a_handler_publishing_to_its_own_topic_is_stopped_and_says_so():
    runtime = run_topic_loop()
    assert len(runtime.invocations("echo")) == MAX_CHAIN_INVOCATIONS
    # An async target has no queue DLQ of its own: the stopped event is dropped, and the note says so.
    [stopped] = recorder.select(kind="dlq")
    assert stopped.outcome == "loop" and stopped.target == "(破棄)" and "再帰ループ" in stopped.detail


def test_a_stopped_async_event_goes_to_the_on_failure_destination():
    # AWS (above): a stopped event goes to the on-failure destination if configured. The record's
    # condition is undocumented: this runtime names the error Lambda answers (recursion.STOPPED_CONDITION).
    failures = provision.ensure_queue("echo-failures")
    runtime = run_topic_loop(on_failure=failures)
    assert len(runtime.invocations("echo")) == MAX_CHAIN_INVOCATIONS
    [message] = peek(failures)
    record = json.loads(message["Body"])
    assert record["requestContext"]["condition"] == STOPPED_CONDITION == "RecursiveInvocationException"
    assert record["requestContext"]["approximateInvokeCount"] == 0  # the stopped invocation never ran
    assert record["requestPayload"]["Records"][0]["Sns"]["Message"] == "hi" + "!" * MAX_CHAIN_INVOCATIONS
    assert record["responsePayload"]["errorType"] == "RecursiveInvocationException"
    [stopped] = recorder.select(kind="dlq")
    assert stopped.outcome == "loop" and stopped.target == "echo-failures" and "echo-failures へ送ります" in stopped.detail


def test_a_stopped_async_event_goes_to_the_function_dlq():
    # AWS (above): "... sends the event to a Dead-Letter Queue": the event itself, with Lambda's attributes.
    dlq = provision.ensure_queue("echo-dlq")
    run_topic_loop(dead_letter_queue=dlq)
    [message] = peek(dlq)
    assert json.loads(message["Body"])["Records"][0]["Sns"]["Message"] == "hi" + "!" * MAX_CHAIN_INVOCATIONS
    assert "recursive loop" in message["MessageAttributes"]["ErrorMessage"]["StringValue"]


def test_sends_from_outside_a_handler_start_new_chains():
    url = provision.ensure_queue("work")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda e, c: None, function_name="f")
    for _ in range(MAX_CHAIN_INVOCATIONS + 4):
        send(url, "x")
        runtime.run_until_quiet()
    assert len(runtime.invocations("f")) == MAX_CHAIN_INVOCATIONS + 4 and not recorder.select(kind="dlq")


# --- one consumer per mapping; reset while consuming ------------------------------------------------

def test_wiring_again_in_a_new_runtime_replaces_the_old_background_consumer():
    url = provision.ensure_queue("orders")
    old_seen, new_seen = [], []
    old = LocalRuntime()
    old.on_queue(url, lambda e, c: old_seen.append(1), function_name="f")
    old.start()
    new = LocalRuntime()  # the cell run again with a fixed handler
    new.on_queue(url, lambda e, c: new_seen.extend(r["body"] for r in e["Records"]), function_name="f")
    try:
        assert old.sources == []
        with new.running():
            send(url, *map(str, range(20)))
            assert new.wait_until_quiet(timeout=20)
    finally:
        old.stop()
    assert old_seen == [] and sorted(new_seen, key=int) == list(map(str, range(20)))
    assert any(r.outcome == "replaced" for r in recorder.select(kind="note"))


def test_reset_while_consuming_says_so_once_and_backs_off():
    url = provision.ensure_queue("orders")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda e, c: None, function_name="f")
    with runtime.running():
        sandbox.reset()
        time.sleep(1.0)  # a second of polling a queue that is gone
    [note] = [r for r in recorder.select(kind="note") if r.outcome == "error"]
    assert "もうありません" in note.detail
