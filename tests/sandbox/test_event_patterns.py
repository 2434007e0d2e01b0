"""EventBridge event patterns against a corpus of cases recorded on AWS (tests/sandbox/corpus/event_patterns.json).

Every case names its source: a LocalStack snapshot test recorded against AWS, an AWS documentation
page, or Event Ruler's README (the engine EventBridge runs). Each case runs through boto3 three
ways: ``TestEventPattern``, ``PutRule`` (a pattern AWS rejects must be rejected with AWS's reason),
and, where the event can be sent with ``PutEvents``, a real delivery to an SQS target.
"""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from labs import sandbox
from labs.sandbox import provision
from tests.sandbox.helpers import assert_large_and_cited, case_ids, load_corpus, queue_with_arn

CORPUS = load_corpus("event_patterns.json")
# Fields every event of the corpus has unless the case says otherwise (TestEventPattern needs them).
ENVELOPE = {"id": "1", "source": "test-source", "detail-type": "test-detail-type", "account": "123456789012",
            "region": "us-east-2", "time": "2022-07-13T13:48:01Z"}
SENDABLE = {"source", "detail-type", "detail", "resources"}  # what PutEvents lets a caller set
BUS = "corpus-bus"


def _first_line(error: ClientError) -> str:
    return error.response["Error"]["Message"].split("\n")[0]


def expected(case: dict) -> dict:
    if "event_error" in case:
        return {"test_event_pattern": ("error", case["event_error"])}
    if "error" in case:
        return {"test_event_pattern": ("error", case["error"]), "put_rule": ("error", case["error"])}
    outcome = {"test_event_pattern": case["match"], "put_rule": "stored"}
    if _sendable(case):
        outcome["delivered"] = case["match"]
    return outcome


def _sendable(case: dict) -> bool:
    event, pattern = case.get("event") or {}, case.get("pattern")
    return (isinstance(pattern, dict) and set(pattern) <= SENDABLE and set(event) <= SENDABLE
            and isinstance(event.get("detail", {}), dict)
            and all(isinstance(event.get(k, "x"), str) and event.get(k, "x") for k in ("source", "detail-type"))
            and all(isinstance(r, str) for r in event.get("resources", [])))


def run_case(case: dict, *, use_test_api: bool = True) -> dict:
    """What the sandbox answers for one case, in the shape ``expected`` gives."""
    events = sandbox.client("events")
    pattern = case.get("raw_pattern") or json.dumps(case["pattern"])
    event = case.get("raw_event") or json.dumps({**ENVELOPE, **case["event"]})
    outcome: dict = {}
    if use_test_api:
        try:
            outcome["test_event_pattern"] = events.test_event_pattern(EventPattern=pattern, Event=event).get("Result")
        except ClientError as error:
            outcome["test_event_pattern"] = ("error", _first_line(error))
    if "event_error" in case:
        return outcome
    if BUS not in [b["Name"] for b in events.list_event_buses()["EventBuses"]]:
        events.create_event_bus(Name=BUS)
    try:
        events.put_rule(Name="corpus-rule", EventBusName=BUS, EventPattern=pattern)
        outcome["put_rule"] = "stored"
    except ClientError as error:
        outcome["put_rule"] = ("error", _first_line(error))
        return outcome
    if _sendable(case):
        outcome["delivered"] = _delivered(events, case["event"])
    return outcome


def _delivered(events, event: dict) -> bool:
    sqs = sandbox.client("sqs")
    queue, arn = queue_with_arn(sqs, "corpus-target")
    events.put_targets(Rule="corpus-rule", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
    provision.allow_send(queue, events.describe_rule(Name="corpus-rule", EventBusName=BUS)["Arn"], "events")
    entry = {"EventBusName": BUS, "Source": event.get("source", ENVELOPE["source"]),
             "DetailType": event.get("detail-type", ENVELOPE["detail-type"]),
             "Detail": json.dumps(event.get("detail", {})), "Resources": event.get("resources", [])}
    events.put_events(Entries=[entry])
    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    sqs.delete_queue(QueueUrl=queue)
    return bool(messages)


@pytest.mark.parametrize("case", CORPUS, ids=case_ids(CORPUS))
def test_corpus_case(case):
    assert run_case(case) == expected(case), case["source"]


def test_corpus_is_large_and_cited():
    assert_large_and_cited(CORPUS, at_least=150)


# --- the bus keeps working -------------------------------------------------------------------------

def _bus_with_queue():
    events, sqs = sandbox.client("events"), sandbox.client("sqs")
    events.create_event_bus(Name=BUS)
    queue, arn = queue_with_arn(sqs, "good-target")
    rule = events.put_rule(Name="good", EventBusName=BUS, EventPattern=json.dumps({"source": ["shop"]}))["RuleArn"]
    events.put_targets(Rule="good", EventBusName=BUS, Targets=[{"Id": "q", "Arn": arn}])
    provision.allow_send(queue, rule, "events")
    return events, sqs, queue


def test_rejected_pattern_is_not_stored_and_the_bus_still_delivers():
    events, sqs, queue = _bus_with_queue()
    for bad in ({"detail": {"amount": [{"numeric": [">", "x"]}]}}, {"detail": {"a": [{"prefix": 5}]}},
                {"detail": {"a": [{"anything-but": {"exists": True}}]}}, {"detail": {"a": [{"cidr": "10.0.0.0"}]}}):
        with pytest.raises(events.exceptions.InvalidEventPatternException):
            events.put_rule(Name="bad", EventBusName=BUS, EventPattern=json.dumps(bad))
    assert [r["Name"] for r in events.list_rules(EventBusName=BUS)["Rules"]] == ["good"]
    events.put_events(Entries=[{"EventBusName": BUS, "Source": "shop", "DetailType": "t", "Detail": '{"amount": "3,000"}'}])
    assert len(sqs.receive_message(QueueUrl=queue).get("Messages", [])) == 1


def test_a_rule_stored_before_the_mend_cannot_break_put_events():
    """A pattern moto stored without validation (e.g. before the mend) matches nothing, and others deliver."""
    from moto.events.models import EventPattern, events_backends

    events, sqs, queue = _bus_with_queue()
    events.put_rule(Name="legacy", EventBusName=BUS, EventPattern=json.dumps({"source": ["shop"]}))
    legacy = events_backends[sandbox.ACCOUNT_ID][sandbox.current().region].event_buses[BUS].rules["legacy"]
    legacy.event_pattern = EventPattern('{"detail": {"a": [{"numeric": [">", "x"]}]}}', {})
    result = events.put_events(Entries=[{"EventBusName": BUS, "Source": "shop", "DetailType": "t", "Detail": "{}"}])
    assert result["FailedEntryCount"] == 0
    assert len(sqs.receive_message(QueueUrl=queue).get("Messages", [])) == 1


def test_schedule_only_rule_matches_no_event():
    """A rule with only a schedule is not an event pattern: PutEvents never reaches its targets."""
    events, sqs = sandbox.client("events"), sandbox.client("sqs")
    queue, arn = queue_with_arn(sqs, "scheduled-target")
    rule = events.put_rule(Name="nightly", ScheduleExpression="rate(1 day)")["RuleArn"]
    events.put_targets(Rule="nightly", Targets=[{"Id": "q", "Arn": arn}])
    provision.allow_send(queue, rule, "events")  # allowed, so only the pattern keeps the event out
    events.put_events(Entries=[{"Source": "shop", "DetailType": "t", "Detail": "{}"}])
    assert sqs.receive_message(QueueUrl=queue).get("Messages", []) == []
