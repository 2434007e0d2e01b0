"""SQS refuses, at the send, what AWS refuses, and stores nothing of it (labs.sandbox.mends.sqs_inputs).

Sources, per case:
[API]   AWSSimpleQueueService/latest/APIReference/API_SendMessage.html (MessageBody: 1 character
        minimum; allowed characters #x9 | #xA | #xD | #x20-#xD7FF | #xE000-#xFFFD | #x10000-#x10FFFF)
[META]  AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-message-metadata.html (up to 10 attributes;
        names must not start with AWS. or Amazon., any casing; values must not be empty)
[LS]    localstack/localstack tests/aws/services/sqs/test_sqs.snapshot.json and test_sqs.py, marked
        aws.validated (recorded against AWS): test_send_empty_message, test_send_message_with_empty_string_attribute,
        test_send_message_with_invalid_payload_characters, test_batch_send_with_invalid_char_should_succeed
[EMU]   SQS emulators that copy AWS's messages word for word (Inqnuam/local-aws-sqs tests; ElasticMQ's
        verifyMessageAttributesNumber): the >10 attributes and non-numeric Number messages
[SQA]   AWSSimpleQueueService/latest/APIReference/API_SetQueueAttributes.html (VisibilityTimeout 0-43,200;
        RedrivePolicy maxReceiveCount 1-1000)
"""
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from labs.sandbox import provision
from labs.observe.queues import peek

LONE_SURROGATE = json.loads('"x\\ud83c"')  # issue 12's finding: a string Python builds from JSON


def attribute(value, data_type="String"):
    return {"DataType": data_type, "StringValue": value}


BAD_MESSAGES = [  # (case, body, attributes, AWS's code, the start of AWS's message, source)
    ("empty body", "", None, "MissingParameter", "The request must contain the parameter MessageBody.", "[LS]"),
    ("NUL and controls", "Invalid-\x00-\x08-\x13", None, "InvalidMessageContents", "Invalid characters found", "[LS]"),
    ("U+FFFF", "x\uffff", None, "InvalidMessageContents", "Invalid characters found", "[API]"),
    ("lone surrogate", LONE_SURROGATE, None, "InvalidMessageContents", "Invalid characters found", "[API]"),
    ("empty String attribute", "x", {"ErrorDetails": attribute("")}, "InvalidParameterValue",
     "Message (user) attribute 'ErrorDetails' must contain a non-empty value of type 'String'.", "[LS]"),
    ("11 attributes", "x", {f"a{i}": attribute("v") for i in range(11)}, "InvalidParameterValue",
     "Number of message attributes [11] exceeds the allowed maximum [10].", "[META] [EMU]"),
    ("AWS. prefix", "x", {"AWS.trace": attribute("v")}, "InvalidParameterValue",
     "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'", "[META] [LS]"),
    ("amazon. prefix, any casing", "x", {"amazon.x": attribute("v")}, "InvalidParameterValue",
     "You can't use message attribute names beginning with 'AWS.' or 'Amazon.'", "[META] [LS]"),
    ("Number that is not a number", "x", {"amount": attribute("abc", "Number")}, "InvalidParameterValue",
     "Can't cast the value of message (user) attribute 'amount' to a number.", "[EMU]"),
    ("control character in a String attribute", "x", {"a": attribute("Invalid-\x08")}, "InvalidParameterValue",
     "Invalid characters found", "[LS] test_invalid_string_attributes_cause_invalid_parameter_value_error"),
]


@pytest.mark.parametrize("case,body,attributes,code,message,source", BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES])
def test_send_message_is_refused_and_nothing_is_stored(case, body, attributes, code, message, source):
    url = provision.ensure_queue("orders")
    kwargs = {"MessageAttributes": attributes} if attributes else {}
    with pytest.raises(ClientError) as caught:
        boto3.client("sqs").send_message(QueueUrl=url, MessageBody=body, **kwargs)
    assert caught.value.response["Error"]["Code"] == code
    assert caught.value.response["Error"]["Message"].startswith(message)
    assert peek(url) == []


@pytest.mark.parametrize("case,body,attributes,code,message,source", BAD_MESSAGES, ids=[c[0] for c in BAD_MESSAGES])
def test_a_bad_batch_entry_fails_alone_and_the_others_are_sent(case, body, attributes, code, message, source):
    # [LS] test_batch_send_with_invalid_char_should_succeed: 9 good entries sent, the bad one in Failed[]
    url = provision.ensure_queue("orders")
    bad = {"Id": "bad", "MessageBody": body, **({"MessageAttributes": attributes} if attributes else {})}
    result = boto3.client("sqs").send_message_batch(
        QueueUrl=url, Entries=[{"Id": "good1", "MessageBody": "1"}, bad, {"Id": "good2", "MessageBody": "2"}])
    [failed] = result["Failed"]
    assert failed["Id"] == "bad" and failed["Code"] == code and failed["SenderFault"] is True
    assert failed["Message"].startswith(message)
    assert sorted(s["Id"] for s in result["Successful"]) == ["good1", "good2"]
    assert sorted(m["Body"] for m in peek(url)) == ["1", "2"]


GOOD_MESSAGES = [  # what AWS accepts stays accepted [API] [META]
    ("tab, newline, CR", "a\tb\nc\rd", None),
    ("emoji (a surrogate pair in JSON)", json.loads('"x\\ud83c\\udf89"'), None),
    ("10 attributes", "x", {f"a{i}": attribute("v") for i in range(10)}),
    ("numbers", "x", {"n": attribute("-1.5e3", "Number"), "m": attribute("42", "Number.int")}),
    ("binary", "x", {"b": {"DataType": "Binary", "BinaryValue": b"\x00\x01"}}),
    ("name containing aws", "x", {"my.AWS.thing": attribute("v")}),
]


@pytest.mark.parametrize("case,body,attributes", GOOD_MESSAGES, ids=[c[0] for c in GOOD_MESSAGES])
def test_what_aws_accepts_is_still_sent(case, body, attributes):
    url = provision.ensure_queue("orders")
    kwargs = {"MessageAttributes": attributes} if attributes else {}
    boto3.client("sqs").send_message(QueueUrl=url, MessageBody=body, **kwargs)
    [stored] = peek(url)
    assert stored["Body"] == body


def test_eleven_batch_entries_are_refused_as_a_whole_even_with_a_bad_one():
    url = provision.ensure_queue("orders")
    entries = [{"Id": str(i), "MessageBody": str(i)} for i in range(10)] + [{"Id": "x", "MessageBody": ""}]
    with pytest.raises(ClientError, match="TooManyEntriesInBatchRequest"):
        boto3.client("sqs").send_message_batch(QueueUrl=url, Entries=entries)
    assert peek(url) == []


@pytest.mark.parametrize("attributes,code", [
    ({"VisibilityTimeout": "43201"}, "InvalidAttributeValue"),  # [SQA]
])
def test_queue_settings_aws_refuses(attributes, code):
    sqs = boto3.client("sqs")
    with pytest.raises(ClientError) as caught:
        sqs.create_queue(QueueName="too-long", Attributes=attributes)
    assert caught.value.response["Error"]["Code"] == code
    assert "too-long" not in str(sqs.list_queues().get("QueueUrls", []))
    url = sqs.create_queue(QueueName="ok", Attributes={"VisibilityTimeout": "43200"})["QueueUrl"]  # the maximum is fine
    with pytest.raises(ClientError, match=code):
        sqs.set_queue_attributes(QueueUrl=url, Attributes=attributes)


@pytest.mark.parametrize("count", [0, 1001])
def test_max_receive_count_outside_1_to_1000_is_refused(count):
    sqs = boto3.client("sqs")
    dlq = provision.queue_arn(provision.ensure_queue("dlq"))
    with pytest.raises(ClientError) as caught:
        sqs.create_queue(QueueName="src", Attributes={
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq, "maxReceiveCount": count})})
    assert f"Invalid value for maxReceiveCount: {count}, valid values are from 1 to 1000" in str(caught.value)


@pytest.mark.parametrize("kwargs,names", [
    ({"visibility_timeout": 43201}, "visibility_timeout"),
    ({"dead_letter_queue": "orders-dlq", "max_receive_count": 0}, "max_receive_count"),
    ({"dead_letter_queue": "orders-dlq", "max_receive_count": 1001}, "max_receive_count"),
])
def test_ensure_queue_explains_in_japanese_and_makes_nothing(kwargs, names):
    with pytest.raises(ValueError) as caught:
        provision.ensure_queue("orders", **kwargs)
    assert names in str(caught.value) and "AWS の決まり" in str(caught.value)
    assert boto3.client("sqs").list_queues().get("QueueUrls", []) == []  # not even the DLQ
