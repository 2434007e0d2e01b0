"""The events a handler receives, in exactly the shape AWS delivers them.

moto stores and moves messages faithfully, but what it hands back is not always what
Lambda would pass to your function. Every gap is mended here, in one place, and
tests/runtime/test_shapes.py validates each shape with aws-lambda-powertools' parser models:

* SQS records: Lambda's camelCase keys, ``eventSource``/``eventSourceARN``/``awsRegion``,
  and message attributes as ``stringValue``/``dataType`` (boto3 says ``StringValue``).
* EventBridge events: moto leaves out ``account`` (mended at the source, in
  ``labs.sandbox.mends.eventbridge_envelope``, so queues receive it too).
* SNS records: Lambda spells ``SigningCertUrl``/``UnsubscribeUrl`` (the SQS envelope
  says ``...URL``), and moto's unsubscribe link names us-east-1.
* DynamoDB Streams records: moto says us-east-1 and gives no ``eventSourceARN``.
"""
from __future__ import annotations

import base64
from datetime import datetime


def _lambda_message_attribute(value: dict) -> dict:
    binary = value.get("BinaryValue")
    return {
        "stringValue": value.get("StringValue"),
        "binaryValue": base64.b64encode(binary).decode() if binary is not None else None,
        "stringListValues": [],
        "binaryListValues": [],
        "dataType": value["DataType"],
    }


def sqs_record(message: dict, queue_arn: str, region: str) -> dict:
    """One ``Records[]`` entry of an SQS event, from a ``receive_message`` result."""
    record = {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message["Body"],
        "attributes": dict(message.get("Attributes", {})),
        "messageAttributes": {
            name: _lambda_message_attribute(value)
            for name, value in message.get("MessageAttributes", {}).items()
        },
        "md5OfBody": message["MD5OfBody"],
        "eventSource": "aws:sqs",
        "eventSourceARN": queue_arn,
        "awsRegion": region,
    }
    if "MD5OfMessageAttributes" in message:
        record["md5OfMessageAttributes"] = message["MD5OfMessageAttributes"]
    return record


def sqs_event(messages: list[dict], queue_arn: str, region: str) -> dict:
    return {"Records": [sqs_record(m, queue_arn, region) for m in messages]}


def rule_target_event(detail_type: str, detail: dict, *, source: str, account: str, region: str,
                      time: datetime, event_id: str = "6a7e8feb-b491-4cf7-a9f1-bf3703467718") -> dict:
    """An EventBridge event as a rule's target receives it, built by hand (for examples and checks).

    The fields and their order are those of AWS's event structure:
    https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
    """
    return {"version": "0", "id": event_id, "detail-type": detail_type, "source": source, "account": account,
            "time": time.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": region, "resources": [], "detail": detail}


def eventbridge_event(delivered: dict) -> dict:
    """An EventBridge event as a Lambda target receives it: exactly what the rule delivered."""
    return delivered


def sns_record(envelope: dict, subscription_arn: str, region: str) -> dict:
    """An SNS -> Lambda event (``Records[].Sns``) from the envelope SNS put on a queue."""
    topic_arn = envelope["TopicArn"]
    sns = {
        "Type": envelope["Type"],
        "MessageId": envelope["MessageId"],
        "TopicArn": topic_arn,
        "Subject": envelope.get("Subject"),
        "Message": envelope["Message"],
        "Timestamp": envelope["Timestamp"],
        "SignatureVersion": envelope.get("SignatureVersion", "1"),
        "Signature": envelope.get("Signature", ""),
        "SigningCertUrl": envelope.get("SigningCertURL", "").replace("us-east-1", region),
        "UnsubscribeUrl": (
            f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"
        ),
        "MessageAttributes": envelope.get("MessageAttributes", {}),
    }
    return {
        "Records": [
            {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn, "Sns": sns}
        ]
    }


def stream_record(record: dict, stream_arn: str, region: str) -> dict:
    """A DynamoDB Streams record as Lambda receives it (JSON-ready, epoch seconds)."""
    dynamodb = dict(record["dynamodb"])
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record.get("eventVersion", "1.1"),
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
