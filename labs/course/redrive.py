"""Sending dead-lettered messages back to their queue once the bug is fixed.

On AWS, ``StartMessageMoveTask`` (the console's "Start DLQ redrive") moves a DLQ's messages
back to their source queue. moto does not implement it, so this module does the same job
with plain SQS calls, and also replays what the DLQ handler (labs.course.consumers.dlq) archived
in ``failed-messages``, because a consumer on the DLQ takes the messages out of it.

Safe to run twice, and to interrupt:

* A message is deleted from the DLQ only after it was sent to the source queue, so a crash
  loses nothing (at worst the message is sent twice: consumers must be idempotent anyway).
* An archived row is first *claimed* (``pending_review`` -> ``redriving``, conditionally), so two
  runs at the same moment do not both send it; a row left ``redriving`` by a crash is sent again
  by the next run (at-least-once, like SQS itself: consumers must be idempotent).
* A second run finds nothing left to do and sends nothing.
"""
from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

from boto3.dynamodb.conditions import Attr
from botocore.exceptions import ClientError

from labs.course import aws
from labs.course.names import FAILED_MESSAGES_TABLE


def _arn(queue_url: str) -> str:
    return aws.client("sqs").get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


@dataclass
class RedriveReport:
    moved: list[str] = field(default_factory=list)  # message ids taken from the DLQ itself
    replayed: list[str] = field(default_factory=list)  # message ids replayed from failed-messages

    @property
    def total(self) -> int:
        return len(self.moved) + len(self.replayed)

    def __str__(self) -> str:
        return f"DLQ から移動: {len(self.moved)} 件 / failed-messages から再送: {len(self.replayed)} 件"


def _fifo_params(message: dict, queue_url: str) -> dict:
    if not queue_url.endswith(".fifo"):
        return {}
    attributes = message.get("Attributes", {})
    # A fresh deduplication id: the original one may still be inside FIFO's 5-minute window, and
    # SQS would accept the send but drop the message (which we then delete from the DLQ: lost).
    # Derived from this DLQ message's id, so resending it after a crash still deduplicates.
    return {"MessageGroupId": attributes.get("MessageGroupId", "redrive"),
            "MessageDeduplicationId": f"redrive-{message['MessageId']}"}


def move_messages(dlq_url: str, source_url: str) -> list[str]:
    """StartMessageMoveTask's job: every message of the DLQ back to ``source_url``, body and
    message attributes unchanged. Returns the moved messages' ids."""
    sqs, moved = aws.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, VisibilityTimeout=60,
                                       MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"]
                                       ).get("Messages", []):
        for done, message in enumerate(batch):
            params = {"QueueUrl": source_url, "MessageBody": message["Body"], **_fifo_params(message, source_url)}
            if message.get("MessageAttributes"):
                params["MessageAttributes"] = message["MessageAttributes"]
            try:
                sqs.send_message(**params)  # first send ...
                sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=message["ReceiptHandle"])  # ... then delete
            except Exception:
                _release(dlq_url, batch[done:])  # the rest is visible again at once for the next run
                raise
            moved.append(message["MessageId"])
    return moved


def _release(queue_url: str, messages: list[dict]) -> None:
    for message in messages:
        try:
            aws.client("sqs").change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0)
        except Exception:
            pass  # it comes back by itself when its visibility timeout ends


def sqs_message_attributes(lambda_shaped: dict) -> dict:
    """Message attributes as Lambda hands them over ({stringValue, dataType}) -> as SQS takes them."""
    converted = {}
    for name, value in lambda_shaped.items():
        if value.get("binaryValue") is not None:
            converted[name] = {"DataType": value["dataType"], "BinaryValue": base64.b64decode(value["binaryValue"])}
        else:
            converted[name] = {"DataType": value["dataType"], "StringValue": value["stringValue"]}
    return converted


def _set_status(table, message_id: str, old: tuple[str, ...], new: str, **extra) -> bool:
    """Move a row from one of ``old`` to ``new``; False when another run got there first."""
    names = {"#s": "status"}
    values = {":new": new, **{f":old{i}": s for i, s in enumerate(old)}}
    sets = ["#s = :new"]
    for i, (key, value) in enumerate(extra.items()):
        names[f"#k{i}"], values[f":v{i}"] = key, value
        sets.append(f"#k{i} = :v{i}")
    try:
        table.update_item(
            Key={"message_id": message_id}, UpdateExpression="SET " + ", ".join(sets),
            ConditionExpression="attribute_exists(message_id) AND #s IN (" + ", ".join(f":old{i}" for i in range(len(old))) + ")",
            ExpressionAttributeNames=names, ExpressionAttributeValues=values)
    except ClientError as error:
        if error.response["Error"]["Code"] in ("ConditionalCheckFailedException", "ResourceNotFoundException"):
            return False  # another run got there first, or no table: nothing to mark
        raise
    return True


def replay_failed_messages(dlq_url: str, source_url: str, table_name: str = FAILED_MESSAGES_TABLE) -> list[str]:
    """Send again what the DLQ handler archived from this DLQ; mark each row ``resolved``."""
    table, dlq_arn, replayed = aws.resource("dynamodb").Table(table_name), _arn(dlq_url), []
    rows, scan = [], {"FilterExpression": Attr("dlq_arn").eq(dlq_arn) & Attr("status").is_in(["pending_review", "redriving"])}
    while True:
        try:
            page = table.scan(**scan)
        except ClientError as error:
            if error.response["Error"]["Code"] == "ResourceNotFoundException":
                return []  # no DLQ handler has archived anything
            raise
        rows += page["Items"]
        if "LastEvaluatedKey" not in page:
            break
        scan["ExclusiveStartKey"] = page["LastEvaluatedKey"]
    for row in sorted(rows, key=lambda r: r["failed_at"]):
        if row["status"] == "pending_review" and not _set_status(table, row["message_id"], ("pending_review",), "redriving"):
            continue  # another run claimed it
        params = {"QueueUrl": source_url, "MessageBody": row["body"]}
        attributes = sqs_message_attributes(json.loads(row.get("message_attributes") or "{}"))
        if attributes:
            params["MessageAttributes"] = attributes
        sent = aws.client("sqs").send_message(**params)
        _set_status(table, row["message_id"], ("redriving",), "resolved",
                    resolved_at=datetime.now(timezone.utc).isoformat(), redriven_as=sent["MessageId"])
        replayed.append(row["message_id"])
    return replayed


def redrive(dlq_url: str, source_url: str, table_name: str = FAILED_MESSAGES_TABLE) -> RedriveReport:
    """Everything that failed on ``source_url`` goes back to it: what is still in the DLQ, and
    what the DLQ handler archived. Rows of moved messages are marked ``resolved`` too."""
    report = RedriveReport(moved=move_messages(dlq_url, source_url))
    table, now = aws.resource("dynamodb").Table(table_name), datetime.now(timezone.utc).isoformat()
    for message_id in report.moved:
        _set_status(table, message_id, ("pending_review",), "resolved", resolved_at=now)  # no row: nothing to do
    report.replayed = replay_failed_messages(dlq_url, source_url, table_name)
    return report
