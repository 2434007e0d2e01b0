"""Lesson 02 (演習2): SNS + SQS fan-out. Checks for the publisher, a filter policy and the consumer."""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from labs import sandbox
from labs.sandbox import provision
from labs.course.consumers import sqs as consumer
from labs.course.envelopes import sns_message
from labs.course.producers import sns as producer
from labs.observe.queues import drain
from labs.workbook.checks import exercise, expect, uses

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


def _bool_as_number(topic_arn, message, attributes=None):
    """bool is an int in Python: without its own branch first, True goes out as Number "True"."""
    converted = {}
    for key, value in (attributes or {}).items():
        kind = "Number" if isinstance(value, (int, float)) else "String"
        converted[key] = {"DataType": kind, "StringValue": str(value)}
    return sandbox.client("sns").publish(TopicArn=topic_arn, Message=json.dumps(message), MessageAttributes=converted)


@exercise("02.publish_to_sns", "publish_to_sns: メッセージ属性つきで SNS に発行する",
          reference=producer.publish_to_sns,
          wrong=(_seed_publish_to_sns, _publish_without_attributes, _publish_python_repr, _bool_as_number),
          hints=("本文は json.dumps(message)、属性は値の型ごとに DataType を選びます。数値は Number、文字列は String です。"
                 "bool は int の一種なので、isinstance(value, int) より先に調べます。",
                 "MessageAttributes={\"amount\": {\"DataType\": \"Number\", \"StringValue\": \"15000\"}, "
                 "\"gift\": {\"DataType\": \"String\", \"StringValue\": \"true\"}, ...} を sns.publish(TopicArn=..., "
                 "Message=..., MessageAttributes=...) に渡し、その応答を返します。"))
def _(candidate):
    topic = provision.ensure_topic(CHECK_TOPIC)
    queue = provision.ensure_queue(CHECK_QUEUE)
    provision.ensure_subscription(topic, queue, raw=True)  # raw: SNS attributes become SQS attributes
    drain(queue)
    message = {"event_type": "OrderCreated", "order": {"order_id": "ORD-CHECK", "amount": 15000}}
    attributes = {"event_type": "OrderCreated", "priority": "high", "amount": 15000, "gift": True}
    uses("publish_to_sns の引数", {"message": message, "attributes": attributes})
    try:
        response = candidate(topic, message, attributes)
    except ClientError as error:
        expect(False, "SNS が発行を拒否しました。DataType 'Number' の値は数値を表す文字列だけです "
                      f"(真偽値 gift=True は String の \"true\" にします): {error.response['Error'].get('Message', error)}")
    expect(isinstance(response, dict) and "MessageId" in response,
           f"sns.publish の応答 (MessageId を含む dict) を返してください (返り値: {response!r:.80})")
    delivered = drain(queue)
    expect(len(delivered) == 1, f"1 通発行したはずが、サブスクリプションのキューには {len(delivered)} 通届きました")
    try:
        body = json.loads(delivered[0]["Body"])
    except json.JSONDecodeError:
        body = None
    expect(body == message, f"本文は json.dumps(message) にしてください (届いた本文: {delivered[0]['Body'][:80]!r})")
    attributes = delivered[0].get("MessageAttributes", {})
    expect(set(attributes) == {"event_type", "priority", "amount", "gift"},
           f"メッセージ属性 event_type, priority, amount, gift が届いていません (届いた属性: {sorted(attributes)})")
    expect(attributes["priority"] == {"DataType": "String", "StringValue": "high"},
           f"priority は DataType 'String' の 'high' にしてください (届いた値: {attributes['priority']})")
    expect(attributes["amount"]["DataType"] == "Number" and attributes["amount"]["StringValue"] == "15000",
           "数値 (amount=15000) は DataType 'Number' で送ってください: 'String' の \"15000\" には "
           f"数値のフィルターポリシーが一致しません (届いた値: {attributes['amount']})")
    expect(attributes["gift"] == {"DataType": "String", "StringValue": "true"},
           "真偽値 (gift=True) は DataType 'String' の \"true\" にしてください。bool は int の一種なので、"
           f"isinstance(value, int) より先に isinstance(value, bool) を調べます (届いた値: {attributes['gift']})")


# --- 02.large_order_policy -------------------------------------------------------------------

POLICY_TOPIC = "check-02-policy"
POLICY_QUEUE = "check-02-policy-large"
# (order_id, amount) -> should the large-order service get it?
# A string "20000" meets a numeric condition and does not match, as on AWS (the sandbox mends moto's TypeError).
POLICY_CASES = [("P-1", 9999, False), ("P-2", 10000, True), ("P-3", 250000, True), ("P-4", None, False),
                ("P-5", "20000", False)]


def large_order_policy() -> dict:
    """A body filter policy: orders of 10,000 yen or more."""
    return {"order": {"amount": [{"numeric": [">=", 10000]}]}}


@exercise("02.large_order_policy", "フィルターポリシー: 本文の order.amount が 10000 以上の注文だけ",
          reference=large_order_policy,
          wrong=(lambda: {"amount": [{"numeric": [">=", 10000]}]},
                 lambda: {"order": {"amount": [{"numeric": [">", 10000]}]}},
                 lambda: {"priority": ["high"]},
                 lambda: {"order": {"amount": [{"numeric": [">=", "10000"]}]}}),
          hints=("本文フィルター (FilterPolicyScope: MessageBody) は、本文の JSON の入れ子をそのままたどって書きます。",
                 "{\"order\": {\"amount\": [{\"numeric\": [\">=\", 10000]}]}}: 10000 ちょうども含めるので \">=\" です。"))
def _(candidate):
    policy = candidate()
    expect(isinstance(policy, dict) and policy, f"フィルターポリシーを dict で返してください (返り値: {policy!r:.80})")
    uses("あなたのフィルターポリシー", policy)
    topic = provision.ensure_topic(POLICY_TOPIC)
    queue = provision.ensure_queue(POLICY_QUEUE)
    try:
        provision.ensure_subscription(topic, queue, raw=True, filter_policy=policy, filter_on_body=True)
    except ValueError as error:  # ensure_subscription's Japanese message, with SNS's own reason
        expect(False, f"SNS がこのフィルターポリシーを受け付けませんでした: {error}")
    uses("発行した注文 (本文の order)", [{"order_id": o, **({"amount": a} if a is not None else {})}
                                    for o, a, _ in POLICY_CASES])
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


def _missing_import(event, context):
    failed = []
    for record in event["Records"]:
        try:
            consumer.process_message(sns_messag(record["body"]))  # noqa: F821 (a typo: NameError in every record)
        except Exception:
            failed.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failed}


def _reports_receipt_handles(event, context):
    failed = []
    for record in event["Records"]:
        try:
            consumer.process_message(sns_message(record["body"]))
        except Exception:
            failed.append({"itemIdentifier": record["receiptHandle"]})
    return {"batchItemFailures": failed}


def _with_swallowed(candidate, *args):
    """Call ``candidate``; also return the exceptions raised inside it, even those it caught
    itself (a try/except around every record hides a NameError as a "failed record")."""
    import sys

    seen, code = [], getattr(candidate, "__code__", None)

    def local(frame, event, arg):
        if event == "exception":
            seen.append(arg[1])
        return local

    previous = sys.gettrace()
    sys.settrace(lambda frame, event, arg: local if frame.f_code is code else None)
    try:
        return candidate(*args), seen
    finally:
        sys.settrace(previous)


ENVELOPE_IDS = {"m-envelope", "m-raw-with-Message", "m-unknown-type"}  # what an envelope mistake misreports


@exercise("02.lambda_handler", "SQS コンシューマー: SNS エンベロープの判定と部分バッチレスポンス",
          reference=consumer.lambda_handler,
          wrong=(_seed_lambda_handler, _raises_on_first_failure, _never_unwraps, _missing_import, _reports_receipt_handles),
          hints=("レコードごとに try/except し、失敗したレコードの messageId だけを集めて返します。"
                 "本文が SNS のエンベロープかどうかは Type == \"Notification\" で見分けます。",
                 "sns_message(record[\"body\"]) (labs.course.envelopes) で本文を開き、consumer.process_message(...) に渡します。"
                 "失敗は {\"batchItemFailures\": [{\"itemIdentifier\": record[\"messageId\"]}, ...]}、全部成功なら "
                 "{\"batchItemFailures\": []} を返します。"))
def _(candidate):
    event, wanted = check_batch()
    one = {"Records": event["Records"][1:2]}
    uses("1 件だけのバッチ", one["Records"][0]["body"])
    try:
        alone, raised = _with_swallowed(candidate, one, None)
    except NotImplementedError:
        raise
    except Exception as error:
        expect(False, f"正しいレコード 1 件だけのバッチで例外 {type(error).__name__}: {error} が出ました "
                      "(import や名前の打ち間違いを確かめてください)")
    cause = f" レコードの処理中に {type(raised[0]).__name__}: {raised[0]} が起きています" if raised else ""
    expect(isinstance(alone, dict) and "batchItemFailures" in alone,
           "すべて成功したときも {'batchItemFailures': []} を返してください "
           f"({{'statusCode': 200}} は SQS には意味を持ちません。返り値: {alone!r:.80})")
    expect(alone["batchItemFailures"] == [],
           f"正しいレコード 1 件を失敗と報告しました (返り値: {alone!r:.100})。{cause}")
    uses("混ざったバッチ (messageId: 本文)", {r["messageId"]: r["body"][:80] for r in event["Records"]})
    try:
        result = candidate(event, None)
    except Exception as error:
        expect(False, "1 件の失敗でハンドラー全体が例外を送出しました。これではバッチ全体 (5 件) が再試行されます。"
                      f"レコードごとに try/except してください ({type(error).__name__}: {error})")
    expect(isinstance(result, dict) and isinstance(result.get("batchItemFailures"), list),
           f"{{'batchItemFailures': [...]}} を返してください (返り値: {result!r:.100})")
    got = [item.get("itemIdentifier") for item in result["batchItemFailures"]]
    ids = {record["messageId"] for record in event["Records"]}
    expect(set(got) <= ids, f"itemIdentifier はレコードの messageId です (receiptHandle ではありません)。報告されたのは {got} でした")
    wrongly = set(got) ^ set(wanted)
    envelope = " (SNS エンベロープは Type == 'Notification' で見分けます。'Message' キーの有無では本文の Message 項目と区別できません)"
    expect(not wrongly, f"失敗として報告すべきは {wanted} ですが、報告されたのは {got} でした"
                        + (envelope if wrongly & ENVELOPE_IDS else ""))
    ok_event = {"Records": event["Records"][:3]}
    ok_result = candidate(ok_event, None)
    expect(ok_result == {"batchItemFailures": []},
           "すべて成功したときは {'batchItemFailures': []} を返してください "
           f"({{'statusCode': 200}} は SQS には意味を持ちません。返り値: {ok_result!r:.80})")
