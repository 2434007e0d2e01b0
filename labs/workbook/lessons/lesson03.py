"""Lesson 03: the stage each section of the DLQ lesson starts from, and exercise 03-4's trial.

Every section tells its story from a known state (empty queues, an empty alert inbox), so a
cell run again shows the same counts, receive counts and ledger as the first time.
``try_event_source_queue`` shows what a queue's attributes do to one throttled order (03-4).
"""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass
from typing import Callable

from labs import sandbox
from labs.course.names import ALERTS_TOPIC
from labs.observe.queues import depth, drain
from labs.runtime import LocalRuntime
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
    delete_queues(POINTS_QUEUE, POINTS_DLQ)
    queue_url = create_queue_with_dlq(POINTS_QUEUE, POINTS_DLQ, max_receive_count)
    provision.ensure_subscription(topic_arn, queue_url, raw=True)  # raw: SNS attributes become SQS attributes
    return queue_url, sandbox.client("sqs").get_queue_url(QueueName=POINTS_DLQ)["QueueUrl"]


def empty_alert_inbox() -> str:
    """The alerts topic and the operators' inbox queue subscribed to it (SNS envelope kept, so the
    Subject can be read), with no alert left from an earlier run: returns the inbox URL."""
    alerts = provision.ensure_topic(ALERTS_TOPIC)
    inbox_url = provision.ensure_queue(ALERTS_INBOX)
    provision.ensure_subscription(alerts, inbox_url)
    drain(inbox_url)
    return inbox_url


# --- exercise 03-4: a queue made for a Lambda event source --------------------------------------

class Throttled(RuntimeError):
    """This try was throttled (too many calls at once): nothing is wrong with the message, a later try succeeds.

    On AWS the throttle meets Lambda's poller before the function runs; for the queue it is the same
    thing: the message was received, not deleted, and comes back after the visibility timeout with
    its receive count one higher.
    """


@dataclass(frozen=True)
class Trial:
    """What became of one order sent to a queue made with given attributes."""

    refused: str = ""  # why the event source mapping could not be made ("": it was made)
    processed: int = 0  # orders the function processed
    in_dlq: int = 0  # messages SQS moved to the DLQ


def try_event_source_queue(name: str, attributes: dict[str, str], function_timeout: int, *,
                           throttled_tries: int = 1) -> Trial:
    """Make queue ``name`` afresh with ``attributes`` (its DLQ, named in the RedrivePolicy, exists and
    is emptied first), map a function with ``function_timeout`` to it on a new LocalRuntime, and send
    one order whose first ``throttled_tries`` tries are throttled; run until quiet.

    The runtime refuses the mapping as Lambda's CreateEventSourceMapping does when the function's
    timeout exceeds the queue's visibility timeout (lambda/latest/dg/services-sqs-configure.html).
    """
    sqs = sandbox.client("sqs")
    delete_queues(name)
    url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]
    policy = json.loads(attributes.get("RedrivePolicy", "{}"))
    dlq_url = sqs.get_queue_url(QueueName=policy["deadLetterTargetArn"].rsplit(":", 1)[-1])["QueueUrl"] if policy else None
    if dlq_url:
        drain(dlq_url)
    tries: Counter = Counter()
    processed: list[str] = []

    def consumer(event, context):
        for record in event["Records"]:
            tries[record["messageId"]] += 1
            if tries[record["messageId"]] <= throttled_tries:
                raise Throttled("スロットリング: 同時に呼べる数の上限に達しています")
            processed.append(record["body"])

    runtime = LocalRuntime()
    try:
        runtime.on_queue(url, consumer, function_name=f"{name}-consumer", timeout=function_timeout)
    except ValueError as refusal:
        return Trial(refused=str(refusal))
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps({"order_id": "ORD-701", "amount": 1000}))
    runtime.run_until_quiet()
    return Trial(processed=len(processed), in_dlq=depth(dlq_url) if dlq_url else 0)


def delete_queues(*names: str) -> None:
    """Delete the queues of these names that exist, with their messages."""
    sqs = sandbox.client("sqs")
    for name in names:
        try:
            sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName=name)["QueueUrl"])
        except sqs.exceptions.QueueDoesNotExist:
            pass
