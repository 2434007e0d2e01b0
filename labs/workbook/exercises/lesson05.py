"""Lesson 05 (パターン): a choreography handler, a saga compensation, the CQRS projector.

Each check runs the learner's code for real in the sandbox: the payment service
publishes onto a bus of its own (EVENT_BUS_NAME, as Lambda would be configured), the
refund worker answers a real Step Functions execution, the projector reads a real
DynamoDB stream. Checks use their own ids (``check-...``) and tidy up, so the
notebook's own orders and tables are left as they were.
"""
from __future__ import annotations

import contextlib
import json
import os

from labs.sandbox import provision
from labs.course import aws
from labs.course.patterns import choreography, cqrs, saga
from labs.observe.items import table_rows
from labs.workbook.lessons import lesson05
from labs.runtime import LocalRuntime
from labs.runtime.context import LambdaContext
from labs.observe.queues import drain
from labs.workbook.checks import exercise, expect, uses

CHECK_BUS = "workbook-checks-05"


def _drained_events(queue_url: str) -> list[dict]:
    return [json.loads(m["Body"]) for m in drain(queue_url)]


def _probe_stub(candidate) -> None:
    """A stub raises NotImplementedError at once; the runtime would swallow it as a failure."""
    candidate({"Records": []}, LambdaContext("check"))


def _worker_errors(runtime) -> list[str]:
    """What the learner's handler raised inside the runtime (a stub: NotImplementedError)."""
    failed = [call for call in runtime.invocations() if not call.ok]
    if any(isinstance(call.error, NotImplementedError) for call in failed):
        raise NotImplementedError
    return [call.describe_error() for call in failed]


# --- 1. choreography: the payment service -------------------------------------------------

@contextlib.contextmanager
def _check_bus():
    """EVENT_BUS_NAME points at a bus of the check's own; every event on it is captured."""
    provision.ensure_bus(CHECK_BUS)
    queue = provision.ensure_queue("workbook-check-05-capture")
    provision.ensure_rule(CHECK_BUS, "capture-everything", event_pattern={"version": ["0"]}, queue_url=queue)
    _drained_events(queue)
    before = os.environ.get("EVENT_BUS_NAME")
    os.environ["EVENT_BUS_NAME"] = CHECK_BUS
    try:
        yield lambda: _drained_events(queue)
    finally:
        if before is None:
            os.environ.pop("EVENT_BUS_NAME", None)
        else:
            os.environ["EVENT_BUS_NAME"] = before


def _reserved(amount: int) -> dict:
    order = {"order_id": f"check-{amount}", "customer_id": "check-customer",
             "items": [{"sku": "CHECK-SKU", "quantity": 2}], "amount": amount}
    return lesson05.example_event("StockReserved", order, service="inventory")


def _published_after(candidate, event, captured) -> list[dict]:
    candidate(event, LambdaContext("payment_service"))
    return captured()


def _expect_one(events: list[dict], detail_type: str, order: dict, case: str) -> dict:
    expect(len(events) == 1, f"{case}: イベントはちょうど 1 件発行してください (発行された件数: {len(events)})。"
           "バスは emit() か環境変数 EVENT_BUS_NAME で決めてください")
    event = events[0]
    expect(event["detail-type"] == detail_type,
           f"{case}: {detail_type} を発行してください (発行されたのは {event['detail-type']})")
    expect(event["source"] == choreography.SOURCES["payment"],
           f"{case}: source は決済サービスの {choreography.SOURCES['payment']} にしてください (実際: {event['source']})")
    detail = event["detail"]
    for key in ("order_id", "items", "amount"):
        expect(detail.get(key) == order[key],
               f"{case}: detail に注文の {key} をそのまま載せてください (後続のサービスが使います)")
    return detail


@exercise("05.payment_service", "コレオグラフィ: 決済サービスのハンドラー", reference=choreography.payment_service,
          wrong=(
              lambda event, context: choreography.emit("payment", "PaymentCompleted", event["detail"]),
              lambda event, context: choreography.emit(
                  "inventory", "PaymentCompleted" if event["detail"]["amount"] <= choreography.PAYMENT_LIMIT
                  else "PaymentFailed", {**event["detail"], "reason": "x"}),
              lambda event, context: choreography.emit(
                  "payment", "PaymentCompleted", event["detail"]) if event["detail"]["amount"] < choreography.PAYMENT_LIMIT
              else choreography.emit("payment", "PaymentFailed", {"order_id": event["detail"]["order_id"], "reason": "x"}),
          ),
          hints=("決済サービスは StockReserved を受けて、結果を必ず 1 件だけ発表します。限度額ちょうどは成功です。"
                 "後続のサービスが使うので、注文の中身はそのまま載せて送ります。",
                 "order = event[\"detail\"]; order[\"amount\"] <= PAYMENT_LIMIT なら emit(\"payment\", \"PaymentCompleted\", order)、"
                 "超えたら emit(\"payment\", \"PaymentFailed\", {**order, \"reason\": \"...\"}) です。"))
def _(candidate):
    uses("受け取る StockReserved の detail.amount", f"3000 / {choreography.PAYMENT_LIMIT} (限度額ちょうど) / "
                                                  f"{choreography.PAYMENT_LIMIT + 1} (限度額超え)")
    with _check_bus() as captured:
        for amount in (3000, choreography.PAYMENT_LIMIT):
            event = _reserved(amount)
            _expect_one(_published_after(candidate, event, captured), "PaymentCompleted", event["detail"],
                        f"{amount} 円の注文 (限度額以下)")
        event = _reserved(choreography.PAYMENT_LIMIT + 1)
        detail = _expect_one(_published_after(candidate, event, captured), "PaymentFailed", event["detail"],
                             f"{choreography.PAYMENT_LIMIT + 1} 円の注文 (限度額超え)")
        expect(isinstance(detail.get("reason"), str) and detail["reason"],
               "PaymentFailed の detail に reason (失敗の理由) を入れてください")


# --- 2. saga: the refund compensation ------------------------------------------------------

CHECK_ORDER = {"order_id": "check-refund", "sku": "CHECK-SKU", "quantity": 2, "amount": 4200, "ship_to": "札幌"}
CHECK_STOCK = 5


def _forget_check_order() -> None:
    ddb = aws.client("dynamodb")
    for table in (saga.PAYMENTS_TABLE, saga.SHIPMENTS_TABLE):
        ddb.delete_item(TableName=table, Key={"order_id": {"S": CHECK_ORDER["order_id"]}})
    ddb.delete_item(TableName=saga.STOCK_TABLE, Key={"sku": {"S": CHECK_ORDER["sku"]}})


def _refund_only_answers(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        aws.client("stepfunctions").send_task_success(taskToken=body["task_token"], output="{}")


def _refund_reports_failure(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        aws.client("stepfunctions").send_task_failure(taskToken=body["task_token"], error="RefundFailed", cause="x")


def _refund_never_answers(event, context):
    for record in event["Records"]:
        body = json.loads(record["body"])
        aws.client("dynamodb").update_item(
            TableName=saga.PAYMENTS_TABLE, Key={"order_id": {"S": body["order"]["order_id"]}},
            UpdateExpression="SET #s = :r", ExpressionAttributeNames={"#s": "status"},
            ExpressionAttributeValues={":r": {"S": "REFUNDED"}})


@exercise("05.refund_worker", "Saga: 返金 (補償) ワーカー", reference=saga.refund_worker,
          wrong=(_refund_only_answers, _refund_reports_failure, _refund_never_answers),
          hints=("補償は 2 つの仕事です: 決済記録を「返金済み」にすること (消さずに残します) と、"
                 "待っている Step Functions にタスクトークンで「終わった」と答えること。答えないと実行は止まったままです。",
                 "ddb.update_item(TableName=PAYMENTS_TABLE, Key=..., UpdateExpression=\"SET #status = :refunded\", ...) のあと "
                 "sfn.send_task_success(taskToken=token, output=json.dumps({...})) を呼びます。"))
def _(candidate):
    uses("Saga に流す注文", CHECK_ORDER)
    uses("在庫", {CHECK_ORDER["sku"]: CHECK_STOCK})
    _probe_stub(candidate)
    arn = lesson05.provision_saga()
    _forget_check_order()
    lesson05.fill_stock({CHECK_ORDER["sku"]: CHECK_STOCK})
    runtime = LocalRuntime()
    lesson05.wire_saga_workers(runtime, {saga.REFUND_QUEUE: candidate})
    try:
        try:
            execution = lesson05.run_saga(runtime, arn, CHECK_ORDER, timeout=2.0)
        except lesson05.SagaTimeout:
            expect(False, "RefundPayment が終わりません: 処理のあと send_task_success でタスクトークンに応答してください")
        for call in execution.worker_errors:
            if isinstance(call.error, NotImplementedError):
                raise NotImplementedError from call.error
            expect(False, f"ワーカー {call.function_name} が例外を送出しました ({call.describe_error()}): "
                          "Step Functions はタイムアウト (States.Timeout) まで待ち、返金されないまま実行が失敗します")
        expect(execution.states[:4] == ["ReserveStock", "ChargePayment", "ShipOrder", "RefundPayment"],
               f"想定外のステートを通りました: {execution.states}")
        expect(execution.compensations == ["RefundPayment", "ReleaseStock"],
               f"補償は RefundPayment -> ReleaseStock の順に両方走るはずです (実際: {execution.compensations})。"
               "返金できたら send_task_failure ではなく send_task_success を返してください")
        payment = next((p for p in table_rows(saga.PAYMENTS_TABLE, "order_id")
                        if p["order_id"] == CHECK_ORDER["order_id"]), None)
        expect(payment is not None, "payments テーブルの決済記録が消えています: 記録は残し、status を REFUNDED にしてください")
        expect(payment.get("status") == "REFUNDED",
               f"payments テーブルの status が {payment.get('status')} のままです: REFUNDED にしてください")
        expect(payment.get("amount") == CHECK_ORDER["amount"], "決済記録の amount は変えないでください")
        stock = next(s for s in table_rows(saga.STOCK_TABLE, "sku") if s["sku"] == CHECK_ORDER["sku"])
        expect(stock["available"] == CHECK_STOCK, f"在庫が元に戻っていません ({stock['available']} / {CHECK_STOCK})")
    finally:
        _forget_check_order()


# --- 3. CQRS: the projector -----------------------------------------------------------------

CHECK_ORDERS_TABLE = "orders-check-05"
CHECK_CUSTOMERS = ("check-alice", "check-bob")


def _summaries() -> dict[str, dict]:
    rows = {r["customer_id"]: r for r in table_rows(cqrs.SUMMARY_TABLE, "customer_id") if r["customer_id"] in CHECK_CUSTOMERS}
    return {c: {k: rows.get(c, {}).get(k, 0) for k in ("order_count", "total_amount", "cancelled_count")}
            for c in CHECK_CUSTOMERS}


def _forget_check_customers() -> None:
    for customer in CHECK_CUSTOMERS:
        aws.client("dynamodb").delete_item(TableName=cqrs.SUMMARY_TABLE, Key={"customer_id": {"S": customer}})


def _projects_inserts_only(event, context):
    cqrs.project_order({"Records": [r for r in event["Records"] if r["eventName"] == "INSERT"]}, context)


def _counts_every_record(event, context):
    for record in event["Records"]:
        image = record["dynamodb"].get("NewImage") or record["dynamodb"]["OldImage"]
        aws.client("dynamodb").update_item(
            TableName=cqrs.SUMMARY_TABLE, Key={"customer_id": {"S": image["customer_id"]["S"]}},
            UpdateExpression="ADD order_count :one, total_amount :amount",
            ExpressionAttributeValues={":one": {"N": "1"}, ":amount": {"N": image["amount"]["N"]}})


def _ignores_removals(event, context):
    cqrs.project_order({"Records": [r for r in event["Records"] if r["eventName"] != "REMOVE"]}, context)


# (what the write side does, the summaries expected afterwards)
CQRS_STEPS = [
    ("注文 3 件 (alice 1000 円と 2500 円、bob 700 円)", [
        lambda t: cqrs.place_order("check-o1", "check-alice", 1000, table=t),
        lambda t: cqrs.place_order("check-o2", "check-alice", 2500, table=t),
        lambda t: cqrs.place_order("check-o3", "check-bob", 700, table=t),
    ], {"check-alice": {"order_count": 2, "total_amount": 3500, "cancelled_count": 0},
        "check-bob": {"order_count": 1, "total_amount": 700, "cancelled_count": 0}}),
    ("alice の 2500 円をキャンセル (MODIFY)", [
        lambda t: cqrs.cancel_order("check-o2", table=t),
    ], {"check-alice": {"order_count": 1, "total_amount": 1000, "cancelled_count": 1},
        "check-bob": {"order_count": 1, "total_amount": 700, "cancelled_count": 0}}),
    ("bob の注文を削除 (REMOVE)", [
        lambda t: aws.client("dynamodb").delete_item(TableName=t, Key={"order_id": {"S": "check-o3"}}),
    ], {"check-alice": {"order_count": 1, "total_amount": 1000, "cancelled_count": 1},
        "check-bob": {"order_count": 0, "total_amount": 0, "cancelled_count": 0}}),
]


@exercise("05.project_order", "CQRS: 顧客別サマリーのプロジェクター", reference=cqrs.project_order,
          wrong=(_projects_inserts_only, _counts_every_record, _ignores_removals),
          hints=("ストリームのレコードは INSERT / MODIFY / REMOVE の 3 種類です。どれも「サマリーがどれだけ変わるか」"
                 "(件数、金額、キャンセル数の差分) に直して足します。キャンセル (MODIFY) と削除 (REMOVE) は引き算です。",
                 "summary_change(record) が差分の dict (変化がなければ None) を返します。それを "
                 "ddb.update_item(TableName=SUMMARY_TABLE, UpdateExpression=\"ADD order_count :orders, "
                 "total_amount :amount, cancelled_count :cancelled\", ...) で足します (ADD なら読まずに書けます)。"))
def _(candidate):
    for what, _, wanted in CQRS_STEPS:
        uses(what, wanted)
    _probe_stub(candidate)
    provision.ensure_table(cqrs.SUMMARY_TABLE, "customer_id")

    provision.recreate_table(CHECK_ORDERS_TABLE, "order_id", stream="NEW_AND_OLD_IMAGES")
    _forget_check_customers()
    runtime = LocalRuntime()
    runtime.on_stream(CHECK_ORDERS_TABLE, candidate, function_name="project_order", maximum_retry_attempts=0)
    try:
        for what, writes, wanted in CQRS_STEPS:
            for write in writes:
                write(CHECK_ORDERS_TABLE)
            runtime.run_until_quiet()
            errors = _worker_errors(runtime)
            expect(not errors, f"{what}: プロジェクターが例外を送出しました: {errors[:1]}")
            got = _summaries()
            for customer, summary in wanted.items():
                expect(got[customer] == summary,
                       f"{what} のあと {customer} のサマリーは {summary} のはずですが {got[customer]} でした")
    finally:
        _forget_check_customers()
        aws.client("dynamodb").delete_table(TableName=CHECK_ORDERS_TABLE)
