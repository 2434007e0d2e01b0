"""An SQS consumer that validates what it receives (演習4: validation at the consumer's end).

Wiring: ``orders-bus`` -> EventBridge rule -> SQS queue (with a DLQ) -> this handler
(an SQS event source mapping with ``ReportBatchItemFailures``). Each message body is
the EventBridge event as the rule delivered it; its ``detail`` is the order event.

Not every producer validates. An invalid event must not crash the batch (that would
retry the valid ones with it) nor disappear: it is reported in ``batchItemFailures``,
so SQS keeps it, receives it again, and after ``maxReceiveCount`` moves it to the DLQ
where someone can read why. Why it is invalid is logged field by field, in Japanese.

    lambda_handler = make_handler()                       # v1 schema, default processing
    new_handler = make_handler(OrderEventV2, process=..)  # a consumer on schema v2
"""
from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any, Callable

from pydantic import BaseModel, ValidationError

from labs.course import envelopes
from labs.course.consumers.batch import partial_batch_response
from labs.course.schema import EventValidationError, OrderEvent, explain_validation_error

logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())  # on Lambda the runtime's root handler takes these


@dataclass(frozen=True)
class Rejection:
    """One invalid message: which, how often it has been received, and why (Japanese)."""

    message_id: str
    receive_count: int
    problems: list[str]
    body: str

    def describe(self) -> str:
        return f"{self.message_id} (受信 {self.receive_count} 回目): " + " / ".join(self.problems)


def parse_record(record: dict, model: type[BaseModel] = OrderEvent) -> BaseModel:
    """The order event in one SQS record whose body is an EventBridge event.

    Raises EventValidationError (Japanese, field by field) when it is not one.
    """
    try:
        envelope = envelopes.loads(record["body"])
        event = envelopes.eventbridge_detail(envelope, model)
    except ValidationError as error:  # the detail is there, but not a valid order event
        raise EventValidationError(explain_validation_error(error)) from error
    except envelopes.NotJsonError:
        raise EventValidationError([f"(メッセージ本文): JSON として読めません (入力: {record['body'][:60]!r})"]) from None
    except envelopes.EnvelopeError as error:
        raise EventValidationError([f"(メッセージ本文): {error}"]) from None
    detail_type = envelope.get("detail-type")
    if detail_type != getattr(event, "event_type", detail_type):
        raise EventValidationError(
            [f"detail-type: event_type ({event.event_type.value}) と一致しません (入力: {detail_type!r})"]
        )
    return event


def log_event(event: BaseModel) -> None:
    """Default processing: say what arrived (a real consumer reserves stock, sends mail...)."""
    logger.info("processed %s %s", getattr(event, "event_type", "?"), getattr(event, "order_id", "?"))


def make_handler(
    model: type[BaseModel] = OrderEvent,
    *,
    process: Callable[[BaseModel], Any] = log_event,
    on_invalid: Callable[[Rejection], Any] | None = None,
) -> Callable[[dict, Any], dict]:
    """An SQS handler that validates each record against ``model``.

    ``process`` gets each valid event; ``on_invalid`` (if given) each Rejection, after it
    is logged. Invalid records, and records whose processing raised, are returned in
    ``batchItemFailures``: retried, then moved to the DLQ by SQS. Never a crash.
    """

    def handle_record(record: dict) -> None:
        process(parse_record(record, model))

    def tell(record: dict, error: Exception) -> None:
        if not isinstance(error, EventValidationError):  # processing failed: retried alone
            logger.exception("processing failed: %s", record["messageId"])
            return
        rejection = Rejection(record["messageId"], int(record.get("attributes", {}).get("ApproximateReceiveCount", 1)),
                              error.problems, record["body"])
        logger.warning("invalid event rejected: %s", rejection.describe())
        if on_invalid is not None:
            try:
                on_invalid(rejection)
            except Exception:  # a broken callback must not fail the valid records too
                logger.exception("on_invalid failed for %s", record["messageId"])

    def lambda_handler(event: dict, context: Any) -> dict:
        # Always {"batchItemFailures": [...]}: {'statusCode': 200} means nothing to an SQS event source.
        return partial_batch_response(event, handle_record, on_failure=tell)

    return lambda_handler


lambda_handler = make_handler()
