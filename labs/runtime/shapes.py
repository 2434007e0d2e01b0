"""The events a handler receives, in exactly the shape AWS delivers them.

moto stores and moves messages faithfully, but what it hands back is not always what
Lambda would pass to your function. Every gap is mended here, in one place, and
tests/runtime/test_shapes.py validates each shape with aws-lambda-powertools' parser models:

* SQS records: Lambda's camelCase keys, ``eventSource``/``eventSourceARN``/``awsRegion``,
  and message attributes as ``stringValue`` *or* ``binaryValue`` (base64), never both, with
  ``stringListValues``/``binaryListValues``/``dataType`` (boto3 says ``StringValue``).
* EventBridge events: moto leaves out ``account`` (mended at the source, in
  ``labs.sandbox.mends.eventbridge_envelope``, so queues receive it too).
* SNS records: Lambda spells ``SigningCertUrl``/``UnsubscribeUrl`` (the SQS envelope
  says ``...URL``; its region is mended at the source, ``labs.sandbox.mends.sns_envelope``).
* DynamoDB Streams records: moto says us-east-1 and gives no ``eventSourceARN``; boto3 hands
  binary attributes over as ``bytes``, Lambda as base64 text (an event is always JSON).
* Kinesis records: moto's ``get_records`` gives bytes and a datetime; Lambda hands over base64
  text, epoch seconds, and the ``eventID`` / ``invokeIdentityArn`` / region around them.
* What a stream mapping (Kinesis, DynamoDB Streams) sends to its on-failure destination
  (``stream_failure_record``).
"""
from __future__ import annotations

import base64
from datetime import datetime


def _lambda_message_attribute(value: dict) -> dict:
    """Lambda's form of one message attribute (with-sqs.html, the example event): the value it
    has, and no key for the one it lacks (no ``"binaryValue": None`` beside a string)."""
    binary = value.get("BinaryValue")
    if binary is not None:
        shaped = {"binaryValue": base64.b64encode(binary).decode()}
    else:
        shaped = {"stringValue": value.get("StringValue")}
    return {**shaped, "stringListValues": [], "binaryListValues": [], "dataType": value["DataType"]}


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


def sns_record(envelope: dict, subscription_arn: str) -> dict:
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
        "SigningCertUrl": envelope.get("SigningCertURL", ""),
        "UnsubscribeUrl": envelope.get("UnsubscribeURL", ""),
        "MessageAttributes": envelope.get("MessageAttributes", {}),
    }
    return {
        "Records": [
            {"EventSource": "aws:sns", "EventVersion": "1.0", "EventSubscriptionArn": subscription_arn, "Sns": sns}
        ]
    }


def stream_record(record: dict, stream_arn: str, region: str) -> dict:
    """A DynamoDB Streams record as Lambda receives it (JSON-ready, epoch seconds)."""
    dynamodb = {key: _json_ready(value) for key, value in record["dynamodb"].items()}
    created = dynamodb.get("ApproximateCreationDateTime")
    if isinstance(created, datetime):
        dynamodb["ApproximateCreationDateTime"] = int(created.timestamp())
    return {
        "eventID": record["eventID"],
        "eventName": record["eventName"],
        "eventVersion": record["eventVersion"],
        "eventSource": "aws:dynamodb",
        "awsRegion": region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }


def _json_ready(value):
    """Binary attribute values (``bytes`` from boto3) as base64 text, at any depth."""
    if isinstance(value, bytes):
        return base64.b64encode(value).decode()
    if isinstance(value, dict):
        return {k: _json_ready(v) for k, v in value.items()}
    if isinstance(value, (list, set, tuple)):
        return [_json_ready(v) for v in value]
    return value


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

