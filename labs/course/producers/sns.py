"""Publishing to SNS (演習2): the course text's ``publish_to_sns`` and ``notify_order_created``.

Plain boto3, the same code runs on real AWS. What changed from the course text, and why:

* The topic ARN is not hard-coded (``arn:aws:sns:...:123456789:order-events`` has a 9-digit
  placeholder where a 12-digit account id belongs, fixed into the code). It comes from the ``ORDER_EVENTS_TOPIC_ARN`` environment variable, as a
  Lambda function would be configured, or is built from the account and region the client
  is really talking to.
* Numbers are sent as ``Number`` attributes, so numeric filter policies can match them
  (a ``String`` "15000" never matches ``{"numeric": [">=", 10000]}``).
* Bad input is refused with a clear error before anything is sent: an empty value (SNS's
  terse ``InvalidParameter``) and more than 10 attributes (SNS accepts the publish but
  silently drops it for raw-delivery SQS subscriptions).
"""
from __future__ import annotations

import functools
import json
import os

from labs.course import aws
from labs.course.names import ORDER_EVENTS_TOPIC

# More than 10 attributes is not refused by Publish: SNS discards the deliveries to raw-delivery SQS
# subscriptions as client-side errors (sns/latest/dg/sns-message-attributes.html). Refused here, before the loss.
MAX_MESSAGE_ATTRIBUTES = 10


@functools.cache
def _account_id() -> str:
    return aws.client("sts").get_caller_identity()["Account"]


def topic_arn(name: str) -> str:
    """The ARN of topic ``name`` in the account and region this code runs in."""
    return f"arn:aws:sns:{aws.client('sns').meta.region_name}:{_account_id()}:{name}"


def message_attributes(attributes: dict) -> dict:
    """SNS ``MessageAttributes`` from a plain dict: numbers as Number, lists as String.Array."""
    if len(attributes) > MAX_MESSAGE_ATTRIBUTES:
        raise ValueError(f"メッセージ属性は {MAX_MESSAGE_ATTRIBUTES} 個までです (指定: {len(attributes)} 個)")
    converted = {}
    for key, value in attributes.items():
        if value is None or value == "":
            raise ValueError(f"メッセージ属性 {key!r} の値が空です (SNS は空の属性を受け付けません)")
        if isinstance(value, bool):  # bool is an int in Python; SNS has no boolean type
            converted[key] = {"DataType": "String", "StringValue": str(value).lower()}
        elif isinstance(value, (int, float)):
            converted[key] = {"DataType": "Number", "StringValue": str(value)}
        elif isinstance(value, (list, tuple)):
            converted[key] = {"DataType": "String.Array", "StringValue": json.dumps(list(value), ensure_ascii=False)}
        else:
            converted[key] = {"DataType": "String", "StringValue": str(value)}
    return converted


def publish_to_sns(topic_arn: str, message: dict, attributes: dict | None = None) -> dict:
    """Publish ``message`` (as JSON) to the topic, with message attributes for filter policies."""
    params = {"TopicArn": topic_arn, "Message": json.dumps(message, ensure_ascii=False)}
    if attributes:
        params["MessageAttributes"] = message_attributes(attributes)
    return aws.client("sns").publish(**params)


def notify_order_created(order: dict, priority: str = "high") -> dict:
    """Tell every interested service that an order was created (fan-out on ``order-events``).

    SNS topic order-events
    ├── SQS: inventory-queue (在庫サービス)
    ├── SQS: shipping-queue  (配送サービス)
    └── Lambda: 通知サービス (priority=high だけ)
    """
    arn = os.environ.get("ORDER_EVENTS_TOPIC_ARN") or topic_arn(ORDER_EVENTS_TOPIC)
    return publish_to_sns(
        topic_arn=arn,
        message={"event_type": "OrderCreated", "order": order},
        attributes={"event_type": "OrderCreated", "priority": priority},
    )
