"""The SQS depth mend: work per operation does not grow with depth, and it can be switched off and on.

Work is counted, not timed: moto reads its clock (``unix_time_millis``) once per message it
looks at, so the number of clock reads an operation makes is the number of messages it touched.
"""
import pytest

from labs import sandbox
from labs.sandbox.mends import sqs_queue_depth


@pytest.fixture
def clock_reads(monkeypatch):
    from moto.sqs import models

    reads = []
    real = models.unix_time_millis
    monkeypatch.setattr(models, "unix_time_millis", lambda *a: reads.append(1) or real(*a))
    return reads


def fill(sqs, url, n):
    for start in range(0, n, 10):
        sqs.send_message_batch(QueueUrl=url, Entries=[
            {"Id": str(i), "MessageBody": str(start + i)} for i in range(min(10, n - start))])


def work_of_one_round(sqs, url, clock_reads) -> int:
    """Clock reads for one send, one receive of 10, one delete batch and one count."""
    clock_reads.clear()
    fill(sqs, url, 10)
    batch = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=30)["Messages"]
    sqs.delete_message_batch(QueueUrl=url, Entries=[
        {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    return len(clock_reads)


def test_the_mended_queue_touches_the_same_messages_at_depth_2000_as_at_depth_10(clock_reads):
    sqs = sandbox.client("sqs")
    assert sqs_queue_depth.applied()  # sandbox.start() applies every mend
    shallow = sqs.create_queue(QueueName="shallow")["QueueUrl"]
    deep = sqs.create_queue(QueueName="deep")["QueueUrl"]
    fill(sqs, shallow, 10)
    fill(sqs, deep, 2000)
    assert work_of_one_round(sqs, deep, clock_reads) == work_of_one_round(sqs, shallow, clock_reads)


def test_bare_moto_touches_every_message_the_mend_does_not(clock_reads):
    sqs = sandbox.client("sqs")
    url = sqs.create_queue(QueueName="deep")["QueueUrl"]
    fill(sqs, url, 500)
    mended = work_of_one_round(sqs, url, clock_reads)
    sqs_queue_depth.undo()
    try:
        bare = work_of_one_round(sqs, url, clock_reads)
    finally:
        sqs_queue_depth.apply()
    assert mended < 100 < 500 * 3 < bare  # moto reads the clock for each message, several times


def test_switching_off_and_on_keeps_every_message_and_its_state():
    sqs = sandbox.client("sqs")
    url = sqs.create_queue(QueueName="switch")["QueueUrl"]
    fill(sqs, url, 30)
    in_flight = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=5, VisibilityTimeout=60)["Messages"]
    sqs_queue_depth.undo()
    try:
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) \
            == ("25", "5")
        sqs.delete_message(QueueUrl=url, ReceiptHandle=in_flight[0]["ReceiptHandle"])  # bare moto knows the handle
    finally:
        sqs_queue_depth.apply()
    sqs.delete_message(QueueUrl=url, ReceiptHandle=in_flight[1]["ReceiptHandle"])  # and the mend again
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert (attributes["ApproximateNumberOfMessages"], attributes["ApproximateNumberOfMessagesNotVisible"]) \
        == ("25", "3")
    taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10)["Messages"]
    assert [m["Body"] for m in taken] == [str(i) for i in range(5, 15)]
