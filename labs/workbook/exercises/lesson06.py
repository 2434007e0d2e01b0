"""Lesson 06 (使い分け): an idempotent consumer, choosing a service for each need, and a
Kinesis partition key that keeps each order in order."""
from __future__ import annotations

import json
import uuid

import boto3

from labs import sandbox
from labs.course.names import REGION
from labs.sandbox import provision
from labs.course.consumers import idempotent
from labs.course.consumers.batch import partial_batch_response
from labs.runtime import LambdaContext
from labs.workbook.checks import exercise, expect, uses

# --- 06.idempotent_handler ---------------------------------------------------------------------


def _reference_idempotent_handler(event, context):
    """Conditional write of the event id first; the effect only when the write succeeded."""
    dynamodb = boto3.client("dynamodb")

    def once(record):
        order = idempotent.parse_order_event(record["body"])
        try:
            dynamodb.put_item(
                TableName=idempotent.PROCESSED_TABLE,
                Item={"event_id": {"S": order["event_id"]}},
                ConditionExpression="attribute_not_exists(event_id)",
            )
        except dynamodb.exceptions.ConditionalCheckFailedException:
            return  # processed before: a duplicate
        try:
            idempotent.award_points(order)
        except Exception:
            # let the retry apply it: forget that we "processed" it
            dynamodb.delete_item(TableName=idempotent.PROCESSED_TABLE, Key={"event_id": {"S": order["event_id"]}})
            raise

    return partial_batch_response(event, once)


def _naive(event, context):
    return idempotent.naive_handler(event, context)


def _keyed_on_message_id(event, context):
    """Remembers SQS messageIds: a producer's retry (a new message) slips through."""
    dynamodb = boto3.client("dynamodb")
    for record in event["Records"]:
        try:
            dynamodb.put_item(TableName=idempotent.PROCESSED_TABLE, Item={"event_id": {"S": record["messageId"]}},
                              ConditionExpression="attribute_not_exists(event_id)")
        except dynamodb.exceptions.ConditionalCheckFailedException:
            continue
        idempotent.award_points(idempotent.parse_order_event(record["body"]))
    return {"batchItemFailures": []}


def _swallows_errors(event, context):
    """Idempotent, but a broken message is silently dropped instead of retried."""
    for record in event["Records"]:
        try:
            idempotent.award_points_once(idempotent.parse_order_event(record["body"]))
        except Exception:
            pass
    return {"batchItemFailures": []}


def _duplicates_as_failures(event, context):
    """Reports a duplicate as a failure: SQS would retry it again and again, into the DLQ."""
    failures = []
    for record in event["Records"]:
        try:
            if not idempotent.award_points_once(idempotent.parse_order_event(record["body"])):
                failures.append({"itemIdentifier": record["messageId"]})
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _records_but_never_applies(event, context):
    dynamodb = boto3.client("dynamodb")
    for record in event["Records"]:
        order = idempotent.parse_order_event(record["body"])
        dynamodb.put_item(TableName=idempotent.PROCESSED_TABLE, Item={"event_id": {"S": order["event_id"]}})
    return {"batchItemFailures": []}


def _record(message_id: str, body) -> dict:
    return {"messageId": message_id, "receiptHandle": f"rh-{message_id}",
            "body": body if isinstance(body, str) else json.dumps(body),
            "attributes": {"ApproximateReceiveCount": "1"}, "messageAttributes": {}, "md5OfBody": "",
            "eventSource": "aws:sqs", "eventSourceARN": f"arn:aws:sqs:{REGION}:{sandbox.ACCOUNT_ID}:check-06",
            "awsRegion": REGION}


def _failures(result) -> list:
    expect(isinstance(result, dict) and isinstance(result.get("batchItemFailures"), list),
           f"返り値は {{'batchItemFailures': [...]}} にしてください (返り値: {result!r:.80})")
    return sorted(f.get("itemIdentifier") for f in result["batchItemFailures"])


@exercise("06.idempotent_handler", "冪等なコンシューマー (条件付き書き込み)",
          reference=_reference_idempotent_handler,
          wrong=(_naive, _keyed_on_message_id, _swallows_errors, _duplicates_as_failures, _records_but_never_applies),
          hints=("同じイベントが 2 回届いても、効果は 1 回だけにします。「処理済み」の印を何をキーにして残すかを考えます。"
                 "キーは送信側の再送でも変わらないもの (messageId は変わります) を選びます。",
                 "dynamodb.put_item(TableName=idempotent.PROCESSED_TABLE, ..., ConditionExpression=\"attribute_not_exists(event_id)\") "
                 "が ConditionalCheckFailedException なら処理済み (成功扱い)。書けたら idempotent.award_points(order)。"
                 "例外はレコードごとに捕まえて batchItemFailures に入れます。"))
def _(candidate):
    uses("バッチ 1", "ORD-1 (1,200 円) のイベントが messageId m1 で 2 回、ORD-2 (500 円) が m2 で 1 回")
    uses("バッチ 2", "ORD-1 の送信側の再送 (messageId は m9、event_id は同じ)")
    uses("バッチ 3", "壊れた本文 'not json' (messageId bad) と、正しい新しいイベント (m3)")
    for name, key in idempotent.TABLES.items():
        provision.ensure_table(name, key)
    run = uuid.uuid4().hex[:8]  # fresh ids: the check can run any number of times
    customer = f"CHECK-{run}"
    first = {"event_id": f"{run}-1", "customer_id": customer, "order_id": "ORD-1", "amount": 1200}
    second = {"event_id": f"{run}-2", "customer_id": customer, "order_id": "ORD-2", "amount": 500}
    context = LambdaContext(function_name="check-06")

    result = candidate({"Records": [_record("m1", first), _record("m1", first), _record("m2", second)]}, context)
    expect(_failures(result) == [],
           f"重複は失敗ではありません。処理済みとして成功扱いにしてください (batchItemFailures: {_failures(result)})")
    points = idempotent.points_of(customer)
    expect(points != 24 + 5, "同じイベント (同じ messageId) が 2 回届き、ポイントが 2 回加算されました")
    expect(points == 12 + 5, f"2 件のイベントで 12 + 5 = 17 ポイントになるはずが {points} ポイントです")

    result = candidate({"Records": [_record("m9", first)]}, context)  # the producer retried: new messageId
    expect(_failures(result) == [], "重複は失敗ではありません。処理済みとして成功扱いにしてください")
    points = idempotent.points_of(customer)
    expect(points == 17, "送信側の再送 (messageId は新しく、event_id は同じ) でポイントが二重に加算されました。"
                         "キーには messageId ではなく本文の event_id を使いましょう")

    broken = candidate({"Records": [_record("bad", "not json"), _record("m3", {**second, "event_id": f"{run}-3"})]}, context)
    expect(_failures(broken) == ["bad"],
           "壊れたメッセージは batchItemFailures で報告してください (黙って捨てると失われます)。"
           f"正しいメッセージは成功させます (batchItemFailures: {_failures(broken)})")
    expect(idempotent.points_of(customer) == 22, "壊れたメッセージと同じバッチの正しいイベントも処理してください")


# --- 06.choose_services ------------------------------------------------------------------------

SERVICES = ("EventBridge", "SNS", "SQS", "SQS FIFO", "Kinesis")

# requirement -> (what the learner reads, the service, a hint that does not name it)
REQUIREMENTS = {
    "route_by_content": (
        "注文イベントを種別や金額などの中身で振り分け、高額注文だけを不正検知に送りたい。"
        "SaaS のイベントや定期実行 (スケジュール) も同じ仕組みで扱いたい",
        "EventBridge", "イベントの中身で宛先を決め (イベントパターン)、スケジュールも持つサービスは?"),
    "fanout": (
        "同じ「注文作成」の通知を、在庫・配送・メールの 3 つのサービスへ同時に配りたい (各サービスは自分のキューで受ける)",
        "SNS", "1 通を複数のサブスクライバーへ同時に配る (ファンアウト) サービスは?"),
    "buffer_and_retry": (
        "外部の決済 API は毎秒 10 件しか受け付けない。注文が急増したらメッセージを溜めて少しずつ処理し、"
        "失敗は再試行し、何度も失敗するものは DLQ に移したい",
        "SQS", "溜めておき、コンシューマーが自分のペースで取りに行き、失敗は再試行、最後は DLQ へ"),
    "ordered_per_order": (
        "同じ注文のイベントは発生順に 1 回ずつ処理し、注文同士は並列に処理したい。送信側の再送による重複も取り除きたい",
        "SQS FIFO", "MessageGroupId ごとの順序と、送信の重複排除 (MessageDeduplicationId) を持つのは?"),
    "replay_stream": (
        "毎秒数千件のクリックイベントを複数の分析アプリがそれぞれ読み、バグを直したら過去 24 時間分を読み直したい",
        "Kinesis", "読んでも消えず、保持期間のあいだ何度でも TRIM_HORIZON から読み直せるのは?"),
}


def _reference_choose_services() -> dict[str, str]:
    return {key: service for key, (_, service, _) in REQUIREMENTS.items()}


def _everything_sqs() -> dict[str, str]:
    return {key: "SQS" for key in REQUIREMENTS}


def _fifo_and_kinesis_swapped() -> dict[str, str]:
    return {**_reference_choose_services(), "ordered_per_order": "Kinesis", "replay_stream": "SQS FIFO"}


def _missing_one() -> dict[str, str]:
    answer = _reference_choose_services()
    answer.pop("fanout")
    return answer


def _a_list() -> list:
    return list(_reference_choose_services().values())


def _normalised(service) -> str | None:
    if not isinstance(service, str):
        return None
    wanted = " ".join(service.split()).lower()
    return next((s for s in SERVICES if s.lower() == wanted), None)


@exercise("06.choose_services", "要件に合うサービスを選ぶ", reference=_reference_choose_services,
          wrong=(_everything_sqs, _fifo_and_kinesis_swapped, _missing_one, _a_list),
          hints=("要件ごとに、「中身で振り分ける」「全員に配る」「溜めて再試行」「順序」「読み直し」のどれが決め手かを探します。",
                 "振り分け・スケジュール → EventBridge、ファンアウト → SNS、溜めて再試行・DLQ → SQS、"
                 "グループごとの順序と重複排除 → SQS FIFO、読み直し・複数の読み手 → Kinesis (8 節の判断表)。"))
def _(candidate):
    uses("要件の名前", ", ".join(REQUIREMENTS))
    answer = candidate()
    expect(isinstance(answer, dict), f"要件の名前 → サービス名 の dict を返してください (返り値: {answer!r:.80})")
    missing = [key for key in REQUIREMENTS if key not in answer]
    expect(not missing, f"要件 {', '.join(missing)} に答えがありません")
    for key, (need, service, hint) in REQUIREMENTS.items():
        chosen = _normalised(answer[key])
        expect(chosen is not None, f"{key}: {answer[key]!r} は選択肢にありません ({' / '.join(SERVICES)} から選びます)")
        expect(chosen == service, f"{key} (「{need[:30]}…」) に {chosen} は最適ではありません。ヒント: {hint}")


# --- 06.partition_key --------------------------------------------------------------------------

def _reference_partition_key(event: dict) -> str:
    return event["order_id"]


def _one_key_for_everything(event: dict) -> str:
    return "orders"


def _event_id_as_key(event: dict) -> str:
    return event["event_id"]


def _random_key(event: dict) -> str:
    return uuid.uuid4().hex


def _integer_key(event: dict):
    return int(event["order_id"].split("-")[1])


@exercise("06.partition_key", "Kinesis のパーティションキー", reference=_reference_partition_key,
          wrong=(_one_key_for_everything, _event_id_as_key, _random_key, _integer_key),
          hints=("同じ注文のイベントは同じシャードに入れたい。一方で、すべてを同じキーにするとシャードが 1 つに偏ります。",
                 "同じ注文なら同じで、注文ごとに違う値 (event[\"order_id\"]) を文字列のまま返します。"))
def _(candidate):
    steps = ("OrderCreated", "OrderShipped", "OrderCancelled")
    uses("イベント", "ORD-1〜ORD-8 それぞれの OrderCreated / OrderShipped / OrderCancelled (24 件)")
    events = [{"event_id": f"E-{o}-{i}", "order_id": f"ORD-{o}", "customer_id": f"CUST-{o % 3}",
               "event_type": step, "amount": 1000 * o} for i, step in enumerate(steps) for o in range(1, 9)]
    keys = {}
    for event in events:
        key = candidate(event)
        expect(isinstance(key, str) and 1 <= len(key) <= 256,
               f"パーティションキーは 1〜256 文字の文字列です (返り値: {key!r:.80})")
        keys.setdefault(event["order_id"], set()).add(key)
    split = [order for order, k in keys.items() if len(k) > 1]
    expect(not split, f"{split[0] if split else ''} のイベントが別々のキーに分かれました。別のシャードに入ると"
                      "注文の中の順序が守られません")
    distinct = set().union(*keys.values())
    expect(len(distinct) > 1, "すべてのイベントが同じキーです。1 つのシャードに集中し (ホットシャード)、"
                              "シャードを増やしても速くなりません")
