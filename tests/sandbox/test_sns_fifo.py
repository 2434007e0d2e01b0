"""SNS FIFO topics -> SQS FIFO queues: deduplication, sequence numbers, order per group through fan-out.

DEDUP = https://docs.aws.amazon.com/sns/latest/dg/fifo-message-dedup.html
PUBLISH = https://docs.aws.amazon.com/sns/latest/api/API_Publish.html
ORDER = https://docs.aws.amazon.com/sns/latest/dg/fifo-message-ordering.html
"""
import json

import boto3
import pytest

from labs.sandbox import provision
from labs.sandbox.clock import clock


def fifo_topic(content_based: bool):
    sns = boto3.client("sns")
    return sns.create_topic(Name="orders.fifo", Attributes={
        "FifoTopic": "true", "ContentBasedDeduplication": str(content_based).lower()})["TopicArn"]


def fifo_queue(name: str, topic: str) -> str:
    url = provision.ensure_queue(name, fifo=True)  # no content-based deduplication of its own
    provision.ensure_subscription(topic, url, raw=True)
    return url


def drain(url):
    sqs, bodies = boto3.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10,
                                       MessageSystemAttributeNames=["All"]).get("Messages"):
        for message in batch:
            bodies.append((message["Attributes"]["MessageGroupId"], message["Body"],
                           message["Attributes"].get("MessageDeduplicationId")))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


def test_content_based_deduplication_on_the_topic_delivers_one_copy_with_the_sha256_id():
    # DEDUP: "Amazon SNS uses the message body to generate a unique hash value to use as the deduplication ID";
    # a duplicate within five minutes "is accepted but not delivered"; the ID "is included in the message that
    # the SNS FIFO topic delivers to the subscribed SQS FIFO queues".
    topic = fifo_topic(content_based=True)
    url = fifo_queue("points", topic)
    sns = boto3.client("sns")
    for _ in range(2):
        sns.publish(TopicArn=topic, Message='{"order_id": "A-1"}', MessageGroupId="A")
    import hashlib
    assert drain(url) == [("A", '{"order_id": "A-1"}', hashlib.sha256(b'{"order_id": "A-1"}').hexdigest())]


def test_deduplication_by_id_is_topic_wide_and_lasts_five_minutes():
    # DEDUP: "Message deduplication applies to an entire SNS FIFO topic" (FifoThroughputScope Topic, the
    # default); "within the five-minute deduplication interval".
    topic = fifo_topic(content_based=False)
    url = fifo_queue("points", topic)
    sns = boto3.client("sns")
    sns.publish(TopicArn=topic, Message="first", MessageGroupId="A", MessageDeduplicationId="d-1")
    sns.publish(TopicArn=topic, Message="same id, other group", MessageGroupId="B", MessageDeduplicationId="d-1")
    assert [body for _, body, _ in drain(url)] == ["first"]
    clock.skip(301)
    sns.publish(TopicArn=topic, Message="after five minutes", MessageGroupId="A", MessageDeduplicationId="d-1")
    assert [body for _, body, _ in drain(url)] == ["after five minutes"]


def test_publish_answers_a_growing_sequence_number_on_fifo_topics_only():
    # PUBLISH SequenceNumber: "This response element applies only to FIFO (first-in-first-out) topics ...
    # The length of SequenceNumber is 128 bits. SequenceNumber continues to increase for each MessageGroupId."
    topic = fifo_topic(content_based=True)
    sns = boto3.client("sns")
    numbers = [int(sns.publish(TopicArn=topic, Message=f"m{n}", MessageGroupId="A")["SequenceNumber"]) for n in range(3)]
    assert numbers == sorted(numbers) and len(set(numbers)) == 3
    batch = sns.publish_batch(TopicArn=topic, PublishBatchRequestEntries=[
        {"Id": "1", "Message": "b1", "MessageGroupId": "A"}, {"Id": "2", "Message": "b2", "MessageGroupId": "A"}])
    assert all(int(e["SequenceNumber"]) > numbers[-1] for e in batch["Successful"])
    standard = provision.ensure_topic("plain")
    assert "SequenceNumber" not in sns.publish(TopicArn=standard, Message="x")


def test_a_fifo_topic_without_content_based_deduplication_still_needs_an_id():
    # PUBLISH MessageDeduplicationId: "If you don't provide a MessageDeduplicationId and the topic doesn't
    # have ContentBasedDeduplication set, the action fails with an error."
    topic = fifo_topic(content_based=False)
    with pytest.raises(boto3.client("sns").exceptions.ClientError):
        boto3.client("sns").publish(TopicArn=topic, Message="x", MessageGroupId="A")


def test_every_subscribed_queue_gets_each_group_in_publish_order():
    # ORDER: SNS FIFO delivers messages to subscribed SQS FIFO queues in the order they were published,
    # per message group, to every subscription (fan-out keeps the order).
    topic = fifo_topic(content_based=True)
    points, shipping = fifo_queue("points", topic), fifo_queue("shipping", topic)
    sns = boto3.client("sns")
    sent = [("A", "A-created"), ("B", "B-created"), ("A", "A-paid"), ("B", "B-paid"), ("A", "A-shipped")]
    for group, body in sent:
        sns.publish(TopicArn=topic, Message=json.dumps(body), MessageGroupId=group)
    for url in (points, shipping):
        received = drain(url)
        for group in "AB":
            assert [json.loads(b) for g, b, _ in received if g == group] == [b for g, b in sent if g == group]
