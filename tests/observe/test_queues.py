"""depth counts what is in a queue; peek leaves it as it was; drain empties it; both keep message attributes."""
import boto3

from labs.sandbox import provision
import json

from labs.course.envelopes import sns_message
from labs.observe.queues import depth, drain, drain_bodies, peek


def fill(url, n):
    sqs = boto3.client("sqs")
    for i in range(n):
        sqs.send_message(QueueUrl=url, MessageBody=str(i),
                         MessageAttributes={"n": {"DataType": "Number", "StringValue": str(i)}})


def test_peek_twice_sees_everything_and_leaves_it():
    url = provision.ensure_queue("q")
    fill(url, 13)
    first, second = peek(url), peek(url)
    assert sorted(int(m["Body"]) for m in first) == list(range(13))
    assert {m["MessageId"] for m in first} == {m["MessageId"] for m in second}
    assert first[0]["MessageAttributes"]["n"]["DataType"] == "Number"


def test_drain_empties_the_queue():
    url = provision.ensure_queue("q")
    fill(url, 12)
    assert len(drain(url)) == 12
    assert drain(url) == [] and peek(url) == []


def test_depth_counts_visible_and_in_flight_messages():
    url = provision.ensure_queue("q")
    fill(url, 3)
    assert depth(url) == 3
    sqs = boto3.client("sqs")
    taken = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=2, VisibilityTimeout=30)["Messages"]
    assert depth(url) == 3  # in flight still counts: they come back unless deleted
    for message in taken:
        sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert depth(url) == 3 - len(taken)


def test_drain_bodies_reads_each_body_and_empties_the_queue():
    url = provision.ensure_queue("q")
    sqs = boto3.client("sqs")
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order_id": "o-1"}))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"Type": "Notification", "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:t",
                                                           "Message": json.dumps({"order_id": "o-2"})}))
    assert [b["order_id"] for b in drain_bodies(url, read=sns_message)] == ["o-1", "o-2"]
    assert drain_bodies(url) == []
