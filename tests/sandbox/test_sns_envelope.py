"""The SNS envelope on an SQS queue links to its own subscription in the topic's region
(labs.sandbox.mends.sns_envelope).

Source: sns/latest/dg/sns-message-and-json-formats.html, the HTTP/S notification sample:
"SigningCertURL" : "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-....pem",
"UnsubscribeURL" : "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=
arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-26c4-47ec-8998-413945fb5a96"
(topic, subscription and both URLs in the same region).
"""
import json

import boto3
from aws_lambda_powertools.utilities.parser.models import SnsNotificationModel

from labs.observe.queues import peek
from labs.sandbox import provision


def test_unsubscribe_url_names_the_topic_region_and_the_real_subscription():
    topic = provision.ensure_topic("order-events")
    queue = provision.ensure_queue("inventory-queue")
    subscription = provision.ensure_subscription(topic, queue)
    boto3.client("sns").publish(TopicArn=topic, Message="hello")
    [message] = peek(queue)
    envelope = json.loads(message["Body"])
    assert envelope["UnsubscribeURL"] == (
        f"https://sns.ap-northeast-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription}")
    assert envelope["SigningCertURL"].startswith("https://sns.ap-northeast-1.amazonaws.com/")
    assert "us-east-1" not in message["Body"]
    SnsNotificationModel.model_validate(envelope)  # Powertools' model of an envelope on SQS


def test_each_subscription_gets_its_own_link():
    topic = provision.ensure_topic("order-events")
    queues = [provision.ensure_queue(name) for name in ("inventory-queue", "shipping-queue")]
    subscriptions = [provision.ensure_subscription(topic, q) for q in queues]
    boto3.client("sns").publish(TopicArn=topic, Message="hello")
    links = [json.loads(peek(q)[0]["Body"])["UnsubscribeURL"] for q in queues]
    assert [link.rsplit("=", 1)[1] for link in links] == subscriptions


def test_a_raw_delivery_with_more_than_10_attributes_is_dropped_not_raised():
    # sns/latest/dg/SNSMessageAttributes.html: "Messages with more than 10 message attributes directed towards
    # Raw Message Delivery enabled Amazon SQS subscriptions will be discarded as client side errors."
    topic = provision.ensure_topic("order-events")
    raw_queue, envelope_queue = provision.ensure_queue("raw"), provision.ensure_queue("enveloped")
    provision.ensure_subscription(topic, raw_queue, raw=True)
    provision.ensure_subscription(topic, envelope_queue)
    attributes = {f"a{i}": {"DataType": "String", "StringValue": "v"} for i in range(11)}
    boto3.client("sns").publish(TopicArn=topic, Message="hello", MessageAttributes=attributes)  # no error
    assert peek(raw_queue) == []
    assert json.loads(peek(envelope_queue)[0]["Body"])["Message"] == "hello"  # in the body: not SQS attributes
