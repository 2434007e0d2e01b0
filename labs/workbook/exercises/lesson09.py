"""Lesson 09 (Pipes とストリーム): a pipe's filter and input template, and a Kinesis handler that
reports the right sequence number."""
from __future__ import annotations

import base64
import json

from labs import sandbox
from labs.course.producers import kinesis
from labs.runtime import LocalRuntime
from labs.sandbox import provision
from labs.workbook.checks import exercise, expect, uses

# --- 09.order_pipe ------------------------------------------------------------------------------
# The pipe: SQS order-events → (only OrderCreated) → orders-bus, each event reshaped to
# {"order_id": ..., "customer_id": ..., "amount": <number>}.

SOURCE_QUEUE, BUS, SEEN = "check-09-orders", "check-09-bus", "check-09-seen"
PIPE = "check-09-orders-pipe"


def _reference_order_pipe() -> dict:
    created = {"body": {"event_type": ["OrderCreated"]}}
    template = ('{"order_id": <$.body.order.order_id>, "customer_id": <$.body.order.customer_id>, '
                '"amount": <$.body.order.amount>}')
    return {"SourceParameters": {"FilterCriteria": {"Filters": [{"Pattern": json.dumps(created)}]}},
            "TargetParameters": {"InputTemplate": template}}


def _filter_without_body() -> dict:
    """The pattern written as for an EventBridge rule on the message: nothing has event_type at the top."""
    parameters = _reference_order_pipe()
    parameters["SourceParameters"]["FilterCriteria"]["Filters"][0]["Pattern"] = json.dumps(
        {"event_type": ["OrderCreated"]})
    return parameters


def _template_loses_customer() -> dict:
    parameters = _reference_order_pipe()
    parameters["TargetParameters"]["InputTemplate"] = (
        '{"order_id": <$.body.order.order_id>, "amount": <$.body.order.amount>}')
    return parameters


def _amount_as_text() -> dict:
    """Quotes around a number make it a string: "1200", not 1200."""
    parameters = _reference_order_pipe()
    parameters["TargetParameters"]["InputTemplate"] = (
        '{"order_id": "<$.body.order.order_id>", "customer_id": "<$.body.order.customer_id>", '
        '"amount": "<$.body.order.amount>"}')
    return parameters


def _no_filter() -> dict:
    parameters = _reference_order_pipe()
    del parameters["SourceParameters"]["FilterCriteria"]
    return parameters


def _clean_pipe_resources() -> tuple[str, str]:
    pipes = sandbox.client("pipes")
    try:
        pipes.delete_pipe(Name=PIPE)
    except pipes.exceptions.NotFoundException:
        pass
    source, seen = provision.ensure_queue(SOURCE_QUEUE), provision.ensure_queue(SEEN)
    for url in (source, seen):
        _drain(url)
    return source, seen


def _drain(url: str) -> list[dict]:
    """Receive and delete everything in the queue; the message bodies, parsed."""
    sqs, bodies = sandbox.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages", []):
        for message in batch:
            bodies.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return bodies


CHECK_ORDERS = [("OrderCreated", {"order_id": "ORD-901", "customer_id": "CUST-1", "amount": 1200}),
                ("OrderShipped", {"order_id": "ORD-901", "customer_id": "CUST-1", "amount": 1200}),
                ("OrderCreated", {"order_id": "ORD-902", "customer_id": "CUST-2", "amount": 800})]


@exercise("09.order_pipe", "パイプ: OrderCreated だけを、決まった形でバスへ",
          reference=_reference_order_pipe,
          wrong=(_filter_without_body, _template_loses_customer, _amount_as_text, _no_filter),
          hints=("2 つの部品があります: ソース側のフィルター (どのメッセージを通すか) と、ターゲット側の入力テンプレート "
                 "(バスに送る形)。SQS のメッセージ本文は、パイプの中では body の下にあります。",
                 "{\"SourceParameters\": {\"FilterCriteria\": {\"Filters\": [{\"Pattern\": json.dumps({\"body\": {...}})}]}}, "
                 "\"TargetParameters\": {\"InputTemplate\": '{\"order_id\": <$.body.order.order_id>, ...}'}} です。"
                 "数値は <...> を \"...\" で囲まずに埋め込みます。"))
def _(candidate):
    uses("ソースのキューに送るメッセージ", [{"event_type": t, "order": o} for t, o in CHECK_ORDERS])
    parameters = candidate()
    expect(isinstance(parameters, dict) and set(parameters) <= {"SourceParameters", "TargetParameters"},
           f"SourceParameters と TargetParameters の dict を返してください (返り値: {parameters!r:.80})")
    source, seen = _clean_pipe_resources()
    bus_arn = provision.ensure_bus(BUS)
    provision.ensure_rule(BUS, "check-09-all", queue_url=seen, event_pattern={"source": [f"Pipe {PIPE}"]})
    pipes = sandbox.client("pipes")
    try:
        pipes.create_pipe(Name=PIPE, RoleArn=f"arn:aws:iam::{sandbox.ACCOUNT_ID}:role/check-09",
                          Source=provision.queue_arn(source), Target=bus_arn, **parameters)
    except pipes.exceptions.ClientError as error:
        expect(False, f"create_pipe が受け付けませんでした: {error}")
    try:
        for event_type, order in CHECK_ORDERS:
            sandbox.client("sqs").send_message(QueueUrl=source, MessageBody=json.dumps(
                {"event_type": event_type, "order": order}))
        runtime = LocalRuntime()
        runtime.on_pipe(PIPE)
        runtime.run_until_quiet()
        delivered = [event["detail"] for event in _drain(seen)]
    finally:
        pipes.delete_pipe(Name=PIPE)
    expected = [order for event_type, order in CHECK_ORDERS if event_type == "OrderCreated"]
    expect(delivered, "バスに 1 件も届きません。SQS ソースのフィルターは本文を body の下に書きます "
                      '({"body": {"event_type": [...]}})。合わなかったメッセージはキューから削除されています')
    expect(len(delivered) == len(expected),
           f"OrderCreated の {len(expected)} 件だけが届くはずが {len(delivered)} 件届きました (フィルターを確かめてください)")
    for got, want in zip(delivered, expected):
        missing = sorted(set(want) - set(got))
        expect(not missing, f"テンプレートの結果に {missing} がありません (届いた detail: {got})")
        expect(got == want, f"detail は {want} の形です (届いた detail: {got})。数値を \"...\" で囲むと文字列になります")


# --- 09.kinesis_handler -----------------------------------------------------------------------------
STREAM = "check-09-stream"


def _reporting(identifier):
    def make(ship):
        def handler(event, context):
            for record in event["Records"]:
                order = json.loads(base64.b64decode(record["kinesis"]["data"]))
                try:
                    ship(order)
                except Exception:
                    return {"batchItemFailures": [{"itemIdentifier": identifier(record)}]}
            return {"batchItemFailures": []}
        return handler
    return make


# The reference: report the sequence number of the record that failed, and stop there (Lambda
# retries from the lowest reported sequence number).
_reference_make_shard_handler = _reporting(lambda record: record["kinesis"]["sequenceNumber"])


_partition_key = _reporting(lambda record: record["kinesis"]["partitionKey"])
_partition_key.__name__ = "_partition_key"
_event_id = _reporting(lambda record: record["eventID"])
_event_id.__name__ = "_event_id"


def _every_record(ship):
    def handler(event, context):
        failed = False
        for record in event["Records"]:
            try:
                ship(json.loads(base64.b64decode(record["kinesis"]["data"])))
            except Exception:
                failed = True
        items = [{"itemIdentifier": r["kinesis"]["sequenceNumber"]} for r in event["Records"]]
        return {"batchItemFailures": items if failed else []}
    return handler


@exercise("09.kinesis_handler", "Kinesis: 失敗したレコードのシーケンス番号を返す",
          reference=_reference_make_shard_handler, wrong=(_partition_key, _every_record, _event_id),
          hints=("Kinesis はシャードの中の順番を守ります。失敗したレコードで止めて、それを報告すれば、"
                 "Lambda はそこから先だけをやり直します。成功したものまで報告すると、また処理されてしまいます。",
                 "失敗したら return {\"batchItemFailures\": [{\"itemIdentifier\": record[\"kinesis\"][\"sequenceNumber\"]}]}、"
                 "全部成功したら {\"batchItemFailures\": []} を返します (partitionKey や eventID ではありません)。"))
def _(candidate):
    uses("ストリームに入れる注文", "ORD-1, ORD-2, ORD-3 (1 シャード、この順)")
    uses("ship の振る舞い", "ORD-2 で 1 回だけ ConnectionError、それ以外は成功")
    provision.ensure_stream(STREAM, shard_count=1)
    shipped: list[str] = []
    failures = {"ORD-2": 1}  # the delivery company's API fails once for ORD-2

    def ship(order):
        if failures.get(order["order_id"], 0):
            failures[order["order_id"]] -= 1
            raise ConnectionError("配送会社の API がタイムアウトしました")
        shipped.append(order["order_id"])

    handler = candidate(ship)
    expect(callable(handler), "make_shard_handler(ship) はハンドラー (関数) を返します")
    runtime = LocalRuntime()
    runtime.on_kinesis(STREAM, handler, function_name="check-09-shipper", starting_position="LATEST",
                       report_batch_item_failures=True, maximum_retry_attempts=3)
    for n in (1, 2, 3):
        kinesis.put_order_event(STREAM, {"order_id": f"ORD-{n}"}, "CUST-1")
    runtime.run_until_quiet()
    calls = runtime.invocations("check-09-shipper")
    if calls and isinstance(calls[0].error, NotImplementedError):
        raise NotImplementedError  # the handler is still the stub: 未実装, not a failure
    expect(calls and calls[0].ok, f"ハンドラーが例外を出しました: {calls[0].describe_error() if calls else '(呼ばれていません)'}")
    first = calls[0].result.get("batchItemFailures") if isinstance(calls[0].result, dict) else None
    numbers = [r["kinesis"]["sequenceNumber"] for r in calls[0].event["Records"]]
    failed_number = numbers[1]
    expect(first, f"ORD-2 が失敗したのに batchItemFailures が空です (返り値: {calls[0].result!r:.100})")
    reported = [i.get("itemIdentifier") for i in first if isinstance(i, dict)]
    expect(all(r in numbers for r in reported),
           f"itemIdentifier はレコードのシーケンス番号 (record['kinesis']['sequenceNumber']) です (返した値: {reported})")
    expect(min(reported, key=numbers.index) == failed_number,
           f"成功した ORD-1 まで報告すると、Lambda は最小の番号から全部やり直します (返した値: {reported})")
    expect(shipped == ["ORD-1", "ORD-2", "ORD-3"],
           f"どの注文も 1 回ずつ、順に出荷されるはずです (出荷された順: {shipped})")
