"""The dead-letter queue handler (演習3): alert a human, keep the message for review.

A Lambda on the DLQ, as in the course text: for each message, ``save_failed_message``
writes it to the ``failed-messages`` table and ``send_alert`` publishes to the ``alerts``
topic. Fixed from the course text:

* ``failed_at`` is timezone-aware (``datetime.utcnow()`` is deprecated and naive).
* Topic ARN and table name are not hard-coded (``ALERTS_TOPIC_ARN`` / ``FAILED_MESSAGES_TABLE``
  environment variables, else the names in this account and region).
* A consumer on the DLQ takes the messages *out* of the DLQ, so the row keeps everything
  needed to send the message again: the whole body, its message attributes, and the DLQ.
* SQS may deliver a DLQ message twice: the row is written once, and the alert is sent once
  (``alerted`` is set only after the alert went out, so a failed alert is retried).
* One bad record does not fail the others (partial batch response).
"""
from __future__ import annotations

import json
import os
from datetime import datetime, timezone

from botocore.exceptions import ClientError

from labs.course import aws
from labs.course.consumers.batch import partial_batch_response
from labs.course.producers.sns import topic_arn
from labs.course.names import ALERTS_TOPIC, FAILED_MESSAGES_TABLE

PREVIEW_CHARS = 200


def _table():
    return aws.resource("dynamodb").Table(os.environ.get("FAILED_MESSAGES_TABLE", FAILED_MESSAGES_TABLE))


def lambda_handler(event, context):
    """SQS (the DLQ) -> Lambda: save each message for review and alert, once per message."""
    return partial_batch_response(event, keep_and_alert)  # a failed one stays in the DLQ, tried again


def keep_and_alert(record: dict) -> None:
    """One DLQ message: the row first (so nothing is lost), then the alert, once."""
    message_id = record["messageId"]
    receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
    row = save_failed_message(message_id, record["body"], receive_count,
                              queue_arn=record.get("eventSourceARN", ""),
                              message_attributes=record.get("messageAttributes", {}))
    if not row.get("alerted"):
        send_alert(message_id, record["body"], receive_count)
        mark_alerted(message_id)
    print(f"DLQ message processed: {message_id}")


def mark_alerted(message_id: str) -> None:
    """Note on the row that its alert went out: a second delivery of the message sends none."""
    _table().update_item(Key={"message_id": message_id}, UpdateExpression="SET alerted = :t",
                         ExpressionAttributeValues={":t": True})


def send_alert(message_id: str, body: str, receive_count: int) -> dict:
    """Tell a human (Slack / e-mail subscribe to the alerts topic)."""
    arn = os.environ.get("ALERTS_TOPIC_ARN") or topic_arn(ALERTS_TOPIC)
    return aws.client("sns").publish(
        TopicArn=arn,
        Subject="DLQ Alert",
        Message=json.dumps({
            "title": "DLQ Message Alert",
            "message_id": message_id,
            "receive_count": receive_count,
            "body_preview": body[:PREVIEW_CHARS],
        }, ensure_ascii=False),
    )


def save_failed_message(message_id: str, body: str, receive_count: int, *, queue_arn: str = "",
                        message_attributes: dict | None = None) -> dict:
    """Write the message to ``failed-messages`` (once) and return the row as stored."""
    item = {
        "message_id": message_id,
        "body": body,
        "body_preview": body[:PREVIEW_CHARS],
        "receive_count": receive_count,
        "failed_at": datetime.now(timezone.utc).isoformat(),
        "status": "pending_review",
        "dlq_arn": queue_arn,
        # Lambda's shape ({"stringValue", "dataType"}) as JSON: DynamoDB refuses empty values.
        "message_attributes": json.dumps(message_attributes or {}, ensure_ascii=False),
        "alerted": False,
    }
    try:
        _table().put_item(Item=item, ConditionExpression="attribute_not_exists(message_id)")
    except ClientError as error:
        if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
            raise
        return _table().get_item(Key={"message_id": message_id}, ConsistentRead=True)["Item"]  # seen before
    return item
