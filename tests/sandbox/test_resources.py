"""Provisioning is idempotent, and reset empties everything."""
import json

from labs import sandbox
from labs.sandbox import provision


def test_provision_seed_twice_gives_the_same_resources():
    first = provision.provision_seed()
    second = provision.provision_seed()
    assert first == second
    sns = sandbox.client("sns")
    subs = sns.list_subscriptions_by_topic(TopicArn=first.order_events_topic_arn)["Subscriptions"]
    assert len(subs) == 2
    assert len(sandbox.client("sqs").list_queues()["QueueUrls"]) == 4


def test_queue_converges_to_new_attributes():
    url = provision.ensure_queue("q", visibility_timeout=30)
    assert provision.ensure_queue("q", visibility_timeout=5, dead_letter_queue="q-dlq", max_receive_count=2) == url
    attrs = sandbox.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    assert attrs["VisibilityTimeout"] == "5"
    assert json.loads(attrs["RedrivePolicy"])["maxReceiveCount"] == 2


def test_rule_and_target_are_not_duplicated():
    provision.ensure_bus("orders-bus")
    url = provision.ensure_queue("q")
    for _ in range(2):
        provision.ensure_rule("orders-bus", "r", event_pattern={"source": ["x"]}, queue_url=url)
    events = sandbox.client("events")
    assert len(events.list_rules(EventBusName="orders-bus")["Rules"]) == 1
    assert len(events.list_targets_by_rule(Rule="r", EventBusName="orders-bus")["Targets"]) == 1
    policy = json.loads(sandbox.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["Policy"])["Attributes"]["Policy"])
    assert len(policy["Statement"]) == 1  # the rule may send to the queue, as real AWS requires


def test_subscription_settings_converge():
    topic = provision.ensure_topic("t")
    url = provision.ensure_queue("q")
    provision.ensure_subscription(topic, url)
    arn = provision.ensure_subscription(topic, url, raw=True, filter_policy={"priority": ["high"]})
    attrs = sandbox.client("sns").get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
    assert attrs["RawMessageDelivery"] == "true" and json.loads(attrs["FilterPolicy"]) == {"priority": ["high"]}


def test_reset_empties_the_sandbox():
    provision.provision_seed()
    sandbox.reset()
    assert sandbox.client("sqs").list_queues().get("QueueUrls", []) == []
    assert sandbox.client("sns").list_topics()["Topics"] == []
    assert sandbox.client("dynamodb").list_tables()["TableNames"] == []
    assert provision.provision_seed().queues  # and it can be built again


def test_subscription_without_a_filter_removes_an_earlier_one():
    topic = provision.ensure_topic("t")
    url = provision.ensure_queue("q")
    provision.ensure_subscription(topic, url, filter_policy={"priority": ["high"]})
    provision.ensure_subscription(topic, url)  # the cell, edited to drop the filter, run again
    sandbox.client("sns").publish(TopicArn=topic, Message="low priority, no attributes")
    attrs = sandbox.client("sqs").get_queue_attributes(QueueUrl=url, AttributeNames=["ApproximateNumberOfMessages"])
    assert attrs["Attributes"]["ApproximateNumberOfMessages"] == "1"
