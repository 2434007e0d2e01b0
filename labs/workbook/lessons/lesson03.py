"""Lesson 03: the stage each section of the DLQ lesson starts from.

Every section tells its story from a known state (empty queues, an empty alert inbox), so a
cell run again shows the same counts, receive counts and ledger as the first time.
"""
from __future__ import annotations

from typing import Callable

from labs import sandbox
from labs.course.names import ALERTS_TOPIC
from labs.observe.queues import drain
from labs.sandbox import provision

POINTS_QUEUE = "points-queue"
POINTS_DLQ = "points-dlq"
ALERTS_INBOX = "alerts-inbox"  # stands in for the operators' mail or chat


def empty_points_queues(create_queue_with_dlq: Callable[[str, str, int], str], topic_arn: str,
                        max_receive_count: int = 3) -> tuple[str, str]:
    """points-queue and points-dlq made again, empty, with ``create_queue_with_dlq`` (exercise 03-1),
    the queue subscribed raw to ``topic_arn``: returns (queue URL, DLQ URL), the same URLs as before.

    Deleting a queue deletes its messages, in flight or not. (On AWS a deleted queue's name can be
    used again only after 60 seconds; the sandbox allows it at once.)
    """
    sqs = sandbox.client("sqs")
    for name in (POINTS_QUEUE, POINTS_DLQ):
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except sqs.exceptions.QueueDoesNotExist:
            pass
    queue_url = create_queue_with_dlq(POINTS_QUEUE, POINTS_DLQ, max_receive_count)
    provision.ensure_subscription(topic_arn, queue_url, raw=True)  # raw: SNS attributes become SQS attributes
    return queue_url, sqs.get_queue_url(QueueName=POINTS_DLQ)["QueueUrl"]


def empty_alert_inbox() -> str:
    """The alerts topic and the operators' inbox queue subscribed to it (SNS envelope kept, so the
    Subject can be read), with no alert left from an earlier run: returns the inbox URL."""
    alerts = provision.ensure_topic(ALERTS_TOPIC)
    inbox_url = provision.ensure_queue(ALERTS_INBOX)
    provision.ensure_subscription(alerts, inbox_url)
    drain(inbox_url)
    return inbox_url
