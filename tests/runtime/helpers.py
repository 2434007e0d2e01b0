"""SQS helpers the runtime tests share: send bodies, count what is left, read what arrived."""
import json

import boto3

from labs.observe.queues import peek


def send(url: str, *bodies) -> list[str]:
    """Send each body (text as it is, anything else as JSON); returns the message ids."""
    sqs = boto3.client("sqs")
    return [sqs.send_message(QueueUrl=url, MessageBody=b if isinstance(b, str) else json.dumps(b))["MessageId"]
            for b in bodies]


def depth(url: str) -> int:
    """Messages in the queue, visible or in flight."""
    attributes = boto3.client("sqs").get_queue_attributes(
        QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])
    return sum(int(v) for v in attributes["Attributes"].values())


def bodies(url: str) -> list[str]:
    """The bodies in the queue, sorted (the messages stay)."""
    return sorted(m["Body"] for m in peek(url))
