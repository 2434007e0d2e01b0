"""labs.course.redrive: run twice, interrupted or not: no duplicates, nothing lost, rows resolved."""
import json

import pytest

from labs import sandbox
from labs.course import aws
from labs.course import redrive
from labs.sandbox import provision
from labs.observe.queues import drain, peek
from labs.course.consumers import dlq
from tests.course.helpers import dead_letter_through_the_handler, failed_rows


@pytest.fixture
def queues():
    source = provision.ensure_queue("orders-queue", dead_letter_queue="orders-dlq", max_receive_count=3)
    return source, provision.ensure_queue("orders-dlq")


def _send(url, n, start=0):
    sqs = sandbox.client("sqs")
    for i in range(start, start + n):
        sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"n": i}),
                         MessageAttributes={"priority": {"DataType": "String", "StringValue": f"p{i}"},
                                            "amount": {"DataType": "Number", "StringValue": str(i * 100)}})


def _depth(url):
    a = sandbox.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    return int(a["ApproximateNumberOfMessages"]) + int(a["ApproximateNumberOfMessagesNotVisible"])


def test_peek_leaves_every_message_in_place(queues):
    _, dead = queues
    _send(dead, 13)
    assert len(peek(dead)) == 13
    assert len(peek(dead)) == 13
    assert _depth(dead) == 13


def test_moving_twice_moves_each_message_once_with_its_attributes(queues):
    source, dead = queues
    _send(dead, 23)
    first = redrive.move_messages(dead, source)
    second = redrive.move_messages(dead, source)
    assert (len(first), second) == (23, [])
    got = drain(source)
    assert sorted(json.loads(m["Body"])["n"] for m in got) == list(range(23))
    for m in got:
        n = json.loads(m["Body"])["n"]
        assert m["MessageAttributes"]["priority"] == {"StringValue": f"p{n}", "DataType": "String"}
        assert m["MessageAttributes"]["amount"] == {"StringValue": str(n * 100), "DataType": "Number"}
    assert _depth(dead) == 0


def crash_on_call(monkeypatch, method: str, n: int) -> None:
    """The n-th call of the SQS client's ``method`` fails as if the power went out."""
    sqs = aws.client("sqs")
    real, calls = getattr(sqs, method), []

    def crashing(**kwargs):
        calls.append(kwargs)
        if len(calls) == n:
            raise ConnectionError("停電")
        return real(**kwargs)

    monkeypatch.setattr(sqs, method, crashing)


def test_a_crash_between_send_and_delete_loses_nothing(queues, monkeypatch):
    source, dead = queues
    _send(dead, 3)
    crash_on_call(monkeypatch, "delete_message", 2)
    with pytest.raises(ConnectionError):
        redrive.move_messages(dead, source)
    monkeypatch.undo()
    assert _depth(dead) == 2  # the interrupted message and the one not yet sent are still there
    redrive.move_messages(dead, source)  # and visible at once for the next run
    bodies = sorted(json.loads(m["Body"])["n"] for m in drain(source))
    assert set(bodies) == {0, 1, 2}  # nothing lost
    assert len(bodies) <= 4  # at most the interrupted one twice


def _archive_via_dlq_handler(source, dead, n):
    provision.ensure_topic("alerts")
    provision.ensure_table("failed-messages", "message_id")
    _send(source, n)
    return dead_letter_through_the_handler(source, dead)


def test_redrive_twice_replays_archived_rows_once_and_resolves_them(queues):
    source, dead = queues
    rows = _archive_via_dlq_handler(source, dead, 4)
    assert len(rows) == 4 and _depth(dead) == 0 and _depth(source) == 0
    first, second = redrive.redrive(dead, source), redrive.redrive(dead, source)
    assert (len(first.replayed), first.moved, second.total) == (4, [], 0)
    got = drain(source)
    assert sorted(json.loads(m["Body"])["n"] for m in got) == [0, 1, 2, 3]
    assert all(m["MessageAttributes"]["amount"]["DataType"] == "Number" for m in got)
    after = failed_rows().values()
    assert {r["status"] for r in after} == {"resolved"}
    assert all(r["resolved_at"] and r["redriven_as"] for r in after)


def test_redrive_moves_what_is_still_in_the_dlq_and_marks_its_row(queues):
    source, dead = queues
    provision.ensure_table("failed-messages", "message_id")
    _send(dead, 2)
    [m0, m1] = peek(dead)
    dlq.save_failed_message(m0["MessageId"], m0["Body"], 4, queue_arn=provision.queue_arn(dead))
    report = redrive.redrive(dead, source)
    assert sorted(report.moved) == sorted([m0["MessageId"], m1["MessageId"]]) and report.replayed == []
    row = sandbox.resource("dynamodb").Table("failed-messages").get_item(Key={"message_id": m0["MessageId"]})["Item"]
    assert row["status"] == "resolved"
    assert redrive.redrive(dead, source).total == 0
    assert len(drain(source)) == 2


def test_a_row_claimed_by_a_crashed_run_is_sent_by_the_next(queues, monkeypatch):
    source, dead = queues
    _archive_via_dlq_handler(source, dead, 2)
    crash_on_call(monkeypatch, "send_message", 1)
    with pytest.raises(ConnectionError):
        redrive.redrive(dead, source)
    monkeypatch.undo()
    assert len(redrive.redrive(dead, source).replayed) == 2
    assert sorted(json.loads(m["Body"])["n"] for m in drain(source)) == [0, 1]


def test_redrive_without_a_table_only_moves(queues):
    source, dead = queues
    _send(dead, 2)
    assert len(redrive.redrive(dead, source).moved) == 2


def test_fifo_redrive_uses_a_fresh_deduplication_id():
    # Reusing the original id inside FIFO's 5-minute window would make AWS drop the message
    # silently (moto only deduplicates against messages still queued, so it would not show).
    from labs.sandbox import provision

    source = provision.ensure_queue("orders", fifo=True, attributes={"ContentBasedDeduplication": "false"})
    dead = provision.ensure_queue("orders-dlq", fifo=True)
    sqs = sandbox.client("sqs")
    sqs.send_message(QueueUrl=dead, MessageBody="x", MessageGroupId="g", MessageDeduplicationId="original")
    redrive.move_messages(dead, source)
    [moved] = sqs.receive_message(QueueUrl=source, MessageSystemAttributeNames=["All"])["Messages"]
    assert moved["Body"] == "x"
    assert moved["Attributes"]["MessageDeduplicationId"] != "original"
