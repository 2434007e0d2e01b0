"""SNS -> SQS delivery as AWS does it (MOTO_GAPS: "envelope UnsubscribeURL names us-east-1",
"a raw delivery SQS refuses").

The envelope's ``UnsubscribeURL`` names the topic's region and the subscription.

moto writes ``https://sns.us-east-1.amazonaws.com/...&SubscriptionArn=arn:aws:sns:us-east-1:...``
with a made-up subscription id into every envelope; AWS links to the subscription the message
was delivered through, in the topic's region (the sample in sns/latest/dg/sns-message-and-json-formats.html:
``"UnsubscribeURL" : "https://sns.us-west-2.amazonaws.com/?Action=Unsubscribe&SubscriptionArn=arn:aws:sns:us-west-2:123456789012:MyTopic:c9135db0-..."``).
Mended at the source, so SQS bodies and the Lambda shape built from them agree.

A raw delivery the queue refuses (more than 10 message attributes, now that SQS refuses them:
``labs.sandbox.mends.sqs_inputs``) is dropped for that subscription, not raised to the publisher:
"Messages with more than 10 message attributes directed towards Raw Message Delivery enabled
Amazon SQS subscriptions will be discarded as client side errors" (sns/latest/dg/SNSMessageAttributes.html).
"""
from __future__ import annotations


def unsubscribe_url(subscription_arn: str) -> str:
    region = subscription_arn.split(":")[3]
    return f"https://sns.{region}.amazonaws.com/?Action=Unsubscribe&SubscriptionArn={subscription_arn}"


def apply() -> None:
    from moto.sns.models import Subscription
    from moto.sqs.exceptions import SQSException

    original = Subscription.get_post_data
    original_publish = Subscription.publish

    def get_post_data(self, *args, **kwargs):
        data = original(self, *args, **kwargs)
        data["UnsubscribeURL"] = unsubscribe_url(self.arn)
        return data

    def publish(self, *args, **kwargs):
        try:
            return original_publish(self, *args, **kwargs)
        except SQSException:
            if self.protocol != "sqs":
                raise  # only the SQS delivery is a client-side error of this subscription

    Subscription.get_post_data = get_post_data
    Subscription.publish = publish
