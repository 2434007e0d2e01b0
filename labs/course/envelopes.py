"""Envelopes: the message inside what a service wrapped around it.

Every event source hands your code an envelope, and the message you care about is inside:

* an SQS message's ``body`` is text, usually JSON;
* SNS delivering to SQS puts its own JSON envelope in that body (``Type: Notification``,
  ``TopicArn``, ``Message``), unless the subscription has ``RawMessageDelivery``;
* an EventBridge event carries the message in ``detail`` (an SQS target receives the
  whole event as the body).

One function per envelope, shaped like aws-lambda-powertools' parser envelopes
(``SqsEnvelope``, ``SnsSqsEnvelope``, ``EventBridgeEnvelope``): open the envelope, then,
when a ``model`` (a Pydantic model) is given, validate what is inside against it.
Unlike Powertools' envelopes, these open *one* record at a time, so a handler can report
each bad record on its own (partial batch response) instead of failing the batch.

Anything that is not the envelope it claims to be raises EnvelopeError (a ValueError), in
Japanese; a body that is not JSON at all raises its subclass NotJsonError.
"""
from __future__ import annotations

import json
from typing import Any


class EnvelopeError(ValueError):
    """The data is not the envelope it was read as (the message says why, in Japanese)."""


class NotJsonError(EnvelopeError):
    """A body (or an SNS Message) that is not JSON."""


def loads(text: str) -> Any:
    """A message body as JSON; NotJsonError (Japanese) when it is not JSON."""
    try:
        return json.loads(text)
    except (json.JSONDecodeError, TypeError) as error:
        raise NotJsonError(f"メッセージ本文が JSON ではありません: {str(text)[:80]!r}") from error


def sqs_body(body: str, model=None) -> Any:
    """The JSON document in an SQS message body (``model.model_validate`` it, if given)."""
    return _validated(loads(body), model)


def is_sns_notification(document: Any) -> bool:
    """SNS's envelope is told by ``Type == "Notification"``, not by a ``Message`` key: a
    domain message may well have a field called Message."""
    return isinstance(document, dict) and document.get("Type") == "Notification" and "TopicArn" in document


def sns_message(body: str, model=None) -> Any:
    """The message SNS published into an SQS body: the envelope's ``Message`` as JSON, or,
    for a subscription with RawMessageDelivery, the body itself."""
    document = loads(body)
    if is_sns_notification(document):
        document = loads(document["Message"])
    return _validated(document, model)


def eventbridge_detail(event: dict | str, model=None) -> Any:
    """The ``detail`` of an EventBridge event (a dict, or the JSON an SQS target received)."""
    document = loads(event) if isinstance(event, (str, bytes)) else event
    if not isinstance(document, dict) or not isinstance(document.get("detail"), dict):
        raise EnvelopeError("EventBridge のイベントではありません (detail がありません)")
    return _validated(document["detail"], model)


def _validated(document: Any, model) -> Any:
    return document if model is None else model.model_validate(document)
