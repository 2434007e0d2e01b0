"""The local runtime does what Lambda's event sources do."""
import json

import boto3
import pytest

from labs import sandbox
from labs.sandbox import provision
from labs.sandbox.clock import clock
from labs.observe import recorder
from labs.observe.queues import peek
from labs.runtime import LocalRuntime
from tests.runtime.helpers import depth, send


def fail_bodies(bad):
    """A handler reporting the records whose body is in ``bad``."""
    def handler(event, context):
        return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in event["Records"] if r["body"] in bad]}
    return handler

def rule_for_orders() -> None:
    """orders-bus with a rule "all" matching every order event."""
    provision.ensure_bus("orders-bus")
    provision.ensure_rule("orders-bus", "all", event_pattern={"source": ["com.myapp.orders"]})


def publish_orders(*details: dict) -> None:
    boto3.client("events").put_events(Entries=[
        {"Source": "com.myapp.orders", "DetailType": "T", "Detail": json.dumps(d), "EventBusName": "orders-bus"}
        for d in details])


def test_partial_batch_response_returns_only_reported_messages():
    url = provision.ensure_queue("orders")
    send(url, "a", "b", "c")
    runtime = LocalRuntime()
    runtime.on_queue(url, fail_bodies({"b"}))
    assert runtime.deliver_due() == 1
    assert depth(url) == 1  # a and c deleted; b in flight, waiting out its visibility timeout
    assert runtime.parked == 1


def test_retry_waits_the_visibility_timeout_on_the_runtime_clock():
    url = provision.ensure_queue("orders", visibility_timeout=45)
    send(url, "b")
    runtime = LocalRuntime()
    source = runtime.on_queue(url, fail_bodies({"b"}))
    runtime.deliver_due()
    assert runtime.deliver_due() == 0  # not visible yet
    clock.skip(45)
    assert runtime.deliver_due() == 1
    times = [r.t for r in recorder.select(kind="invoke")]
    assert times[1] - times[0] >= 45
    assert len(source.invocations) == 2


def test_poison_message_moves_to_dlq_after_max_receive_count():
    url = provision.ensure_queue("orders", dead_letter_queue="orders-dlq", max_receive_count=3)
    dlq = provision.ensure_queue("orders-dlq")
    [poison] = send(url, "poison")
    send(url, "fine")
    runtime = LocalRuntime()
    source = runtime.on_queue(url, fail_bodies({"poison"}))
    runtime.run_until_quiet()
    counts = [int(r["attributes"]["ApproximateReceiveCount"])
              for call in source.invocations for r in call.event["Records"] if r["body"] == "poison"]
    assert counts == [1, 2, 3]
    [moved] = peek(dlq)
    assert moved["MessageId"] == poison and moved["Body"] == "poison"
    assert depth(url) == 0
    assert [r.ids for r in recorder.select(kind="dlq")] == [(poison,)]


def test_exception_returns_the_whole_batch():
    url = provision.ensure_queue("orders")
    send(url, "a", "b")
    runtime = LocalRuntime()

    def broken(event, context):
        raise RuntimeError("boom")

    runtime.on_queue(url, broken)
    runtime.deliver_due()
    assert depth(url) == 2 and runtime.parked == 2
    [call] = recorder.select(kind="invoke")
    assert call.outcome == "error" and "boom" in call.detail


def test_without_report_batch_item_failures_reported_failures_are_deleted():
    # The classic trap: the function "reports" failures, but the mapping was not told to read them.
    url = provision.ensure_queue("orders")
    send(url, "a", "b")
    runtime = LocalRuntime()
    runtime.on_queue(url, fail_bodies({"b"}), report_batch_item_failures=False)
    runtime.deliver_due()
    assert depth(url) == 0


@pytest.mark.parametrize("result", [None, {}, {"statusCode": 200}, {"batchItemFailures": []}])
def test_success_responses(result):
    url = provision.ensure_queue("orders")
    send(url, "a")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda event, context: result, function_name="f")
    runtime.deliver_due()
    assert depth(url) == 0


@pytest.mark.parametrize("result", [
    {"batchItemFailures": [{"itemIdentifier": "not-in-batch"}]},
    {"batchItemFailures": [{"itemIdentifier": ""}]},
    {"batchItemFailures": [{"id": "wrong key"}]},
    {"batchItemFailures": "oops"},
])
def test_invalid_failure_reports_fail_the_whole_batch(result):
    url = provision.ensure_queue("orders")
    send(url, "a", "b")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda event, context: result, function_name="f")
    runtime.deliver_due()
    assert depth(url) == 2
    assert recorder.select(kind="invoke")[0].outcome == "error"


def test_batch_size_is_respected():
    url = provision.ensure_queue("orders")
    send(url, *"abcde")
    sizes = []
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda e, c: sizes.append(len(e["Records"])), function_name="f", batch_size=2)
    runtime.run_until_quiet()
    assert sizes == [2, 2, 1]


def test_batch_size_out_of_range_is_a_clear_error():
    url = provision.ensure_queue("orders")
    with pytest.raises(ValueError, match="batch_size"):
        LocalRuntime().on_queue(url, lambda e, c: None, function_name="f", batch_size=11)


def test_rule_handler_gets_each_event_and_failures_go_to_the_on_failure_destination():
    rule_for_orders()
    failures = provision.ensure_queue("flaky-failures")
    seen = []

    def flaky(event, context):
        seen.append(event["detail"]["n"])
        if event["detail"]["n"] == 2:
            raise ValueError("cannot handle 2")

    runtime = LocalRuntime()
    runtime.on_rule("orders-bus", "all", flaky, on_failure=failures)
    publish_orders({"n": 1}, {"n": 2})
    runtime.run_until_quiet()
    assert sorted(seen) == [1, 2, 2, 2]  # async invocation: two retries
    [dead] = peek(failures)
    record = json.loads(dead["Body"])
    assert record["requestPayload"]["detail"] == {"n": 2}
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    retries = [r.t for r in recorder.select(kind="invoke") if r.outcome == "error"]
    assert retries[1] - retries[0] >= 60 and retries[2] - retries[1] >= 120


def test_topic_handler_respects_filter_policy():
    topic = provision.ensure_topic("order-events")
    got = []
    runtime = LocalRuntime()
    runtime.on_topic(topic, lambda e, c: got.append(e["Records"][0]["Sns"]["Message"]),
                     function_name="notify", filter_policy={"priority": ["high"]})
    sns = boto3.client("sns")
    for priority in ("high", "low"):
        sns.publish(TopicArn=topic, Message=priority,
                    MessageAttributes={"priority": {"DataType": "String", "StringValue": priority}})
    runtime.run_until_quiet()
    assert got == ["high"]


def test_rewiring_replaces_instead_of_duplicating():
    url = provision.ensure_queue("orders")
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda e, c: None, function_name="f")
    runtime.on_queue(url, lambda e, c: None, function_name="f")
    assert len(runtime.sources) == 1


def test_background_mode_drains_the_queue():
    url = provision.ensure_queue("orders")
    done = []
    runtime = LocalRuntime()
    runtime.on_queue(url, lambda e, c: done.extend(r["body"] for r in e["Records"]), function_name="f")
    with runtime.running():
        send(url, *[str(i) for i in range(15)])
        assert runtime.wait_until_quiet(timeout=10)
    assert sorted(done, key=int) == [str(i) for i in range(15)]


def test_stream_handler_sees_inserts_modifies_and_removes():
    provision.ensure_table("orders", "order_id", stream="NEW_AND_OLD_IMAGES")
    table = sandbox.resource("dynamodb").Table("orders")
    table.put_item(Item={"order_id": "o1", "status": "NEW"})
    table.put_item(Item={"order_id": "o1", "status": "PAID"})
    table.delete_item(Key={"order_id": "o1"})
    names = []
    runtime = LocalRuntime()
    runtime.on_stream("orders", lambda e, c: names.extend(r["eventName"] for r in e["Records"]), function_name="p")
    runtime.run_until_quiet()
    assert names == ["INSERT", "MODIFY", "REMOVE"]


def test_failing_stream_batch_is_retried_then_sent_to_on_failure():
    provision.ensure_table("orders", "order_id", stream="NEW_AND_OLD_IMAGES")
    failures = provision.ensure_queue("projector-failures")
    sandbox.resource("dynamodb").Table("orders").put_item(Item={"order_id": "o1"})
    calls = []

    def broken(event, context):
        calls.append(1)
        raise RuntimeError("projector down")

    runtime = LocalRuntime()
    runtime.on_stream("orders", broken, maximum_retry_attempts=2, on_failure="projector-failures")
    runtime.run_until_quiet()  # each retry waits for the next poll of the shard, skipped here
    assert len(calls) == 3
    [info] = peek(failures)
    assert json.loads(info["Body"])["DDBStreamBatchInfo"]["batchSize"] == 1


def test_async_event_goes_to_the_failure_queue_right_after_its_last_retry():
    rule_for_orders()

    def always_fails(event, context):
        raise ValueError("no")

    runtime = LocalRuntime()
    runtime.on_rule("orders-bus", "all", always_fails)
    publish_orders({})
    runtime.run_until_quiet()
    last_attempt = recorder.select(kind="invoke")[-1].t
    [moved] = recorder.select(kind="dlq")
    assert moved.t - last_attempt < 1  # not another retry delay later


def test_function_timeout_longer_than_the_visibility_timeout_is_refused_as_on_aws():
    url = provision.ensure_queue("short", visibility_timeout=5)
    with pytest.raises(ValueError, match="可視性タイムアウト"):
        LocalRuntime().on_queue(url, lambda e, c: None, function_name="f", timeout=30)
    LocalRuntime().on_queue(url, lambda e, c: None, function_name="f", timeout=5)  # equal is fine


def test_run_until_quiet_gives_up_on_endless_retries_and_says_so():
    url = provision.ensure_queue("no-dlq", visibility_timeout=1)
    send(url, "poison")
    runtime = LocalRuntime()

    def always_fails(event, context):
        raise RuntimeError("never works")

    runtime.on_queue(url, always_fails, timeout=1)  # Lambda's minimum
    made = runtime.run_until_quiet(max_invocations=25)
    assert made == 25
    [note] = recorder.select(kind="note")
    assert "打ち切りました" in note.detail
    assert depth(url) == 1  # still there: nothing lost


def park_one(url) -> LocalRuntime:
    """A runtime whose handler failed one message, now waiting out its visibility timeout."""
    send(url, "b")
    runtime = LocalRuntime()
    runtime.on_queue(url, fail_bodies({"b"}), function_name="f")
    runtime.deliver_due()
    return runtime


def test_a_new_runtime_releases_what_an_earlier_one_parked():
    url = provision.ensure_queue("orders")
    park_one(url)
    bodies = []
    second = LocalRuntime()  # as when a notebook cell is run again
    second.on_queue(url, lambda e, c: bodies.extend(r["body"] for r in e["Records"]), function_name="f")
    second.run_until_quiet()
    assert bodies == ["b"]


def test_a_queue_deleted_and_made_again_starts_with_nothing_parked():
    # Deleting a queue deletes its in-flight messages too: a new queue under the same URL holds none
    # (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_DeleteQueue.html).
    url = provision.ensure_queue("orders")
    park_one(url)
    sandbox.client("sqs").delete_queue(QueueUrl=url)
    assert provision.ensure_queue("orders") == url
    second = LocalRuntime()
    second.on_queue(url, lambda e, c: None, function_name="f")
    assert second.parked == 0 and second.run_until_quiet() == 0


def test_one_broken_source_does_not_stop_the_others():
    good_url = provision.ensure_queue("good")
    send(good_url, "x")
    runtime = LocalRuntime()
    seen = []
    runtime.on_queue(good_url, lambda e, c: seen.append(1), function_name="good")

    class Broken:
        function_name, name, parked, invocations = "broken", "broken-queue", 0, []

        def poll(self):
            raise RuntimeError("poller fault")

        def next_due(self):
            return None

    runtime.sources.insert(0, Broken())
    assert runtime.deliver_due() == 1 and seen == [1]
    assert "ポーリング失敗" in recorder.select(kind="note")[0].detail


def test_reset_forgets_parked_retries():
    runtime = park_one(provision.ensure_queue("orders"))
    assert runtime.parked == 1
    sandbox.reset()
    assert runtime.parked == 0


def test_a_lambda_as_rule_target_gets_a_valid_internal_queue_name():
    rule_for_orders()
    got = []
    runtime = LocalRuntime()
    runtime.on_rule("orders-bus", "all", lambda event, context: got.append(event["detail"]))
    publish_orders({"n": 1})
    runtime.run_until_quiet()
    assert got == [{"n": 1}]


def test_run_until_quiet_does_not_skip_past_its_time_limit():
    url = provision.ensure_queue("slow-retry", visibility_timeout=120)
    runtime = park_one(url)
    started = clock.now()
    assert runtime.run_until_quiet(max_seconds=60) == 0
    assert clock.now() - started < 60  # the 120 s wait was not skipped
    assert runtime.parked == 1 and "打ち切りました" in recorder.select(kind="note")[0].detail
