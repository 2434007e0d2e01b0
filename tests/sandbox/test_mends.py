"""labs.sandbox.mends: moto behaves as AWS does where the course relies on it (docs/MOTO_GAPS.md)."""
import json
import logging

import boto3
import pytest
from botocore.exceptions import ClientError

from labs.sandbox import provision


def test_a_refused_subscribe_leaves_no_subscription():
    # AWS answers Subscribe with InvalidParameter and makes nothing:
    # https://docs.aws.amazon.com/sns/latest/api/API_Subscribe.html (Errors: InvalidParameter)
    sns = boto3.client("sns")
    topic = provision.ensure_topic("order-events")
    queue_arn = provision.queue_arn(provision.ensure_queue("inventory-queue"))
    with pytest.raises(ClientError) as caught:
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"FilterPolicy": json.dumps({"amount": [{"numeric": [">", "many"]}]})})
    assert caught.value.response["Error"]["Code"] == "InvalidParameter"
    assert sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"] == []


def test_a_refused_policy_on_an_existing_subscription_keeps_that_subscription():
    sns = boto3.client("sns")
    topic = provision.ensure_topic("order-events")
    queue_arn = provision.queue_arn(provision.ensure_queue("inventory-queue"))
    arn = sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn, ReturnSubscriptionArn=True)["SubscriptionArn"]
    with pytest.raises(ClientError):
        sns.subscribe(TopicArn=topic, Protocol="sqs", Endpoint=queue_arn,
                      Attributes={"FilterPolicy": json.dumps({"amount": [{"numeric": [">", "many"]}]})})
    assert [s["SubscriptionArn"] for s in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]] == [arn]


def test_caught_step_function_failures_are_not_logged_as_errors():
    assert logging.getLogger("moto.stepfunctions.parser").getEffectiveLevel() == logging.CRITICAL
