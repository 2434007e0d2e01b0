"""SQS: what AWS refuses at the send is refused here too, before anything is stored
(MOTO_GAPS: "SQS accepts bodies and attributes AWS refuses", "queue settings out of range").

moto stores an empty body, characters outside SQS's set (a lone surrogate then breaks every
later receive of the batch), empty attribute values, more than 10 attributes, ``AWS.``-named
attributes and non-numeric ``Number`` attributes; it also accepts a visibility timeout over
12 hours and a ``maxReceiveCount`` outside 1-1000. AWS refuses each with the error below
(codes and messages from AWS's API reference and recordings against AWS; see
tests/sandbox/test_sqs_inputs.py for the source of each). In a batch, each bad entry fails on
its own (``Failed[]``) and the others are sent, as AWS does for invalid characters.
"""
from __future__ import annotations

import json
from decimal import Decimal, InvalidOperation

from labs.course.limits import (
    SQS_FORBIDDEN_CHARACTER,
    SQS_MAX_MESSAGE_ATTRIBUTES,
    SQS_MAX_RECEIVE_COUNT,
    SQS_MAX_VISIBILITY_TIMEOUT,
)

INVALID_CHARACTERS = ("Invalid characters found. Valid unicode characters are #x9 | #xA | #xD | "
                      "#x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")


def message_problem(body, attributes: dict | None) -> tuple[str, str] | None:
    """(error code, message) AWS answers a SendMessage with, or None when AWS accepts it."""
    if body is None or body == "":
        return "MissingParameter", "The request must contain the parameter MessageBody."
    if SQS_FORBIDDEN_CHARACTER.search(body):
        return "InvalidMessageContents", INVALID_CHARACTERS
    attributes = attributes or {}
    if len(attributes) > SQS_MAX_MESSAGE_ATTRIBUTES:
        return "InvalidParameterValue", (
            f"Number of message attributes [{len(attributes)}] exceeds the allowed maximum [{SQS_MAX_MESSAGE_ATTRIBUTES}].")
    for name, value in attributes.items():
        problem = _attribute_problem(name, value or {})
        if problem:
            return "InvalidParameterValue", problem
    return None


def _attribute_problem(name: str, value: dict) -> str | None:
    if name.lower().startswith(("aws.", "amazon.")):
        return ("You can't use message attribute names beginning with 'AWS.' or 'Amazon.'. "
                "These strings are reserved for internal use.")
    data_type = value.get("DataType") or ""
    base = data_type.split(".")[0]
    if base in ("String", "Number"):
        text = value.get("StringValue")
        if text is None or text == "":
            return f"Message (user) attribute '{name}' must contain a non-empty value of type '{base}'."
        if SQS_FORBIDDEN_CHARACTER.search(text):
            return INVALID_CHARACTERS
        if base == "Number" and not _is_number(text):
            return f"Can't cast the value of message (user) attribute '{name}' to a number."
    elif base == "Binary" and not value.get("BinaryValue"):
        return f"Message (user) attribute '{name}' must contain a non-empty value of type 'Binary'."
    return None


def _is_number(text: str) -> bool:
    try:
        return Decimal(text.strip()).is_finite()
    except InvalidOperation:
        return False


def queue_attribute_problem(attributes: dict) -> tuple[str, str] | None:
    """(error code, message) AWS answers CreateQueue / SetQueueAttributes with, or None."""
    if "VisibilityTimeout" in attributes:
        value = str(attributes["VisibilityTimeout"])
        if not value.isdigit() or int(value) > SQS_MAX_VISIBILITY_TIMEOUT:
            return "InvalidAttributeValue", "Invalid value for the parameter VisibilityTimeout."
    policy = attributes.get("RedrivePolicy")
    if policy:
        try:
            count = int((json.loads(policy) if isinstance(policy, str) else policy).get("maxReceiveCount"))
        except (ValueError, TypeError, AttributeError):
            return None  # moto's own checks answer a malformed policy
        low, high = SQS_MAX_RECEIVE_COUNT
        if not low <= count <= high:
            return "InvalidParameterValue", (
                f"Value {policy} for parameter RedrivePolicy is invalid. Reason: Invalid value for "
                f"maxReceiveCount: {count}, valid values are from {low} to {high} both inclusive.")
    return None


def apply() -> None:
    from moto.sqs.exceptions import SQSException, TooManyEntriesInBatchRequest
    from moto.sqs.models import SQSBackend

    def refuse(problem):
        if problem:
            raise SQSException(*problem)

    original_send = SQSBackend.send_message
    original_batch = SQSBackend.send_message_batch
    original_create = SQSBackend.create_queue
    original_set = SQSBackend.set_queue_attributes

    def send_message(self, queue_name, message_body, message_attributes=None, *args, **kwargs):
        refuse(message_problem(message_body, message_attributes))
        return original_send(self, queue_name, message_body, message_attributes, *args, **kwargs)

    def send_message_batch(self, queue_name, entries):
        if len(entries) > 10:  # a request-level error: nothing of it is sent
            raise TooManyEntriesInBatchRequest(len(entries))
        refused = {}
        for key, entry in entries.items():
            problem = message_problem(entry.get("MessageBody"), entry.get("MessageAttributes"))
            if problem:
                refused[key] = {"Id": entry["Id"], "SenderFault": True, "Code": problem[0], "Message": problem[1]}
        accepted = {k: e for k, e in entries.items() if k not in refused}
        messages, failed = original_batch(self, queue_name, accepted)
        return messages, [*refused.values(), *failed]

    def create_queue(self, name, tags=None, **kwargs):
        refuse(queue_attribute_problem(kwargs))
        return original_create(self, name, tags, **kwargs)

    def set_queue_attributes(self, queue_name, attributes):
        refuse(queue_attribute_problem(attributes))
        return original_set(self, queue_name, attributes)

    SQSBackend.send_message = send_message
    SQSBackend.send_message_batch = send_message_batch
    SQSBackend.create_queue = create_queue
    SQSBackend.set_queue_attributes = set_queue_attributes
