"""SNS filter policies against a corpus of cases recorded on AWS (tests/sandbox/corpus/sns_filter_policies.json).

Each case cites its source (LocalStack's snapshot tests recorded against AWS, or an AWS
documentation page). A policy case is subscribed through boto3 (``Subscribe`` or
``SetSubscriptionAttributes``, as recorded); a refused policy must be refused with AWS's words
and leave nothing behind; an accepted one must deliver exactly the messages AWS delivered.
"""
from __future__ import annotations

import json

import pytest
from botocore.exceptions import ClientError

from labs import sandbox
from labs.sandbox import provision
from tests.sandbox.helpers import assert_large_and_cited, case_ids, load_corpus, queue_with_arn

CORPUS = load_corpus("sns_filter_policies.json")


def _queue_and_topic():
    sns, sqs = sandbox.client("sns"), sandbox.client("sqs")
    topic = sns.create_topic(Name="corpus-topic")["TopicArn"]
    queue, arn = queue_with_arn(sqs, "corpus-queue")
    provision.allow_send(queue, topic, "sns")  # the queue policy AWS needs before SNS may deliver
    return sns, sqs, topic, queue, arn


def expected(case: dict) -> dict:
    if "error" in case:
        return {"error": case["error"], "subscriptions": 0 if case["via"] == "subscribe" else 1}
    return {"delivered": [m["delivered"] for m in case["messages"]]}


def run_case(case: dict) -> dict:
    """What the sandbox does with one case, in the shape ``expected`` gives."""
    sns, sqs, topic, queue, arn = _queue_and_topic()
    policy = {"FilterPolicy": json.dumps(case["policy"])}
    if "scope" in case:
        policy = {"FilterPolicyScope": case["scope"], **policy}
    try:
        if case.get("via") == "set":
            subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True,
                                         Attributes={"RawMessageDelivery": "true"})["SubscriptionArn"]
            for name, value in policy.items():
                sns.set_subscription_attributes(SubscriptionArn=subscription, AttributeName=name, AttributeValue=value)
        else:
            sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                          Attributes={"RawMessageDelivery": "true", **policy})
    except ClientError as error:
        return {"error": error.response["Error"]["Message"].split("\n")[0],
                "subscriptions": len(sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"])}
    delivered = []
    for message in case.get("messages", []):
        body = message["body"] if isinstance(message["body"], str) else json.dumps(message["body"])
        sns.publish(TopicArn=topic, Message=body, MessageAttributes=_attributes(message.get("attributes", {})))
        received = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
        for m in received:
            sqs.delete_message(QueueUrl=queue, ReceiptHandle=m["ReceiptHandle"])
        delivered.append(bool(received))
    return {"delivered": delivered}


def _attributes(attributes: dict) -> dict:
    """The corpus writes a Binary value as text; boto3 sends bytes."""
    return {name: ({"DataType": a["DataType"], "BinaryValue": a["BinaryValue"].encode()} if "BinaryValue" in a else a)
            for name, a in attributes.items()}


@pytest.mark.parametrize("case", CORPUS, ids=case_ids(CORPUS))
def test_corpus_case(case):
    assert run_case(case) == expected(case), case["source"]


def test_corpus_is_large_and_cited():
    assert_large_and_cited(CORPUS, at_least=70)


def test_refused_policy_leaves_the_existing_subscription_as_it_was():
    sns, sqs, topic, queue, arn = _queue_and_topic()
    subscription = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn, ReturnSubscriptionArn=True,
                                 Attributes={"FilterPolicy": json.dumps({"kind": ["a"]})})["SubscriptionArn"]
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.set_subscription_attributes(SubscriptionArn=subscription, AttributeName="FilterPolicy",
                                        AttributeValue=json.dumps({"kind": [{"suffix": 1}]}))
    with pytest.raises(sns.exceptions.InvalidParameterException):
        sns.set_subscription_attributes(SubscriptionArn=subscription, AttributeName="FilterPolicyScope",
                                        AttributeValue="Body")
    attributes = sns.get_subscription_attributes(SubscriptionArn=subscription)["Attributes"]
    assert json.loads(attributes["FilterPolicy"]) == {"kind": ["a"]}
    assert attributes["FilterPolicyScope"] == "MessageAttributes"


def test_numeric_body_filter_never_fails_a_publish_whatever_is_subscribed():
    """Issue 19: lesson 02's body filter and lesson 03's "3,000" made moto answer 500 to every publisher."""
    sns, sqs, topic, queue, arn = _queue_and_topic()
    sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=arn,
                  Attributes={"FilterPolicyScope": "MessageBody", "RawMessageDelivery": "true",
                              "FilterPolicy": json.dumps({"amount": [{"numeric": [">=", 10000]}]})})
    for amount in ("3,000", None, True, [1, "x"], {"yen": 3000}):
        sns.publish(TopicArn=topic, Message=json.dumps({"amount": amount}))
    sns.publish(TopicArn=topic, Message=json.dumps({"amount": 12000}))
    bodies = [json.loads(m["Body"]) for m in sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]]
    assert bodies == [{"amount": 12000}]
