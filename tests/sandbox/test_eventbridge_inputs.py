"""PutEvents refuses what AWS refuses (labs.sandbox.mends.eventbridge_inputs).

Sources: localstack/localstack tests/aws/services/events/test_events.snapshot.json, recorded against
AWS on 08-01-2025: test_put_event_malformed_detail[STRING|ARRAY|SERIALIZED_STRING|MALFORMED_JSON] ->
per entry {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."};
test_put_event_with_too_big_detail -> ValidationException "Total size of the entries in the request is
over the limit." for the whole call. The limit itself: labs.course.limits (1 MB since 29 Jan 2026,
AWS Compute Blog; measured as eventbridge/latest/userguide/eb-putevent-size.html describes).
"""
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from labs.course.limits import EVENTBRIDGE_MAX_REQUEST_BYTES, eventbridge_entry_size
from labs.observe.queues import peek
from labs.sandbox import provision


@pytest.fixture
def bus_queue():
    """orders-bus with a rule delivering everything, including a pattern on detail, to a queue."""
    provision.ensure_bus("orders-bus")
    queue = provision.ensure_queue("seen")
    provision.ensure_rule("orders-bus", "all", event_pattern={"source": ["shop"]}, queue_url=queue)
    provision.ensure_rule("orders-bus", "by-detail", event_pattern={"detail": {"kind": ["a"]}}, queue_url=queue)
    return queue


def entry(detail: str) -> dict:
    return {"Source": "shop", "DetailType": "T", "Detail": detail, "EventBusName": "orders-bus"}


def padded(size: int) -> dict:
    """An entry of exactly ``size`` bytes, as EventBridge measures it."""
    empty = entry(json.dumps({"p": ""}))
    return entry(json.dumps({"p": "x" * (size - eventbridge_entry_size(empty))}))


@pytest.mark.parametrize("detail", ['"a string"', "null", "[1, 2]", '"{\\"a\\": 1}"', "42", "{not json"],
                         ids=["string", "null", "array", "serialized string", "number", "malformed json"])
def test_a_detail_that_is_not_an_object_fails_alone(bus_queue, detail):
    result = boto3.client("events").put_events(Entries=[entry(detail), entry('{"kind": "a"}')])
    assert result["FailedEntryCount"] == 1
    assert result["Entries"][0] == {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}
    assert "EventId" in result["Entries"][1]
    delivered = [json.loads(m["Body"])["detail"] for m in peek(bus_queue)]
    assert delivered == [{"kind": "a"}, {"kind": "a"}]  # the good one, through both rules; nothing else


def test_entries_over_the_request_limit_are_refused_as_a_whole(bus_queue):
    fine = entry('{"kind": "a"}')
    huge = padded(EVENTBRIDGE_MAX_REQUEST_BYTES - eventbridge_entry_size(fine) + 1)
    assert eventbridge_entry_size(fine) + eventbridge_entry_size(huge) == EVENTBRIDGE_MAX_REQUEST_BYTES + 1
    with pytest.raises(ClientError) as caught:
        boto3.client("events").put_events(Entries=[fine, huge])
    assert caught.value.response["Error"] == {
        "Code": "ValidationException", "Message": "Total size of the entries in the request is over the limit."}
    assert peek(bus_queue) == []  # nothing of the call was delivered


def test_entries_exactly_at_the_limit_are_sent():
    # No SQS target here: an event of 1 MB plus its envelope is more than a queue takes, and moto
    # would raise that delivery failure out of put_events (AWS retries it, then drops or DLQs it).
    provision.ensure_bus("orders-bus")
    fine = entry('{"kind": "a"}')
    result = boto3.client("events").put_events(
        Entries=[fine, padded(EVENTBRIDGE_MAX_REQUEST_BYTES - eventbridge_entry_size(fine))])
    assert result["FailedEntryCount"] == 0


def test_entry_size_is_measured_as_aws_documents():
    # eb-putevent-size.html: Time 14 bytes; Source, DetailType, Detail, each Resource in UTF-8 bytes
    assert eventbridge_entry_size({"Source": "a", "DetailType": "bc", "Detail": '{"k":"é"}',
                                   "Resources": ["r1", "r22"], "Time": 0}) == 14 + 1 + 2 + 10 + 2 + 3
    assert eventbridge_entry_size({"Source": "a", "DetailType": "b"}) == 2


def test_eleven_entries_are_still_refused_by_count_even_with_a_malformed_one():
    entries = [entry('{"kind": "a"}')] * 10 + [entry("null")]
    with pytest.raises(ClientError, match="ValidationException"):
        boto3.client("events").put_events(Entries=entries)
