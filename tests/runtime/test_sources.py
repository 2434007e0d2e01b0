"""Every event source is a ``Source``; invocations are read through the runtime, by function."""
import boto3

from labs.runtime import LocalRuntime
from labs.runtime.sources import Source
from labs.sandbox import provision


def test_every_kind_of_source_implements_the_protocol():
    url = provision.ensure_queue("orders")
    provision.ensure_bus("orders-bus")
    provision.ensure_rule("orders-bus", "all", event_pattern={"source": ["x"]})
    provision.ensure_rule("default", "nightly", schedule="rate(1 day)")
    provision.ensure_table("orders", "order_id", stream="NEW_AND_OLD_IMAGES")
    topic = provision.ensure_topic("orders-topic")
    runtime = LocalRuntime()
    handler = lambda e, c: None  # noqa: E731
    wired = [
        runtime.on_queue(url, handler, function_name="a"),
        runtime.on_rule("orders-bus", "all", handler, function_name="b"),
        runtime.on_topic(topic, handler, function_name="c"),
        runtime.on_stream("orders", handler, function_name="d"),
        runtime.on_schedule("default", "nightly", handler, function_name="e"),
    ]
    assert all(isinstance(source, Source) for source in wired)
    assert [s.name for s in runtime.sources] == ["orders", "orders-bus/all", "orders-topic", "orders", "default/nightly"]


def test_invocations_are_read_by_function_in_the_order_they_started():
    first, second = provision.ensure_queue("first"), provision.ensure_queue("second")
    sqs = boto3.client("sqs")
    runtime = LocalRuntime()
    runtime.on_queue(first, lambda e, c: None, function_name="f")
    runtime.on_queue(second, lambda e, c: None, function_name="g")
    for url in (first, second, first):
        sqs.send_message(QueueUrl=url, MessageBody=url.rsplit("/", 1)[-1])
        runtime.run_until_quiet()
    assert [c.function_name for c in runtime.invocations()] == ["f", "g", "f"]
    assert [c.event["Records"][0]["body"] for c in runtime.invocations("f")] == ["first", "first"]
    later = runtime.invocations("f")[-1].started
    assert runtime.invocations("f", since=later) == runtime.invocations("f")[-1:]
