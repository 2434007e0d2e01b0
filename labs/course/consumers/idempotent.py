"""Idempotent consumers: an event delivered twice must have its effect once.

A standard SQS queue delivers *at least once*: the same message can arrive twice (SQS
kept a second copy, or a handler ran past the visibility timeout), and a producer that
retried after a timeout can send the same event as a second message with a new
messageId. So the consumer, not the queue, must make "twice" harmless.

The effect here: a customer earns loyalty points for an order (``ADD points``), which
is exactly the kind of effect that is wrong when applied twice. Three handlers:

* ``naive_handler``: applies the effect for every delivery. Duplicates double the points.
* ``lambda_handler``: a DynamoDB **conditional write**. In one transaction it records the
  event id in ``processed-events`` with ``attribute_not_exists(event_id)`` and adds the
  points; a second delivery fails the condition, so nothing is added. Recording and the
  effect succeed or fail together: no crash can leave one without the other.
* ``powertools_handler``: aws-lambda-powertools' idempotency utility with its DynamoDB
  persistence layer (table ``idempotency``), inside its ``BatchProcessor``. It records
  INPROGRESS, runs the function, then stores COMPLETED with the result; a duplicate gets
  the stored result without running the function again. It works for any effect (an
  e-mail, a card charge), not only DynamoDB writes.

The key is the *business* event id (``event_id`` in the body), not the SQS messageId: a
producer's retry is a new message with the same event.

Tables (create them with ``labs.sandbox.provision.ensure_table(name, key)`` for each of TABLES).
"""
from __future__ import annotations

import functools

from aws_lambda_powertools.utilities.batch import BatchProcessor, EventType, process_partial_response
from aws_lambda_powertools.utilities.idempotency import (
    DynamoDBPersistenceLayer,
    IdempotencyConfig,
    idempotent_function,
)

from labs.course import aws
from labs.course.consumers.batch import partial_batch_response
from labs.course.envelopes import sns_message

POINTS_TABLE = "customer-points"  # customer_id -> points (the effect)
PROCESSED_TABLE = "processed-events"  # event_id -> when it was applied (conditional write)
IDEMPOTENCY_TABLE = "idempotency"  # Powertools' records (key "id"; enable TTL on "expiration")
TABLES = {POINTS_TABLE: "customer_id", PROCESSED_TABLE: "event_id", IDEMPOTENCY_TABLE: "id"}
YEN_PER_POINT = 100


# --- the event and the effect -----------------------------------------------------------

def parse_order_event(body: str) -> dict:
    """The order event in an SQS body (raw, or inside an SNS envelope), checked."""
    event = sns_message(body)
    if not isinstance(event, dict):
        raise ValueError(f"注文イベントが JSON オブジェクトではありません: {body[:80]!r}")
    missing = [k for k in ("event_id", "customer_id", "amount") if not event.get(k) and event.get(k) != 0]
    if missing:
        raise ValueError(f"注文イベントに {', '.join(missing)} がありません: {body[:80]!r}")
    if not isinstance(event["amount"], int) or isinstance(event["amount"], bool) or event["amount"] < 0:
        raise ValueError(f"amount は 0 以上の整数 (円) です: {event['amount']!r}")
    return event


def points_for(event: dict) -> int:
    return event["amount"] // YEN_PER_POINT


def _add_points(event: dict) -> dict:
    """The update that adds the event's points to the customer's total."""
    return {
        "TableName": POINTS_TABLE,
        "Key": {"customer_id": {"S": event["customer_id"]}},
        "UpdateExpression": "ADD points :p",
        "ExpressionAttributeValues": {":p": {"N": str(points_for(event))}},
    }


def award_points(event: dict) -> dict:
    """The effect, on its own: NOT idempotent (every call adds the points again)."""
    aws.client("dynamodb").update_item(**_add_points(event))
    return {"customer_id": event["customer_id"], "points_added": points_for(event)}


def award_points_once(event: dict) -> bool:
    """Record the event id and add the points in one transaction, only if the id is new.

    Returns True when the points were added, False when the event had been applied
    already (the conditional write ``attribute_not_exists(event_id)`` failed).
    """
    dynamodb = aws.client("dynamodb")
    try:
        dynamodb.transact_write_items(TransactItems=[
            {"Put": {
                "TableName": PROCESSED_TABLE,
                "Item": {"event_id": {"S": event["event_id"]}, "customer_id": {"S": event["customer_id"]}},
                "ConditionExpression": "attribute_not_exists(event_id)",
            }},
            {"Update": _add_points(event)},
        ])
    except dynamodb.exceptions.TransactionCanceledException as error:
        reasons = [r.get("Code") for r in error.response.get("CancellationReasons", [])]
        if reasons and reasons[0] == "ConditionalCheckFailed":
            return False  # seen before: a duplicate, nothing to do
        raise  # anything else (throttling, a conflict) is a real failure: let SQS retry
    return True


# --- the three handlers -------------------------------------------------------------------

def naive_handler(event, context):
    """SQS -> Lambda without idempotency: a duplicate delivery adds the points twice."""
    return partial_batch_response(event, lambda record: award_points(parse_order_event(record["body"])))


def lambda_handler(event, context):
    """SQS -> Lambda, idempotent by a conditional write keyed on the event id."""
    return partial_batch_response(event, lambda record: award_points_once(parse_order_event(record["body"])))


# Powertools: the idempotency key is the event id in the body (JMESPath on the function's data).
IDEMPOTENCY_CONFIG = IdempotencyConfig(
    event_key_jmespath="event_id",
    raise_on_no_idempotency_key=True,  # no key = no protection: fail loudly instead
    expires_after_seconds=24 * 3600,  # how long a duplicate is recognised (then TTL may delete it)
)
processor = BatchProcessor(event_type=EventType.SQS, raise_on_entire_batch_failure=False)


@functools.cache
def _award_points_idempotently():
    """award_points wrapped by Powertools' @idempotent_function (built on first use, so the
    persistence layer's DynamoDB client is not made at import)."""
    persistence = DynamoDBPersistenceLayer(table_name=IDEMPOTENCY_TABLE)

    @idempotent_function(data_keyword_argument="order", persistence_store=persistence, config=IDEMPOTENCY_CONFIG)
    def award_points_idempotently(order: dict) -> dict:
        return award_points(order)

    return award_points_idempotently


def powertools_handler(event, context):
    """The same consumer with Powertools' idempotency utility and BatchProcessor."""
    IDEMPOTENCY_CONFIG.register_lambda_context(context)  # INPROGRESS expires with the invocation
    award = _award_points_idempotently()
    return process_partial_response(
        event=event, record_handler=lambda record: award(order=parse_order_event(record.body)),
        processor=processor, context=context,
    )


# --- reading the result -------------------------------------------------------------------

def points_of(customer_id: str) -> int:
    item = aws.client("dynamodb").get_item(TableName=POINTS_TABLE, Key={"customer_id": {"S": customer_id}}).get("Item")
    return int(item["points"]["N"]) if item else 0
