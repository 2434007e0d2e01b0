"""Lesson 02 (演習2): SNS + SQS fan-out. Checks for the publisher, a filter policy and the consumer."""
from __future__ import annotations

import json

from labs import sandbox
from labs.sandbox import provision
from labs.course.consumers import sqs as consumer
from labs.course.envelopes import sns_message
from labs.course.producers import sns as producer
from labs.observe.queues import drain
from labs.workbook.checks import expect, exercise

# --- 02.publish_to_sns -----------------------------------------------------------------------

CHECK_TOPIC = "check-02-publish"
CHECK_QUEUE = "check-02-publish-raw"


def _seed_publish_to_sns(topic_arn, message, attributes=None):
    """The course text's version: every attribute is a String."""
    params = {"TopicArn": topic_arn, "Message": json.dumps(message)}
    if attributes:
        params["MessageAttributes"] = {k: {"DataType": "String", "StringValue": str(v)} for k, v in attributes.items()}
    return sandbox.client("sns").publish(**params)


def _publish_without_attributes(topic_arn, message, attributes=None):
    return sandbox.client("sns").publish(TopicArn=topic_arn, Message=json.dumps(message))


def _publish_python_repr(topic_arn, message, attributes=None):
    params = {"TopicArn": topic_arn, "Message": str(message)}
    if attributes:
        params["MessageAttributes"] = producer.message_attributes(attributes)
    return sandbox.client("sns").publish(**params)


@exercise("02.publish_to_sns", "publish_to_sns: メッセージ属性つきで SNS に発行する",
          reference=producer.publish_to_sns,
          wrong=(_seed_publish_to_sns, _publish_without_attributes, _publish_python_repr))
def _(candidate):
    topic = provision.ensure_topic(CHECK_TOPIC)
    queue = provision.ensure_queue(CHECK_QUEUE)
    provision.ensure_subscription(topic, queue, raw=True)  # raw: SNS attributes become SQS attributes
    drain(queue)
    message = {"event_type": "OrderCreated", "order": {"order_id": "ORD-CHECK", "amount": 15000}}
    response = candidate(topic, message, {"event_type": "OrderCreated", "priority": "high", "amount": 15000})
    expect(isinstance(response, dict) and "MessageId" in response,
           f"sns.publish の応答 (MessageId を含む dict) を返してください (返り値: {response!r:.80})")
    delivered = drain(queue)
    expect(len(delivered) == 1, f"1 通発行したはずが、購読キューには {len(delivered)} 通届きました")
    try:
        body = json.loads(delivered[0]["Body"])
    except json.JSONDecodeError:
        body = None
    expect(body == message, f"本文は json.dumps(message) にしてください (届いた本文: {delivered[0]['Body'][:80]!r})")
    attributes = delivered[0].get("MessageAttributes", {})
    expect(set(attributes) == {"event_type", "priority", "amount"},
           f"メッセージ属性 event_type, priority, amount が届いていません (届いた属性: {sorted(attributes)})")
    expect(attributes["priority"] == {"DataType": "String", "StringValue": "high"},
           f"priority は DataType 'String' の 'high' にしてください (届いた値: {attributes['priority']})")
    expect(attributes["amount"]["DataType"] == "Number" and attributes["amount"]["StringValue"] == "15000",
           "数値 (amount=15000) は DataType 'Number' で送ってください: 'String' の \"15000\" には "
           f"数値のフィルターポリシーが一致しません (届いた値: {attributes['amount']})")


# --- 02.large_order_policy -------------------------------------------------------------------

POLICY_TOPIC = "check-02-policy"
POLICY_QUEUE = "check-02-policy-large"
# (order_id, amount) -> should the large-order service get it?
# (moto raises on a numeric body filter meeting a string amount, so none is sent here.)
POLICY_CASES = [("P-1", 9999, False), ("P-2", 10000, True), ("P-3", 250000, True), ("P-4", None, False)]


def large_order_policy() -> dict:
    """A body filter policy: orders of 10,000 yen or more."""
    return {"order": {"amount": [{"numeric": [">=", 10000]}]}}


@exercise("02.large_order_policy", "フィルターポリシー: 本文の order.amount が 10000 以上の注文だけ",
          reference=large_order_policy,
          wrong=(lambda: {"amount": [{"numeric": [">=", 10000]}]},
                 lambda: {"order": {"amount": [{"numeric": [">", 10000]}]}},
                 lambda: {"priority": ["high"]}))
def _(candidate):
    policy = candidate()
    expect(isinstance(policy, dict) and policy, f"フィルターポリシーを dict で返してください (返り値: {policy!r:.80})")
    topic = provision.ensure_topic(POLICY_TOPIC)
    queue = provision.ensure_queue(POLICY_QUEUE)
    sns = sandbox.client("sns")
    try:
        provision.ensure_subscription(topic, queue, raw=True, filter_policy=policy, filter_on_body=True)
    except sns.exceptions.InvalidParameterException as error:
        expect(False, f"SNS がこのフィルターポリシーを受け付けませんでした: {error}")
    drain(queue)
    for order_id, amount, _ in POLICY_CASES:
        order = {"order_id": order_id} | ({"amount": amount} if amount is not None else {})
        producer.publish_to_sns(topic, {"event_type": "OrderCreated", "order": order}, {"priority": "high"})
    got = sorted(json.loads(m["Body"])["order"]["order_id"] for m in drain(queue))
    wanted = sorted(order_id for order_id, _, match in POLICY_CASES if match)
    expect(got == wanted, f"届くべき注文は {wanted} ですが、届いたのは {got} でした "
                          "(本文の入れ子は {'order': {'amount': [...]}} のように書きます。10000 ちょうども含めます)")


# --- 02.lambda_handler -----------------------------------------------------------------------

def _record(message_id: str, body) -> dict:
    text = body if isinstance(body, str) else json.dumps(body, ensure_ascii=False)
    return {"messageId": message_id, "receiptHandle": f"rh-{message_id}", "body": text, "attributes": {},
            "messageAttributes": {}, "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:check-02", "awsRegion": "ap-northeast-1"}


def _envelope(message: dict) -> dict:
    return {"Type": "Notification", "MessageId": "sns-1", "TopicArn": "arn:aws:sns:ap-northeast-1:123456789012:order-events",
            "Message": json.dumps(message, ensure_ascii=False), "Timestamp": "2026-01-01T00:00:00.000Z"}


def _good(order_id: str, **extra) -> dict:
    return {"event_type": "OrderCreated", "order": {"order_id": order_id}, **extra}


def check_batch() -> tuple[dict, list[str]]:
    """A mixed batch and the messageIds that must be reported as failed."""
    records = [
        _record("m-envelope", _envelope(_good("A-1"))),
        _record("m-raw", _good("A-2")),
        _record("m-raw-with-Message", _good("A-3", Message="置き配を希望します")),  # a domain field named Message
        _record("m-unknown-type", _envelope({"event_type": "OrderExploded", "order": {"order_id": "A-4"}})),
        _record("m-not-json", "これは JSON ではありません"),
    ]
    return {"Records": records}, ["m-unknown-type", "m-not-json"]


def _seed_lambda_handler(event, context):
    """The course text's consumer: unwraps on 'Message' in message; {'statusCode': 200} on success."""
    failed = []
    for record in event["Records"]:
        try:
            message = json.loads(record["body"])
            if "Message" in message:
                message = json.loads(message["Message"])
            consumer.process_message(message)
        except Exception:
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed} if failed else {"statusCode": 200}


def _raises_on_first_failure(event, context):
    for record in event["Records"]:
        consumer.process_message(sns_message(record["body"]))
    return {"batchItemFailures": []}


def _never_unwraps(event, context):
    failed = []
    for record in event["Records"]:
        try:
            consumer.process_message(json.loads(record["body"]))
        except Exception:
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}


@exercise("02.lambda_handler", "SQS コンシューマー: SNS エンベロープの判定と部分バッチ応答",
          reference=consumer.lambda_handler,
          wrong=(_seed_lambda_handler, _raises_on_first_failure, _never_unwraps))
def _(candidate):
    event, wanted = check_batch()
    try:
        result = candidate(event, None)
    except NotImplementedError:
        raise
    except Exception as error:
        expect(False, "1 件の失敗でハンドラー全体が例外を送出しました。これではバッチ全体 (5 件) が再試行されます。"
                      f"レコードごとに try/except してください ({type(error).__name__}: {error})")
    expect(isinstance(result, dict) and isinstance(result.get("batchItemFailures"), list),
           f"{{'batchItemFailures': [...]}} を返してください (返り値: {result!r:.100})")
    got = [item.get("itemIdentifier") for item in result["batchItemFailures"]]
    expect(sorted(got) == sorted(wanted),
           f"失敗として報告すべきは {wanted} ですが、報告されたのは {got} でした "
           "(SNS エンベロープは Type == 'Notification' で見分けます。'Message' キーの有無では本文の Message 項目と区別できません)")
    ok_event = {"Records": event["Records"][:3]}
    ok_result = candidate(ok_event, None)
    expect(ok_result == {"batchItemFailures": []},
           "すべて成功したときは {'batchItemFailures': []} を返してください "
           f"({{'statusCode': 200}} は SQS には意味を持ちません。返り値: {ok_result!r:.80})")
