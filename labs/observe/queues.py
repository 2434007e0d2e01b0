"""Looking into a queue from the outside: its depth, peek (leave everything in place) or drain (take it all).

Both receive, so both add to each message's ApproximateReceiveCount: use them on DLQs
and on queues you own, not on a queue whose maxReceiveCount still counts for a consumer.
moto's receive cost grows with queue depth (docs/MOTO_GAPS.md, SQS): keep the queues you look into shallow.
"""
from __future__ import annotations

import json
from typing import Any, Callable

from labs import sandbox

_ALL = {"MessageAttributeNames": ["All"], "MessageSystemAttributeNames": ["All"]}


def depth(queue_url: str) -> int:
    """Messages in the queue: visible ones plus those in flight (received, not yet deleted)."""
    names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
    attributes = sandbox.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=names)["Attributes"]
    return sum(int(attributes[name]) for name in names)


def peek(queue_url: str) -> list[dict]:
    """Every message in the queue, made visible again at once."""
    sqs = sandbox.client("sqs")
    seen: dict[str, dict] = {}
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                       **_ALL).get("Messages", []):
        for message in batch:
            seen.setdefault(message["MessageId"], message)
    handles = [m["ReceiptHandle"] for m in seen.values()]
    for start in range(0, len(handles), 10):
        sqs.change_message_visibility_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0} for i, h in enumerate(handles[start:start + 10])])
    return list(seen.values())


def drain(queue_url: str) -> list[dict]:
    """Every message in the queue, deleted from it."""
    sqs, taken = sandbox.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10, **_ALL).get("Messages", []):
        taken += batch
        sqs.delete_message_batch(QueueUrl=queue_url, Entries=[
            {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(batch)])
    return taken


def drain_bodies(queue_url: str, read: Callable[[str], Any] = json.loads) -> list:
    """Every message body in the queue, in the order received, deleted from it; each body is
    read by ``read`` (JSON; ``labs.course.envelopes.sns_message`` also opens SNS's envelope)."""
    return [read(message["Body"]) for message in drain(queue_url)]
