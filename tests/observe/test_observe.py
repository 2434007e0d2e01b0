"""Publishing calls are recorded through botocore hooks, whoever makes them."""
import json

import boto3
import pytest

from labs.sandbox import provision
from labs.sandbox.clock import clock
from labs.observe import Table, recorder, table


def test_plain_client_publishes_are_recorded_with_ids_and_targets():
    url = provision.ensure_queue("q")
    topic = provision.ensure_topic("t")
    provision.ensure_bus("orders-bus")
    sqs, sns, events = boto3.client("sqs"), boto3.client("sns"), boto3.client("events")
    message_id = sqs.send_message(QueueUrl=url, MessageBody="x")["MessageId"]
    sqs.send_message_batch(QueueUrl=url, Entries=[{"Id": str(i), "MessageBody": "y"} for i in range(3)])
    sns.publish(TopicArn=topic, Message="m")
    events.put_events(Entries=[{"Source": "s", "DetailType": "d", "Detail": "{}", "EventBusName": "orders-bus"},
                               {"Source": "s", "DetailType": "d", "Detail": "not json", "EventBusName": "orders-bus"}])
    published = recorder.select(kind="publish")
    assert [(r.source, r.target, r.count, r.outcome) for r in published] == [
        ("send_message", "q", 1, "ok"), ("send_message_batch", "q", 3, "ok"), ("publish", "t", 1, "ok"),
        ("put_events", "orders-bus", 2, "partial")]
    assert published[0].ids == (message_id,)
    assert published[3].detail == "1 件失敗" and published[3].failed == 1


def test_a_failed_call_is_recorded_as_an_error():
    sqs = boto3.client("sqs")
    with pytest.raises(sqs.exceptions.QueueDoesNotExist):
        sqs.send_message(QueueUrl="https://sqs.ap-northeast-1.amazonaws.com/123456789012/missing", MessageBody="x")
    [record] = recorder.select(kind="publish")
    assert record.outcome == "error" and record.detail


def test_table_renders_text_and_html():
    t = table([{"名前": "在庫", "件数": 3}, {"名前": "配送", "件数": 12}])
    assert isinstance(t, Table) and len(t) == 2
    text = repr(t).splitlines()
    assert text[0].startswith("名前") and len({len(line.encode("utf-8")) > 0 for line in text}) == 1
    assert "<td>在庫</td>" in t._repr_html_() and "&lt;" in table([{"x": "<b>"}])._repr_html_()


def test_clear_starts_the_timeline_at_zero_and_leaves_the_clock_alone():
    boto3.client("sqs").create_queue(QueueName="q")
    recorder.record("note", "a", "b")
    clock.skip(3600)
    before = clock.now()
    recorder.clear()
    assert recorder.records == []
    assert recorder.record("note", "a", "b").t < 1.0
    assert clock.now() >= before  # the clock never goes back (sources remember moments on it)


@pytest.mark.filterwarnings("error::UserWarning")  # a missing glyph (tofu) fails the test
def test_timeline_draws_without_showing_when_given_an_axis():
    import matplotlib
    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    import labs.observe.plots  # noqa: F401  (sets the Japanese font before the axes are made)

    recorder.record("publish", "put_events", "orders-bus")
    recorder.record("invoke", "orders-bus/r", "handler", "error", detail="boom")
    _, ax = plt.subplots()
    assert recorder.timeline(ax=ax) is ax
    assert [t.get_text() for t in ax.get_yticklabels()] == ["orders-bus (発行)", "handler"]
    ax.figure.canvas.draw()
    plt.close("all")
