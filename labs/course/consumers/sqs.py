"""The SQS consumer (演習2): a Lambda on an SQS queue, reporting partial batch failures.

Two versions that must give the same answer on the same batch:

* ``lambda_handler``: the course text's hand-written loop, with its bugs fixed.
* ``powertools_handler``: the same with aws-lambda-powertools' ``BatchProcessor``.

Fixed from the course text:

* SNS envelopes are recognised by ``Type == "Notification"``, not by ``'Message' in message``,
  which also fires on a domain message that happens to have a ``Message`` field
  (``labs.course.envelopes.sns_message``).
* On success it returns ``{"batchItemFailures": []}``. ``{"statusCode": 200}`` is an API
  Gateway answer; an SQS event source mapping ignores it. What tells SQS which messages to
  keep is ``batchItemFailures`` (and only when the mapping has ``ReportBatchItemFailures``).
"""
from __future__ import annotations

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response

from labs.course.envelopes import sns_message
from labs.course.names import ORDER_EVENT_TYPES as KNOWN_EVENT_TYPES


def process_message(message: dict) -> str:
    """Handle one order event. Raises ValueError for a message no retry can fix."""
    if not isinstance(message, dict):
        raise ValueError(f"メッセージが JSON オブジェクトではありません: {message!r:.80}")
    event_type = message.get("event_type")
    if event_type not in KNOWN_EVENT_TYPES:
        raise ValueError(f"未知のイベント種別です: {event_type!r}")
    order = message.get("order")
    if not isinstance(order, dict) or not order.get("order_id"):
        raise ValueError("order.order_id がありません")
    return f"{event_type} {order['order_id']}"


def lambda_handler(event, context):
    """SQS -> Lambda. Returns the records that failed; SQS deletes the rest."""
    failures = []
    for record in event["Records"]:
        try:
            process_message(sns_message(record["body"]))
        except Exception as error:  # one bad record must not fail the whole batch
            print(f"Error processing message {record['messageId']}: {error}")
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


# --- the same with aws-lambda-powertools ---------------------------------------------------

# Powertools raises when *every* record failed (so the whole batch is retried); SQS does the
# same with a full batchItemFailures list. Turning that off keeps the two answers identical.
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


def record_handler(record) -> str:
    return process_message(sns_message(record.body))


def powertools_handler(event, context):
    """The same consumer with Powertools' BatchProcessor / process_partial_response."""
    return process_partial_response(event=event, record_handler=record_handler, processor=processor, context=context)
