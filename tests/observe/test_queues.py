"""peek leaves a queue as it was; drain empties it; both keep message attributes."""
import boto3

from labs.sandbox import provision
from labs.observe.queues import drain, peek


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
