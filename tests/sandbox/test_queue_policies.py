"""A queue's policy decides whether an EventBridge rule or an SNS topic may deliver to it
(labs/sandbox/mends/queue_policies.py; docs/MOTO_GAPS.md "queue policy")."""
from __future__ import annotations

import json

import pytest

from labs import sandbox
from labs.observe.recording import recorder
from labs.sandbox import provision
from labs.sandbox.mends.queue_policies import decide

QUEUE = "arn:aws:sqs:ap-northeast-1:123456789012:orders"
RULE = "arn:aws:events:ap-northeast-1:123456789012:rule/orders-bus/to-orders"
TOPIC = "arn:aws:sns:ap-northeast-1:123456789012:order-events"
EB_DOCS = "https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions"
SNS_DOCS = "https://docs.aws.amazon.com/sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html"


def statement(**fields) -> dict:
    return {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sqs:SendMessage",
                                                     "Resource": QUEUE, **fields}]}


EVENTS = {"Service": "events.amazonaws.com"}
SNS = {"Service": "sns.amazonaws.com"}
FROM_RULE = {"ArnEquals": {"aws:SourceArn": RULE}}

# (case, policy, service, source, allowed, source of the rule)
CASES = [
    ("EventBridge's documented policy", statement(Principal=EVENTS, Condition=FROM_RULE), "events", RULE, True, EB_DOCS),
    ("no policy at all", None, "events", RULE, False, EB_DOCS),
    ("the sns principal for a rule", statement(Principal=SNS, Condition=FROM_RULE), "events", RULE, False, EB_DOCS),
    ("another rule's ARN", statement(Principal=EVENTS, Condition={"ArnEquals": {"aws:SourceArn": RULE + "-old"}}),
     "events", RULE, False, EB_DOCS),
    ("sqs:* with ArnLike on the bus's rules", statement(Principal=EVENTS, Action="sqs:*", Condition={
        "ArnLike": {"aws:SourceArn": "arn:aws:events:ap-northeast-1:123456789012:rule/orders-bus/*"}}),
     "events", RULE, True, "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html#Conditions_ARN"),
    ("aws:SourceAccount", statement(Principal=EVENTS, Condition={"StringEquals": {"aws:SourceAccount": "123456789012"}}),
     "events", RULE, True, "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"),
    ("another account", statement(Principal=EVENTS, Condition={"StringEquals": {"aws:SourceAccount": "111122223333"}}),
     "events", RULE, False, "https://docs.aws.amazon.com/IAM/latest/UserGuide/confused-deputy.html"),
    ("SNS's documented policy (SQS:SendMessage spelled so)",
     statement(Principal=SNS, Action="SQS:SendMessage", Condition={"ArnEquals": {"aws:SourceArn": TOPIC}}),
     "sns", TOPIC, True, "https://docs.aws.amazon.com/sns/latest/dg/sns-configure-dead-letter-queue.html"),
    ("the SDK's SubscribeQueue policy: Principal * with ArnLike",
     statement(Principal="*", Condition={"ArnLike": {"aws:SourceArn": [TOPIC]}}), "sns", TOPIC, True,
     "https://docs.aws.amazon.com/sdkfornet/v4/apidocs/items/SNS/MSNSSubscribeQueueStringICoreSQSString.html"),
    ("the events principal for a topic", statement(Principal=EVENTS, Condition={"ArnEquals": {"aws:SourceArn": TOPIC}}),
     "sns", TOPIC, False, SNS_DOCS),
    ("an account principal is not the service", statement(Principal={"AWS": "arn:aws:iam::123456789012:root"}),
     "sns", TOPIC, False, "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_principal.html"),
    ("another queue as Resource", statement(Principal=SNS, Resource=QUEUE + "-dlq"), "sns", TOPIC, False,
     "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_resource.html"),
    ("ReceiveMessage only", statement(Principal=SNS, Action="sqs:ReceiveMessage"), "sns", TOPIC, False, SNS_DOCS),
    ("an explicit Deny wins over the Allow", {"Statement": [
        statement(Principal=SNS)["Statement"][0],
        {"Effect": "Deny", "Principal": "*", "Action": "sqs:*", "Resource": QUEUE,
         "Condition": {"ArnEquals": {"aws:SourceArn": TOPIC}}}]}, "sns", TOPIC, False,
     "https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html"),
    # Not read here (decided, README of the mend): an Allow whose operator is unknown grants nothing.
    ("an unknown operator in an Allow", statement(Principal=EVENTS, Condition={"ArnEqualsIfExists": {"aws:SourceArn": RULE}}),
     "events", RULE, False, "labs/sandbox/mends/queue_policies.py (read closed)"),
]


@pytest.mark.parametrize("case", CASES, ids=[c[0] for c in CASES])
def test_policy_decision(case):
    _, policy, service, source, allowed, _cited = case
    decision = decide(policy and json.dumps(policy), service=service, source_arn=source, queue_arn=QUEUE)
    assert decision.allowed is allowed
    assert bool(decision.reason) is not allowed  # a refusal always says why, in Japanese


def test_unreadable_parts_are_named_and_a_deny_with_them_denies():
    allow = statement(Principal=EVENTS, Condition={"ArnNotEquals": {"aws:SourceArn": RULE}})
    assert "ArnNotEquals" in decide(json.dumps(allow), service="events", source_arn=RULE, queue_arn=QUEUE).reason
    deny = {"Statement": [statement(Principal=EVENTS)["Statement"][0],
                          {"Effect": "Deny", "NotPrincipal": EVENTS, "Action": "sqs:*", "Resource": QUEUE}]}
    refused = decide(json.dumps(deny), service="events", source_arn=RULE, queue_arn=QUEUE)
    assert not refused.allowed and "NotPrincipal" in refused.reason


# --- in the sandbox ---------------------------------------------------------------------------

def _rule_to(queue_url: str, *, dead_letter_queue: str | None = None) -> str:
    events = sandbox.client("events")
    provision.ensure_bus("orders-bus")
    rule = events.put_rule(Name="to-orders", EventBusName="orders-bus", EventPattern='{"source": ["shop"]}')["RuleArn"]
    target = {"Id": "q", "Arn": provision.queue_arn(queue_url)}
    if dead_letter_queue:
        target["DeadLetterConfig"] = {"Arn": provision.queue_arn(dead_letter_queue)}
    events.put_targets(Rule="to-orders", EventBusName="orders-bus", Targets=[target])
    return rule


def _put_event() -> dict:
    return sandbox.client("events").put_events(Entries=[
        {"EventBusName": "orders-bus", "Source": "shop", "DetailType": "t", "Detail": '{"n": 1}'}])


def _messages(queue_url: str) -> list[dict]:
    return sandbox.client("sqs").receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10,
                                                 MessageAttributeNames=["All"]).get("Messages", [])


def test_a_rule_without_the_queue_policy_delivers_nothing_and_the_recorder_says_why():
    # AWS: put_events succeeds; the invocation fails (FailedInvocations), is not retried, and with no
    # DLQ the event is dropped (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
    queue = provision.ensure_queue("orders")
    rule = _rule_to(queue)
    recorder.clear()
    assert _put_event()["FailedEntryCount"] == 0
    assert _messages(queue) == []
    refused = recorder.select(kind="dlq")
    assert [(r.source, r.target) for r in refused] == [("to-orders", "(破棄)")]
    assert "ポリシー" in refused[0].detail and "events.amazonaws.com" in refused[0].detail
    provision.allow_send(queue, rule, "events")  # the fix a learner makes: now it arrives
    _put_event()
    assert len(_messages(queue)) == 1


def test_a_refused_event_goes_straight_to_the_targets_dlq_with_evenbridges_attributes():
    # "for errors that result from missing permissions to a target ... EventBridge sends these events
    # directly to the target DLQ" with RULE_ARN, TARGET_ARN, ERROR_CODE, ERROR_MESSAGE
    # (https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-rule-dlq.html).
    queue, dlq = provision.ensure_queue("orders"), provision.ensure_queue("orders-target-dlq")
    rule = _rule_to(queue, dead_letter_queue=dlq)
    provision.allow_send(dlq, rule, "events")  # the DLQ itself needs the permission (same page)
    _put_event()
    assert _messages(queue) == []
    (message,) = _messages(dlq)
    assert json.loads(message["Body"])["detail"] == {"n": 1}
    attributes = {k: v["StringValue"] for k, v in message["MessageAttributes"].items()}
    assert attributes["ERROR_CODE"] == "NO_PERMISSIONS"
    assert attributes["RULE_ARN"] == rule and attributes["TARGET_ARN"] == provision.queue_arn(queue)


def test_a_topic_without_the_queue_policy_delivers_nothing_and_publish_succeeds():
    # A client-side error: not retried, no error to the publisher
    # (https://docs.aws.amazon.com/sns/latest/dg/sns-dead-letter-queues.html).
    sns = sandbox.client("sns")
    topic, queue = provision.ensure_topic("order-events"), provision.ensure_queue("inventory")
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=provision.queue_arn(queue))
    recorder.clear()
    assert sns.publish(TopicArn=topic, Message="hello")["MessageId"]
    assert _messages(queue) == []
    assert [(r.source, r.target) for r in recorder.select(kind="dlq")] == [("order-events", "(破棄)")]
    provision.allow_send(queue, topic, "sns")
    sns.publish(TopicArn=topic, Message="hello")
    assert len(_messages(queue)) == 1


def test_setting_other_attributes_keeps_the_policy():
    # SetQueueAttributes sets the attributes given (https://docs.aws.amazon.com/AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html);
    # moto forgot the Policy, so re-running ensure_queue silently cut a rule off its queue.
    sqs = sandbox.client("sqs")
    queue = provision.ensure_queue("orders")
    provision.allow_send(queue, RULE, "events")
    provision.ensure_queue("orders", visibility_timeout=60)  # converges with SetQueueAttributes
    policy = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"])["Attributes"]["Policy"]
    assert json.loads(policy)["Statement"][0]["Condition"]["ArnEquals"]["aws:SourceArn"] == RULE
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"Policy": ""})  # an empty Policy removes it
    assert "Policy" not in sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["Policy"]).get("Attributes", {})
