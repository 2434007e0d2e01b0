"""labs.course.envelopes: the message inside an SQS body, an SNS notification, an EventBridge event."""
import json

import pytest
from pydantic import BaseModel, ValidationError

from labs.course import envelopes

pytestmark = pytest.mark.no_sandbox

ORDER = {"order_id": "o-1", "amount": 1200}

# The body SNS puts on a subscribed queue (RawMessageDelivery off), as the SNS developer guide
# shows it: https://docs.aws.amazon.com/sns/latest/dg/SendMessageToSQS.html
SNS_IN_SQS_BODY = json.dumps({
    "Type": "Notification",
    "MessageId": "63a3f6b6-d533-4a47-aef9-fcf5cf758c76",
    "TopicArn": "arn:aws:sns:us-west-2:123456789012:MyTopic",
    "Subject": "Testing publish to subscribed queues",
    "Message": json.dumps(ORDER),
    "Timestamp": "2012-03-29T05:12:16.901Z",
    "SignatureVersion": "1",
    "Signature": "EXAMPLEnTrFPa3...",
    "SigningCertURL": "https://sns.us-west-2.amazonaws.com/SimpleNotificationService-f3ecfb7224c7233fe7bb5f59f96de52f.pem",
    "UnsubscribeURL": "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn="
                      "arn:aws:sns:us-west-2:123456789012:MyTopic:c7fe3a54-ab0e-4ec2-88e0-db410a0f2bee",
})

# An EventBridge event, with the top-level fields of
# https://docs.aws.amazon.com/eventbridge/latest/ref/overiew-event-structure.html
EVENTBRIDGE_EVENT = {
    "version": "0", "id": "6a7e8feb-b491-4cf7-a9f1-bf3703467718", "detail-type": "OrderCreated",
    "source": "com.myapp.orders", "account": "111122223333", "time": "2017-12-22T18:43:48Z",
    "region": "us-west-1", "resources": [], "detail": ORDER,
}


class Order(BaseModel):
    order_id: str
    amount: int


def test_sqs_body_is_the_json_document_and_can_be_validated():
    assert envelopes.sqs_body(json.dumps(ORDER)) == ORDER
    assert envelopes.sqs_body(json.dumps(ORDER), Order) == Order(order_id="o-1", amount=1200)


def test_sns_message_opens_the_notification_and_passes_a_raw_delivery_through():
    assert envelopes.sns_message(SNS_IN_SQS_BODY) == ORDER
    assert envelopes.sns_message(json.dumps(ORDER)) == ORDER  # RawMessageDelivery: the body is the message
    assert envelopes.sns_message(SNS_IN_SQS_BODY, Order).order_id == "o-1"


def test_a_domain_message_with_a_message_field_is_not_taken_for_an_envelope():
    note = {**ORDER, "Message": "置き配を希望します"}
    assert envelopes.sns_message(json.dumps(note)) == note


def test_eventbridge_detail_from_the_event_or_from_an_sqs_body():
    assert envelopes.eventbridge_detail(EVENTBRIDGE_EVENT) == ORDER
    assert envelopes.eventbridge_detail(json.dumps(EVENTBRIDGE_EVENT)) == ORDER  # an SQS target's body
    assert envelopes.eventbridge_detail(EVENTBRIDGE_EVENT, Order).amount == 1200


@pytest.mark.parametrize("read, data", [
    (envelopes.sqs_body, "this is not json {"),
    (envelopes.sns_message, "this is not json {"),
    (envelopes.sns_message, json.dumps({**json.loads(SNS_IN_SQS_BODY), "Message": "{broken"})),
    (envelopes.eventbridge_detail, "this is not json {"),
])
def test_not_json_is_told_in_japanese(read, data):
    with pytest.raises(envelopes.NotJsonError, match="メッセージ本文が JSON ではありません"):
        read(data)


@pytest.mark.parametrize("event", [[1, 2], {"detail-type": "OrderCreated"}, {"detail": "text"}])
def test_not_an_eventbridge_event(event):
    with pytest.raises(envelopes.EnvelopeError, match="EventBridge のイベントではありません"):
        envelopes.eventbridge_detail(event)


def test_a_model_that_does_not_fit_raises_pydantics_validation_error():
    with pytest.raises(ValidationError):
        envelopes.sns_message(json.dumps({"order_id": "o-1", "amount": "many"}), Order)
