"""The events a handler receives, in exactly the shape AWS delivers them.

moto stores and moves messages faithfully, but what it hands back is not always what
Lambda would pass to your function. Every gap is mended here, in one place, and
tests/test_shapes.py validates each shape with aws-lambda-powertools' parser models:

* SQS records: Lambda's camelCase keys, ``eventSource``/``eventSourceARN``/``awsRegion``,
  and message attributes as ``stringValue``/``dataType`` (boto3 says ``StringValue``).
* EventBridge events: moto leaves out ``account`` (mended at the source, in
  ``labs.sandbox.mends.eventbridge_envelope``, so queues receive it too).
* SNS records: Lambda spells ``SigningCertUrl``/``UnsubscribeUrl`` (the SQS envelope
  says ``...URL``), and moto's unsubscribe link names us-east-1.
* DynamoDB Streams records: moto says us-east-1 and gives no ``eventSourceARN``.
* Kinesis records: moto's ``get_records`` gives bytes and a datetime; Lambda hands over base64
  text, epoch seconds, and the ``eventID`` / ``invokeIdentityArn`` / region around them.
* What a stream mapping sends to its on-failure destination (``stream_failure_record``).
"""
from __future__ import annotations

import base64
import json
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


def kinesis_payload(record: dict) -> dict:
    """The ``kinesis`` part of a Lambda Kinesis record (Pipes hand these keys over at the top level)."""
    return {
        "kinesisSchemaVersion": "1.0",
        "partitionKey": record["PartitionKey"],
        "sequenceNumber": record["SequenceNumber"],
        "data": base64.b64encode(record["Data"]).decode(),
        "approximateArrivalTimestamp": record["ApproximateArrivalTimestamp"].timestamp(),
    }


def kinesis_record(record: dict, shard_id: str, stream_arn: str, region: str, role_arn: str) -> dict:
    """A Kinesis ``get_records`` record as Lambda's event source mapping hands it to a function.

    AWS (lambda/latest/dg/with-kinesis.html, "Example Kinesis record event").
    """
    return {
        "kinesis": kinesis_payload(record),
        "eventSource": "aws:kinesis",
        "eventVersion": "1.0",
        "eventID": f"{shard_id}:{record['SequenceNumber']}",
        "eventName": "aws:kinesis:record",
        "invokeIdentityArn": role_arn,
        "awsRegion": region,
        "eventSourceARN": stream_arn,
    }


def stream_failure_record(*, batch_info_key: str, batch_info: dict, function_arn: str, condition: str,
                          invoke_count: int, function_error: str | None, timestamp: str, request_id: str) -> dict:
    """What a stream event source mapping sends to its on-failure destination (SQS or SNS).

    AWS (lambda/latest/dg/kinesis-on-failure-destination.html, "Example invocation record"):
    the records themselves are not included, only where they are (``KinesisBatchInfo`` or
    ``DDBStreamBatchInfo``), so they must be read back from the stream before they expire.
    ``condition`` is ``RetryAttemptsExhausted`` or ``RecordAgeExceeded``.
    """
    response = {"statusCode": 200, "executedVersion": "$LATEST"}
    if function_error:
        response["functionError"] = function_error
    return {
        "requestContext": {"requestId": request_id, "functionArn": function_arn, "condition": condition,
                           "approximateInvokeCount": invoke_count},
        "responseContext": response,
        "version": "1.0",
        "timestamp": timestamp,
        batch_info_key: batch_info,
    }


def json_body(text: str) -> dict:
    """Parse a JSON message body; a clear error (in Japanese) when it is not JSON."""
    try:
        return json.loads(text)
    except json.JSONDecodeError as error:
        raise ValueError(f"メッセージ本文が JSON ではありません: {text[:80]!r} ({error.msg})") from error
