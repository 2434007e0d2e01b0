"""A producer that validates before it publishes (演習4: validation at the producer's end).

An invalid event is cheapest to stop where it is made: once it is on the bus, every
consumer has to cope with it. So this producer checks each event against the schema
(``labs.course.schema.OrderEvent``) and, when it is invalid, raises
:class:`EventRejectedError` (Japanese, field by field) *before anything is sent*.

It re-validates even an ``OrderEvent`` instance: Pydantic does not validate on
attribute assignment by default, so ``event.total_amount = 1`` after construction
goes unnoticed until someone checks the JSON that would actually be sent.

Plain boto3: the same code runs on real AWS. Sending (batching, per-entry failures,
retries) is lesson 01's ``put_events_in_batches``.
"""
from __future__ import annotations

import logging
from typing import Any

from pydantic import BaseModel, ValidationError

from labs.course.producers.eventbridge import EventPublishError, put_events_in_batches
from labs.course.schema import (
    EventType,
    EventValidationError,
    OrderEvent,
    create_order_event,
    explain_validation_error,
)
from labs.course.names import ORDERS_BUS, ORDER_SOURCE


logger = logging.getLogger(__name__)
logger.addHandler(logging.NullHandler())  # a library logs; the application decides where to

__all__ = ["EventRejectedError", "EventPublishError", "validated_event_entry", "publish_validated_event",
           "publish_validated_order_event"]


class EventRejectedError(EventValidationError):
    """The event is invalid, so it was not sent. ``problems``: one Japanese line per field."""

    def __init__(self, problems: list[str]):
        super().__init__(problems)
        self.args = ("送信を中止しました (何も送信していません)。" + self.args[0],)


def _validated(event: OrderEvent | dict[str, Any] | str | bytes, model: type[BaseModel]) -> BaseModel:
    # Check what would go on the wire: an instance may have been changed after it was built.
    raw = event.model_dump_json() if isinstance(event, BaseModel) else event
    try:
        return model.model_validate_json(raw) if isinstance(raw, (str, bytes)) else model.model_validate(raw)
    except ValidationError as error:
        raise EventRejectedError(explain_validation_error(error)) from error


def validated_event_entry(event: BaseModel, *, bus: str = ORDERS_BUS) -> dict:
    """The ``put_events`` entry of a validated event: detail-type is its event_type."""
    return {
        "Source": ORDER_SOURCE,
        "DetailType": EventType(event.event_type).value,
        "Detail": event.model_dump_json(),
        "EventBusName": bus,
    }


def publish_validated_event(
    event: OrderEvent | dict[str, Any] | str | bytes,
    *,
    model: type[BaseModel] = OrderEvent,
    bus: str = ORDERS_BUS,
    events=None,
) -> str:
    """Validate ``event`` against ``model``, then publish it; return its EventBridge EventId.

    Raises EventRejectedError (nothing sent) when the event is invalid, and
    EventPublishError when EventBridge does not accept the entry.
    """
    try:
        valid = _validated(event, model)
    except EventRejectedError as error:
        logger.warning("%s", error)
        raise
    return put_events_in_batches([validated_event_entry(valid, bus=bus)], events=events)[0]


def publish_validated_order_event(
    order: dict[str, Any],
    event_type: EventType | str = EventType.ORDER_CREATED,
    *,
    bus: str = ORDERS_BUS,
    events=None,
) -> OrderEvent:
    """Build the event of ``order`` (a new event_id, an aware UTC timestamp), validate and
    publish it; return the event that was sent. Invalid orders raise EventRejectedError."""
    try:
        event = create_order_event(order, EventType(event_type))
    except ValueError as error:  # ValidationError, or an unknown event_type
        problems = (explain_validation_error(error) if isinstance(error, ValidationError)
                    else [f"event_type: {', '.join(t.value for t in EventType)} のいずれかが必要です (入力: {event_type!r})"])
        logger.warning("order %s rejected: %s", order.get("order_id"), problems)
        raise EventRejectedError(problems) from error
    publish_validated_event(event, bus=bus, events=events)
    return event
