"""The events a handler receives have AWS's shape, checked against AWS's samples and
validated with aws-lambda-powertools' parser models (shapes nobody on this project wrote).

Sources:
[SQS] lambda/latest/dg/with-sqs.html, example event: "messageAttributes": {"myAttribute":
      {"stringValue": "myValue", "stringListValues": [], "binaryListValues": [], "dataType": "String"}}
      (no binaryValue key beside a string).
[DDB] lambda/latest/dg/with-ddb.html example event ("eventVersion": "1.1"); localstack/localstack
      tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_dynamodbstreams.snapshot.json,
      test_dynamodb_event_source_mapping (recorded against AWS): "binary_key": {"B": "Zm9vYmFy"}, SizeBytes 70.
[SNS] lambda/latest/dg/with-sns.html example event: "UnsubscribeUrl": "https://sns.us-east-1.amazonaws.com/
      ?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-east-1:...", the subscription, in the topic's region.
"""
import json

import boto3
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel, SnsModel, SqsModel

from labs import sandbox
from labs.runtime import LocalRuntime
from labs.sandbox import provision


def captured(wire):
    events = []
    runtime = LocalRuntime()
    wire(runtime, lambda event, context: events.append(event))
    runtime.run_until_quiet()
    return events


def test_sqs_message_attributes_carry_only_the_value_they_have():
    url = provision.ensure_queue("orders")
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody="x", MessageAttributes={
        "myAttribute": {"DataType": "String", "StringValue": "myValue"},
        "amount": {"DataType": "Number", "StringValue": "42"},
        "blob": {"DataType": "Binary", "BinaryValue": b"foobar"}})
    # the runtime writes this dict as the handler receives it: it is (a copy of) the event
    [event] = captured(lambda rt, h: rt.on_queue(url, h, function_name="f"))
    attributes = event["Records"][0]["messageAttributes"]
    assert attributes["myAttribute"] == {  # [SQS], key for key
        "stringValue": "myValue", "stringListValues": [], "binaryListValues": [], "dataType": "String"}
    assert attributes["amount"] == {
        "stringValue": "42", "stringListValues": [], "binaryListValues": [], "dataType": "Number"}
    assert attributes["blob"] == {
        "binaryValue": "Zm9vYmFy", "stringListValues": [], "binaryListValues": [], "dataType": "Binary"}
    SqsModel.model_validate(event)


def test_stream_event_has_binary_as_base64_and_survives_json():
    provision.ensure_table("orders", "my_partition_key", stream="NEW_IMAGE")
    sandbox.resource("dynamodb").Table("orders").put_item(Item={
        "my_partition_key": "hello world", "binary_key": b"foobar",
        "nested": {"blobs": {b"a"}, "list": [b"b"]}})
    [event] = captured(lambda rt, h: rt.on_stream("orders", h, function_name="f"))
    json.dumps(event)  # an event always survives json.dumps
    [record] = event["Records"]
    assert record["eventVersion"] == "1.1"  # [DDB]
    image = record["dynamodb"]["NewImage"]
    assert image["binary_key"] == {"B": "Zm9vYmFy"}  # [DDB]
    assert image["nested"]["M"]["blobs"] == {"BS": ["YQ=="]} and image["nested"]["M"]["list"] == {"L": [{"B": "Yg=="}]}
    DynamoDBStreamModel.model_validate(event)


def test_stream_size_bytes_is_the_recorded_figure_for_the_recorded_item():
    provision.ensure_table("orders", "my_partition_key", stream="NEW_IMAGE")
    sandbox.resource("dynamodb").Table("orders").put_item(Item={
        "my_partition_key": "hello world", "binary_key": b"foobar"})
    [event] = captured(lambda rt, h: rt.on_stream("orders", h, function_name="f"))
    assert event["Records"][0]["dynamodb"]["SizeBytes"] == 70  # [DDB] the same item on AWS


def test_sns_event_unsubscribe_url_is_the_subscription_in_the_topic_region():
    topic = provision.ensure_topic("order-events")
    events = []
    runtime = LocalRuntime()
    runtime.on_topic(topic, lambda event, context: events.append(event), function_name="f")
    boto3.client("sns").publish(TopicArn=topic, Message="hi")
    runtime.run_until_quiet()
    [record] = events[0]["Records"]
    assert record["Sns"]["UnsubscribeUrl"] == (
        "https://sns.ap-northeast-1.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
        + record["EventSubscriptionArn"])  # [SNS]
    assert record["Sns"]["SigningCertUrl"].startswith("https://sns.ap-northeast-1.amazonaws.com/")
    SnsModel.model_validate(events[0])
