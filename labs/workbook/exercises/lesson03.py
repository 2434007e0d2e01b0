"""Lesson 03 (演習3): dead-letter queues. Checks for the redrive policy, the DLQ handler and the redrive."""
from __future__ import annotations

import json
import os
from contextlib import contextmanager
from datetime import datetime

from labs.course import redrive as redrive_module
from labs import sandbox
from labs.sandbox import provision
from labs.course.consumers import dlq
from labs.course.limits import SQS_MAX_RECEIVE_COUNT, SQS_MAX_VISIBILITY_TIMEOUT
from labs.observe.queues import drain, drain_bodies
from labs.workbook.checks import exercise, expect, uses
from labs.workbook.lessons import lesson03

# --- 03.create_queue_with_dlq ----------------------------------------------------------------


def create_queue_with_dlq(name: str, dlq_name: str, max_receive_count: int = 3) -> str:
    """Reference: the DLQ first (its ARN goes into the policy), then the queue with a RedrivePolicy."""
    sqs = sandbox.client("sqs")
    dlq_url = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    policy = {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}
    return sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(policy)})["QueueUrl"]


def _once(name, dlq_name, max_receive_count=3):
    return create_queue_with_dlq(name, dlq_name, 1)


def _policy_with_url(name, dlq_name, max_receive_count=3):
    sqs = sandbox.client("sqs")
    dlq_url = sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    policy = {"deadLetterTargetArn": dlq_url, "maxReceiveCount": max_receive_count}
    return sqs.create_queue(QueueName=name, Attributes={"RedrivePolicy": json.dumps(policy)})["QueueUrl"]


def _hard_coded_three(name, dlq_name, max_receive_count=3):
    return create_queue_with_dlq(name, dlq_name, 3)  # the argument is ignored


def _no_policy(name, dlq_name, max_receive_count=3):
    sqs = sandbox.client("sqs")
    sqs.create_queue(QueueName=dlq_name)
    return sqs.create_queue(QueueName=name)["QueueUrl"]


@exercise("03.create_queue_with_dlq", "RedrivePolicy: maxReceiveCount 回受信しても処理できないメッセージを DLQ へ",
          reference=create_queue_with_dlq, wrong=(_once, _policy_with_url, _no_policy, _hard_coded_three),
          hints=("先に DLQ を作り、その ARN を調べてから、元のキューを RedrivePolicy 属性つきで作ります。"
                 "maxReceiveCount は引数の値を使います。",
                 "dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=[\"QueueArn\"])[\"Attributes\"][\"QueueArn\"]; "
                 "sqs.create_queue(QueueName=name, Attributes={\"RedrivePolicy\": json.dumps({\"deadLetterTargetArn\": dlq_arn, "
                 "\"maxReceiveCount\": max_receive_count})})"))
def _(candidate):
    sqs, name, dlq_name, count = sandbox.client("sqs"), "check-03-orders", "check-03-orders-dlq", 5
    lesson03.delete_queues(name, dlq_name)  # each check starts from nothing
    uses("引数", f"create_queue_with_dlq({name!r}, {dlq_name!r}, {count})")
    try:
        try:
            url = candidate(name, dlq_name, count)
        except sqs.exceptions.ClientError as error:
            told = error.response["Error"].get("Message", str(error))
            url_given = "deadLetterTargetArn" in told or "https://" in told or "http://" in told
            expect(False, ("deadLetterTargetArn には DLQ の URL ではなく ARN を使ってください "
                           "(get_queue_attributes の QueueArn)。" if url_given else "")
                   + f"SQS がキューの作成を拒否しました: {told}")
        expect(isinstance(url, str) and url.endswith("/" + name), f"作ったキュー {name} の URL を返してください (返り値: {url!r:.80})")
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
        expect("RedrivePolicy" in attributes, "キューに RedrivePolicy 属性がありません")
        policy = json.loads(attributes["RedrivePolicy"])
        dlq_url = sqs.get_queue_url(QueueName=dlq_name)["QueueUrl"]
        expect(policy.get("deadLetterTargetArn") == provision.queue_arn(dlq_url),
               f"deadLetterTargetArn には DLQ の URL ではなく ARN を使ってください (設定値: {policy.get('deadLetterTargetArn')})")
        expect(int(policy.get("maxReceiveCount", 0)) == count,
               f"maxReceiveCount は引数の max_receive_count ({count}) にしてください (設定値: {policy.get('maxReceiveCount')})")
        # And it behaves: ``count`` receives without a delete, and the next finds it in the DLQ.
        sqs.send_message(QueueUrl=url, MessageBody="poison")
        for _ in range(count):
            expect(len(sqs.receive_message(QueueUrl=url, VisibilityTimeout=0).get("Messages", [])) == 1,
                   f"{count} 回目までの受信でメッセージが返ってきません")
        sqs.receive_message(QueueUrl=url, VisibilityTimeout=0)
        moved = sqs.receive_message(QueueUrl=dlq_url).get("Messages", [])
        expect([m["Body"] for m in moved] == ["poison"], f"{count} 回受信されたメッセージが DLQ に移りませんでした")
    finally:
        lesson03.delete_queues(name, dlq_name)


# --- 03.dlq_handler --------------------------------------------------------------------------

INBOX = "check-03-alerts-inbox"


def _dlq_record(message_id: str, body: str, receive_count: str) -> dict:
    return {"messageId": message_id, "receiptHandle": f"rh-{message_id}", "body": body,
            "attributes": {"ApproximateReceiveCount": receive_count, "SentTimestamp": "1767225600000",
                           "SenderId": "AIDAEXAMPLE", "ApproximateFirstReceiveTimestamp": "1767225600001"},
            "messageAttributes": {"priority": {"stringValue": "high", "stringListValues": [],
                                               "binaryListValues": [], "dataType": "String"}},
            "md5OfBody": "", "eventSource": "aws:sqs",
            "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:check-03-dlq", "awsRegion": "ap-northeast-1"}


def _seed_handler(event, context):
    """The course text: receive_count read, but the attributes and the DLQ are not kept."""
    for record in event["Records"]:
        receive_count = int(record.get("attributes", {}).get("ApproximateReceiveCount", 1))
        dlq.send_alert(record["messageId"], record["body"], receive_count)
        dlq.save_failed_message(record["messageId"], record["body"], receive_count)


def _string_count(event, context):
    for record in event["Records"]:
        count = record["attributes"]["ApproximateReceiveCount"]
        dlq.send_alert(record["messageId"], record["body"], count)
        dlq.save_failed_message(record["messageId"], record["body"], count, queue_arn=record["eventSourceARN"],
                                message_attributes=record["messageAttributes"])
    return {"batchItemFailures": []}


def _no_alert(event, context):
    for record in event["Records"]:
        dlq.save_failed_message(record["messageId"], record["body"], int(record["attributes"]["ApproximateReceiveCount"]),
                                queue_arn=record["eventSourceARN"], message_attributes=record["messageAttributes"])
    return {"batchItemFailures": []}


def _alert_first(event, context):
    """Alert, then save: when the alert fails, the message has left the DLQ and no row keeps it."""
    failures = []
    for record in event["Records"]:
        try:
            count = int(record["attributes"]["ApproximateReceiveCount"])
            dlq.send_alert(record["messageId"], record["body"], count)
            dlq.save_failed_message(record["messageId"], record["body"], count, queue_arn=record["eventSourceARN"],
                                    message_attributes=record["messageAttributes"])
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _alert_every_delivery(event, context):
    """Row first, but an alert on every delivery: SQS may deliver a DLQ message twice."""
    failures = []
    for record in event["Records"]:
        try:
            count = int(record["attributes"]["ApproximateReceiveCount"])
            dlq.save_failed_message(record["messageId"], record["body"], count, queue_arn=record["eventSourceARN"],
                                    message_attributes=record["messageAttributes"])
            dlq.send_alert(record["messageId"], record["body"], count)
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


@contextmanager
def _alerts_topic_missing(alerts_arn: str):
    """send_alert publishes to $ALERTS_TOPIC_ARN when set (as a Lambda's configuration would): point it nowhere."""
    before = os.environ.get("ALERTS_TOPIC_ARN")
    os.environ["ALERTS_TOPIC_ARN"] = alerts_arn.rsplit(":", 1)[0] + ":check-03-no-such-topic"
    try:
        yield
    finally:
        if before is None:
            os.environ.pop("ALERTS_TOPIC_ARN", None)
        else:
            os.environ["ALERTS_TOPIC_ARN"] = before


@exercise("03.dlq_handler", "DLQ ハンドラー: 先に記録を残し、アラートは 1 回だけ送る",
          reference=dlq.lambda_handler, wrong=(_seed_handler, _string_count, _no_alert, _alert_first, _alert_every_delivery),
          hints=("順番が大事です。アラートの送信は失敗することがあります。そのとき記録が残っているように、先に保存します。"
                 "保存した行 (2 回目に届いたときは前の行) の alerted を見れば、アラートを送ったかどうかが分かります。",
                 "row = save_failed_message(message_id, body, count, queue_arn=record[\"eventSourceARN\"], "
                 "message_attributes=record[\"messageAttributes\"]); if not row[\"alerted\"]: send_alert(message_id, body, count); "
                 "mark_alerted(message_id)。例外が出たレコードだけを batchItemFailures に入れます。"))
def _(candidate):
    alerts = provision.ensure_topic(dlq.ALERTS_TOPIC)
    inbox = provision.ensure_queue(INBOX)
    provision.ensure_subscription(alerts, inbox, raw=True)
    provision.ensure_table(dlq.FAILED_MESSAGES_TABLE, "message_id")
    table = sandbox.resource("dynamodb").Table(dlq.FAILED_MESSAGES_TABLE)
    ids = ["check-03-dlq-1", "check-03-dlq-2"]
    lost = "check-03-dlq-alert-down"

    def forget() -> None:
        for message_id in (*ids, lost):
            table.delete_item(Key={"message_id": message_id})

    forget()
    drain_bodies(inbox)
    long_body = json.dumps({"event_type": "OrderCreated", "order": {"order_id": "X", "note": "あ" * 300}}, ensure_ascii=False)
    event = {"Records": [_dlq_record(ids[0], long_body, "4"), _dlq_record(ids[1], '{"order": "short"}', "5")]}
    uses("event (レコード 2 件)", event["Records"][1])
    try:
        result = candidate(event, None)
        alerts_seen = drain_bodies(inbox)
        rows = {i: table.get_item(Key={"message_id": i}).get("Item") for i in ids}
        again = candidate(event, None)  # SQS delivers a DLQ message twice now and then
        alerts_again = drain_bodies(inbox)
        down = {"Records": [_dlq_record(lost, '{"order": "alert-down"}', "4")]}
        with _alerts_topic_missing(alerts):  # the alert cannot go out: the row must be there anyway
            when_down = candidate(down, None)
        row_when_down = table.get_item(Key={"message_id": lost}).get("Item")
    finally:
        forget()
    expect(all(rows.values()), f"failed-messages に保存されていない message_id があります: {[i for i, r in rows.items() if not r]}")
    for (message_id, row), count in zip(rows.items(), (4, 5)):
        expect(row["receive_count"] == count and not isinstance(row["receive_count"], str),
               f"receive_count は数値 {count} で保存してください (ApproximateReceiveCount は文字列で届きます。保存値: {row['receive_count']!r})")
        expect(row.get("status") == "pending_review", f"status は 'pending_review' にしてください (保存値: {row.get('status')!r})")
        failed_at = datetime.fromisoformat(row.get("failed_at", ""))
        expect(failed_at.tzinfo is not None, "failed_at はタイムゾーン付きにしてください (datetime.now(timezone.utc))")
        expect(row.get("dlq_arn") == event["Records"][0]["eventSourceARN"],
               "再送できるように queue_arn=record['eventSourceARN'] も保存してください")
        expect("priority" in json.loads(row.get("message_attributes") or "{}"),
               "再送でメッセージ属性を失わないように message_attributes=record['messageAttributes'] も保存してください")
    expect(len(rows[ids[0]]["body_preview"]) == 200, "body_preview は本文の先頭 200 文字です")
    expect(sorted(a.get("message_id") for a in alerts_seen) == ids,
           f"レコードごとに 1 通のアラートを alerts トピックに送ってください (届いたアラート: {len(alerts_seen)} 通)")
    expect(isinstance(result, dict) and result.get("batchItemFailures") == [],
           f"全件処理できたら {{'batchItemFailures': []}} を返してください (返り値: {result!r:.80})")
    uses("2 回目の配信", "同じ event をもう一度")
    expect(not alerts_again and isinstance(again, dict) and again.get("batchItemFailures") == [],
           f"同じメッセージが 2 回届いても、アラートは 1 回だけにしてください (2 回目に届いたアラート: {len(alerts_again)} 通)。"
           "保存した行の alerted を見て、送った後に mark_alerted(message_id) で印を付けます")
    uses("アラートが送れないとき", f"alerts トピックを消してから {lost} を渡しました")
    expect(row_when_down is not None,
           "アラートが送れないとき、記録が残りませんでした。メッセージはもう DLQ から取り出されています: "
           "アラートより先に save_failed_message で保存してください")
    expect(isinstance(when_down, dict) and when_down.get("batchItemFailures") == [{"itemIdentifier": lost}],
           f"アラートが送れなかったレコードは batchItemFailures に入れて、DLQ に残します (返り値: {when_down!r:.80})")


# --- 03.redrive_messages ---------------------------------------------------------------------

def redrive_messages(dlq_url: str, source_url: str) -> int:
    """Reference: the queue-to-queue move of labs.course.redrive."""
    return len(redrive_module.move_messages(dlq_url, source_url))


def _forgets_attributes(dlq_url, source_url):
    sqs, moved = sandbox.client("sqs"), 0
    while batch := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10).get("Messages", []):
        for m in batch:
            sqs.send_message(QueueUrl=source_url, MessageBody=m["Body"])
            sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
            moved += 1
    return moved


def _never_deletes(dlq_url, source_url):
    sqs = sandbox.client("sqs")
    batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"],
                                VisibilityTimeout=0).get("Messages", [])
    for m in batch:
        sqs.send_message(QueueUrl=source_url, MessageBody=m["Body"], MessageAttributes=m.get("MessageAttributes", {}))
    return len(batch)


def _first_batch_only(dlq_url, source_url):
    sqs = sandbox.client("sqs")
    batch = sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages", [])
    for m in batch:
        sqs.send_message(QueueUrl=source_url, MessageBody=m["Body"], MessageAttributes=m.get("MessageAttributes", {}))
        sqs.delete_message(QueueUrl=dlq_url, ReceiptHandle=m["ReceiptHandle"])
    return len(batch)


@exercise("03.redrive_messages", "再投入 (redrive): DLQ のメッセージを元のキューへ戻す",
          reference=redrive_messages, wrong=(_forgets_attributes, _never_deletes, _first_batch_only),
          hints=("receive_message は 1 回に最大 10 通しか返しません。DLQ が空になるまで受信を繰り返し、送ったものから DLQ で削除します。",
                 "while batch := sqs.receive_message(QueueUrl=dlq_url, MaxNumberOfMessages=10, MessageAttributeNames=[\"All\"])"
                 ".get(\"Messages\", []): の中で send_message(..., MessageAttributes=m.get(\"MessageAttributes\", {})) "
                 "と delete_message を呼び、移した件数を数えて返します。"))
def _(candidate):
    sqs, source_name, dlq_name = sandbox.client("sqs"), "check-03-redrive-src", "check-03-redrive-dlq"
    lesson03.delete_queues(source_name, dlq_name)
    source_url, dlq_url = sqs.create_queue(QueueName=source_name)["QueueUrl"], sqs.create_queue(QueueName=dlq_name)["QueueUrl"]
    try:
        sent = {}
        for i in range(12):  # more than one receive can return
            body = json.dumps({"event_type": "OrderCreated", "order": {"order_id": f"R-{i:02d}"}})
            sqs.send_message(QueueUrl=dlq_url, MessageBody=body,
                             MessageAttributes={"priority": {"DataType": "String", "StringValue": "high" if i % 2 else "low"}})
            sent[body] = "high" if i % 2 else "low"
        uses("DLQ の中身", "12 通 (本文 {'event_type': 'OrderCreated', 'order': {'order_id': 'R-00'〜'R-11'}}、"
                           "属性 priority は high / low が交互)。redrive_messages を 2 回続けて呼びます")
        first = candidate(dlq_url, source_url)
        second = candidate(dlq_url, source_url)  # running it again must change nothing
        got = drain(source_url)
        left = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"])["Attributes"]
    finally:
        lesson03.delete_queues(source_name, dlq_name)
    expect(sorted(m["Body"] for m in got) == sorted(sent) if len(got) <= len(sent) else False,
           f"元のキューには 12 通が 1 通ずつ戻るはずが {len(got)} 通ありました (2 回実行しても重複しないように、送ったら DLQ から削除します)")
    expect(first != 10 or second == 0,
           f"1 回目の呼び出しで 10 通しか移りませんでした ({first}, 2 回目 {second})。receive_message は 1 回に最大 10 通です: "
           "DLQ が空になるまで受信を繰り返してください")
    expect(int(left["ApproximateNumberOfMessages"]) + int(left["ApproximateNumberOfMessagesNotVisible"]) == 0,
           "DLQ にメッセージが残っています (受信は 1 回 10 通まで: 空になるまで繰り返します)")
    expect(all(m.get("MessageAttributes", {}).get("priority", {}).get("StringValue") == sent[m["Body"]] for m in got),
           "メッセージ属性 (priority) が失われました: MessageAttributeNames=['All'] で受け取り、そのまま送ります")
    expect((first, second) == (12, 0), f"移動した件数を返してください: 1 回目 12、2 回目 0 のはずが ({first}, {second})")


# --- 03.event_source_queue_attributes ---------------------------------------------------------
# AWS, "Creating and configuring an Amazon SQS event source mapping"
# (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-configure.html): "set the source
# queue's visibility timeout to at least six times the configuration timeout on your function. The
# extra time allows Lambda to retry if your function is throttled while processing a previous
# batch." "Your function's timeout must be less than or equal to the queue's visibility timeout.
# Lambda validates this requirement when you create or update an event source mapping" (the error
# AWS returns: "Queue visibility timeout: 30 seconds is less than Function timeout: 60 seconds").
# Batch window: "We recommend setting your queue's visibility timeout to six times your function
# timeout, plus the value of MaximumBatchingWindowInSeconds."
# "Using Lambda with Amazon SQS" (https://docs.aws.amazon.com/lambda/latest/dg/with-sqs.html):
# set maxReceiveCount on the source queue's redrive policy to at least 5.

SIX_TIMES = 6
MIN_RECEIVE_COUNT = 5


def event_source_queue_attributes(function_timeout: int, dlq_url: str, batch_window: int = 0) -> dict:
    """Reference: the visibility timeout from the function's timeout, a RedrivePolicy with the DLQ's ARN."""
    dlq_arn = provision.queue_arn(dlq_url)
    return {"VisibilityTimeout": str(SIX_TIMES * function_timeout + batch_window),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": MIN_RECEIVE_COUNT})}


def _visibility_equals_timeout(function_timeout, dlq_url, batch_window=0):
    return {**event_source_queue_attributes(function_timeout, dlq_url, batch_window),
            "VisibilityTimeout": str(function_timeout)}


def _hard_coded_thirty(function_timeout, dlq_url, batch_window=0):
    return {**event_source_queue_attributes(function_timeout, dlq_url, batch_window), "VisibilityTimeout": "30"}


def _ignores_batch_window(function_timeout, dlq_url, batch_window=0):
    return event_source_queue_attributes(function_timeout, dlq_url)


def _receive_once(function_timeout, dlq_url, batch_window=0):
    return {**event_source_queue_attributes(function_timeout, dlq_url, batch_window),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": provision.queue_arn(dlq_url), "maxReceiveCount": 1})}


def _receive_three_times(function_timeout, dlq_url, batch_window=0):
    return {**event_source_queue_attributes(function_timeout, dlq_url, batch_window),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": provision.queue_arn(dlq_url), "maxReceiveCount": 3})}


def _dlq_url_for_arn(function_timeout, dlq_url, batch_window=0):
    return {**event_source_queue_attributes(function_timeout, dlq_url, batch_window),
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_url, "maxReceiveCount": MIN_RECEIVE_COUNT})}


def _numbers_not_strings(function_timeout, dlq_url, batch_window=0):
    return {"VisibilityTimeout": SIX_TIMES * function_timeout + batch_window,
            "RedrivePolicy": {"deadLetterTargetArn": provision.queue_arn(dlq_url), "maxReceiveCount": MIN_RECEIVE_COUNT}}


ESM_QUEUE, ESM_DLQ = "check-03-esm-queue", "check-03-esm-dlq"
ESM_CASES = ((120, 0), (30, 20))  # (function timeout, batch window): a value that ignores either fails one


@exercise("03.event_source_queue_attributes",
          "可視性タイムアウト・関数のタイムアウト・maxReceiveCount をそろえる",
          reference=event_source_queue_attributes,
          wrong=(_visibility_equals_timeout, _hard_coded_thirty, _ignores_batch_window, _receive_once,
                 _receive_three_times, _dlq_url_for_arn, _numbers_not_strings),
          hints=("可視性タイムアウトは関数のタイムアウトから計算します (6 倍に、バッチウィンドウの秒数を足します)。"
                 "maxReceiveCount は 5 以上、DLQ は URL ではなく ARN で指定します。属性の値はどれも文字列です。",
                 "dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq_url, AttributeNames=[\"QueueArn\"])[\"Attributes\"][\"QueueArn\"]; "
                 "return {\"VisibilityTimeout\": str(6 * function_timeout + batch_window), "
                 "\"RedrivePolicy\": json.dumps({\"deadLetterTargetArn\": dlq_arn, \"maxReceiveCount\": 5})}"))
def _(candidate):
    for function_timeout, batch_window in ESM_CASES:
        dlq_url = provision.ensure_queue(ESM_DLQ)
        uses("引数", f"event_source_queue_attributes({function_timeout}, {dlq_url!r}, batch_window={batch_window})")
        attributes = candidate(function_timeout, dlq_url, batch_window)
        expect(isinstance(attributes, dict) and {"VisibilityTimeout", "RedrivePolicy"} <= set(attributes),
               f"create_queue の Attributes に渡す dict (キー VisibilityTimeout と RedrivePolicy) を返してください (返り値: {attributes!r:.80})")
        expect(all(isinstance(value, str) for value in attributes.values()),
               "キューの属性の値はどれも文字列です: VisibilityTimeout は str(秒数)、RedrivePolicy は json.dumps(...) にしてください")
        expect(attributes["VisibilityTimeout"].isdigit(),
               f"VisibilityTimeout は秒数の文字列です (例: \"180\"。設定値: {attributes['VisibilityTimeout']!r:.40})")
        try:
            policy = json.loads(attributes["RedrivePolicy"])
        except json.JSONDecodeError:
            policy = None
        expect(isinstance(policy, dict), "RedrivePolicy は JSON の文字列です: json.dumps({\"deadLetterTargetArn\": ..., \"maxReceiveCount\": ...})")
        target = str(policy.get("deadLetterTargetArn", ""))
        expect(target == provision.queue_arn(dlq_url),
               "deadLetterTargetArn には DLQ の URL ではなく ARN を使ってください (get_queue_attributes の QueueArn)"
               if target.startswith(("http://", "https://")) else
               f"deadLetterTargetArn は DLQ ({ESM_DLQ}) の ARN にしてください (設定値: {target!r:.80})")
        visibility, wanted = int(attributes["VisibilityTimeout"]), SIX_TIMES * function_timeout + batch_window
        expect(visibility <= SQS_MAX_VISIBILITY_TIMEOUT, f"SQS の可視性タイムアウトは最大 {SQS_MAX_VISIBILITY_TIMEOUT} 秒 (12 時間) です (設定値: {visibility})")
        # The consequences, proven in the sandbox: the mapping must be made, and an order throttled once must still be processed.
        try:
            trial = lesson03.try_event_source_queue(ESM_QUEUE, attributes, function_timeout)
        except sandbox.client("sqs").exceptions.ClientError as error:
            expect(False, f"SQS がキューの作成を拒否しました: {error.response['Error'].get('Message', error)}")
        expect(not trial.refused, f"{trial.refused} 可視性タイムアウトは関数のタイムアウト ({function_timeout} 秒) から計算してください")
        expect(trial.in_dlq == 0 and trial.processed == 1,
               f"スロットリングで 1 回処理できなかっただけの注文が DLQ に移りました (maxReceiveCount {policy.get('maxReceiveCount')}): "
               f"再試行の機会がありません。maxReceiveCount は {MIN_RECEIVE_COUNT} 以上にしてください")
        expect(visibility != function_timeout,
               f"可視性タイムアウトが関数のタイムアウトと同じ ({visibility} 秒) です。AWS はこのマッピングを作れますが、"
               "関数がスロットリングされると Lambda が再試行する時間が残りません。関数のタイムアウトの 6 倍以上にしてください")
        expect(visibility >= SIX_TIMES * function_timeout,
               f"可視性タイムアウト {visibility} 秒は、関数のタイムアウト {function_timeout} 秒の 6 倍 ({SIX_TIMES * function_timeout} 秒) "
               "より短いです。関数のタイムアウトから計算してください")
        expect(visibility >= wanted,
               f"バッチウィンドウ ({batch_window} 秒) の分が足りません: 可視性タイムアウトは 6 × {function_timeout} + {batch_window} = "
               f"{wanted} 秒以上にしてください (設定値: {visibility})")
        count = int(policy.get("maxReceiveCount", 0))
        expect(count <= SQS_MAX_RECEIVE_COUNT[1], f"maxReceiveCount は {SQS_MAX_RECEIVE_COUNT[1]} までです (設定値: {count})")
        expect(count >= MIN_RECEIVE_COUNT,
               f"maxReceiveCount {count} では足りません: Lambda のイベントソースのキューでは {MIN_RECEIVE_COUNT} 以上にします "
               "(スロットリングなどで、処理されないまま受信回数だけ増えることがあるため)")
