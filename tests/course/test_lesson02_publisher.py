"""labs.course.producers.sns: attributes as SNS wants them, the topic ARN from where the code runs."""
import json

import pytest

from labs import sandbox
from labs.sandbox import provision
from labs.course.producers.sns import message_attributes, notify_order_created, publish_to_sns, topic_arn


def _raw_queue(topic: str, **subscription) -> str:
    arn = provision.ensure_topic(topic)
    url = provision.ensure_queue(f"{topic}-q")
    provision.ensure_subscription(arn, url, raw=True, **subscription)
    return url


def _receive(url: str) -> list[dict]:
    return sandbox.client("sqs").receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])


def test_topic_arn_is_built_from_the_account_and_region_in_use():
    assert topic_arn("order-events") == f"arn:aws:sns:ap-northeast-1:{sandbox.ACCOUNT_ID}:order-events"
    assert topic_arn("order-events") == provision.ensure_topic("order-events")


def test_publish_sends_json_and_typed_attributes():
    url = _raw_queue("t-publish")
    response = publish_to_sns(provision.ensure_topic("t-publish"), {"order": {"order_id": "A", "note": "置き配"}},
                              {"priority": "high", "amount": 15000, "gift": True, "tags": ["a", "b"]})
    assert "MessageId" in response
    [message] = _receive(url)
    assert json.loads(message["Body"]) == {"order": {"order_id": "A", "note": "置き配"}}
    assert message["MessageAttributes"] == {
        "priority": {"DataType": "String", "StringValue": "high"},
        "amount": {"DataType": "Number", "StringValue": "15000"},
        "gift": {"DataType": "String", "StringValue": "true"},
        "tags": {"DataType": "String.Array", "StringValue": '["a", "b"]'},
    }


def test_number_attributes_match_numeric_filter_policies():
    url = _raw_queue("t-numeric", filter_policy={"amount": [{"numeric": [">=", 10000]}]})
    topic = provision.ensure_topic("t-numeric")
    publish_to_sns(topic, {"n": 1}, {"amount": 9999})
    publish_to_sns(topic, {"n": 2}, {"amount": 10000})
    assert [json.loads(m["Body"])["n"] for m in _receive(url)] == [2]


def test_notify_order_created_fans_out_to_the_seed_queues():
    seed = provision.provision_seed()
    notify_order_created({"order_id": "ORD-1", "amount": 1200})
    sqs = sandbox.client("sqs")
    for name in ("inventory-queue", "shipping-queue"):
        [message] = sqs.receive_message(QueueUrl=seed.queues[name]).get("Messages", [])
        envelope = json.loads(message["Body"])
        assert envelope["Type"] == "Notification"
        assert json.loads(envelope["Message"]) == {"event_type": "OrderCreated", "order": {"order_id": "ORD-1", "amount": 1200}}
        assert envelope["MessageAttributes"]["priority"] == {"Type": "String", "Value": "high"}


def test_topic_arn_from_the_environment_wins(monkeypatch):
    other = provision.ensure_topic("order-events-staging")
    url = _raw_queue("order-events-staging")
    monkeypatch.setenv("ORDER_EVENTS_TOPIC_ARN", other)
    notify_order_created({"order_id": "ORD-2"}, priority="low")
    [message] = _receive(url)
    assert message["MessageAttributes"]["priority"]["StringValue"] == "low"


@pytest.mark.parametrize("attributes, words", [
    ({f"k{i}": "v" for i in range(11)}, "10 個まで"),
    ({"priority": ""}, "空"),
    ({"priority": None}, "空"),
])
def test_bad_attributes_are_refused_before_sending(attributes, words):
    with pytest.raises(ValueError, match=words):
        message_attributes(attributes)
