"""Lesson 08: what AWS added. Checks for a Scheduler schedule, a mapping's FilterCriteria and a FIFO batch handler."""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo

from labs import sandbox
from labs.runtime.schedule_expressions import ScheduleExpressionError
from labs.runtime.sources.eventbridge_scheduler import occurrences
from labs.runtime.sources.filter_criteria import FilterCriteria, FilterCriteriaError
from labs.observe.queues import drain_bodies
from labs.runtime import LocalRuntime
from labs.sandbox import provision
from labs.workbook.checks import expect, exercise, uses

ROLE_ARN = "arn:aws:iam::123456789012:role/scheduler-role"  # any role: the sandbox checks no permissions
JST = ZoneInfo("Asia/Tokyo")

# --- 08.nightly_schedule -----------------------------------------------------------------------


def create_nightly_schedule(name: str, queue_arn: str, dlq_arn: str) -> str:
    """Reference: 03:00 JST every day, at most 3 retries within an hour, then the DLQ."""
    scheduler = sandbox.client("scheduler")
    return scheduler.create_schedule(
        Name=name,
        ScheduleExpression="cron(0 3 * * ? *)",
        ScheduleExpressionTimezone="Asia/Tokyo",
        FlexibleTimeWindow={"Mode": "OFF"},
        Target={
            "Arn": queue_arn,
            "RoleArn": ROLE_ARN,
            "Input": json.dumps({"job": "nightly-report"}),
            "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
            "DeadLetterConfig": {"Arn": dlq_arn},
        },
    )["ScheduleArn"]


def _variant(name, queue_arn, dlq_arn, *, drop=(), **settings):
    """The reference's schedule with some settings changed (``drop``: target keys left out)."""
    target = {"Arn": queue_arn, "RoleArn": ROLE_ARN, "Input": "{}", "DeadLetterConfig": {"Arn": dlq_arn},
              "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600}}
    options = {"ScheduleExpression": "cron(0 3 * * ? *)", "ScheduleExpressionTimezone": "Asia/Tokyo",
               "FlexibleTimeWindow": {"Mode": "OFF"}, **settings}
    options = {k: v for k, v in options.items() if v is not None}
    target = {k: v for k, v in target.items() if k not in drop}
    return sandbox.client("scheduler").create_schedule(Name=name, Target=target, **options)["ScheduleArn"]


def _utc_cron(name, queue_arn, dlq_arn):
    """03:00 written in UTC: the report runs at noon in Tokyo."""
    return _variant(name, queue_arn, dlq_arn, ScheduleExpressionTimezone=None)


def _default_retries(name, queue_arn, dlq_arn):
    """No RetryPolicy: AWS retries 185 times over 24 hours before the DLQ sees anything."""
    return _variant(name, queue_arn, dlq_arn, drop=("RetryPolicy",))


def _no_dlq(name, queue_arn, dlq_arn):
    """Retries, then nothing: the failed event is lost."""
    return _variant(name, queue_arn, dlq_arn, drop=("DeadLetterConfig",))


@exercise("08.nightly_schedule", "EventBridge Scheduler: 毎日 03:00 (日本時間)、再試行 3 回・1 時間まで、その後 DLQ",
          reference=create_nightly_schedule, wrong=(_utc_cron, _default_retries, _no_dlq),
          hints=("日本時間の 03:00 は、cron を UTC に直さなくても、スケジュールにタイムゾーンを付ければそのまま書けます。"
                 "再試行と DLQ はスケジュールではなくターゲットの設定です。",
                 "scheduler.create_schedule の ScheduleExpression (cron は 6 フィールド)、ScheduleExpressionTimezone、"
                 "FlexibleTimeWindow、Target の RetryPolicy (MaximumRetryAttempts, MaximumEventAgeInSeconds) と "
                 "DeadLetterConfig (Arn) を使い、返り値の ScheduleArn を返します。"))
def _(candidate):
    scheduler, name = sandbox.client("scheduler"), "check-08-nightly"
    queue_arn = provision.queue_arn(provision.ensure_queue("check-08-jobs"))
    dlq_arn = provision.queue_arn(provision.ensure_queue("check-08-jobs-dlq"))
    uses("引数", f"create_nightly_schedule({name!r}, キュー check-08-jobs の ARN, キュー check-08-jobs-dlq の ARN)")
    try:
        scheduler.delete_schedule(Name=name)
    except scheduler.exceptions.ResourceNotFoundException:
        pass
    try:
        arn = candidate(name, queue_arn, dlq_arn)
        definition = scheduler.get_schedule(Name=name)
    except scheduler.exceptions.ResourceNotFoundException:
        expect(False, f"スケジュール {name} が作られていません (create_schedule の Name に name を渡してください)")
    finally:
        try:
            scheduler.delete_schedule(Name=name)
        except scheduler.exceptions.ResourceNotFoundException:
            pass
    expect(arn == definition["Arn"], f"create_schedule が返す ScheduleArn を返してください (返り値: {arn!r:.80})")
    target = definition["Target"]
    expect(target["Arn"] == queue_arn, f"Target の Arn はキューの ARN です (設定値: {target['Arn']})")
    try:
        schedule = occurrences(definition, datetime.now(timezone.utc))
    except ScheduleExpressionError as error:
        expect(False, f"スケジュール式を読めません: {error}")
    day = datetime(2027, 4, 1, tzinfo=timezone.utc)
    fired = [t.astimezone(JST).strftime("%H:%M") for t in schedule.fire_times(day, day + timedelta(days=2))]
    expect(fired == ["03:00", "03:00"],
           f"2 日間で日本時間 03:00 に 1 日 1 回ずつ動くはずが {fired} でした。"
           "cron のフィールドは ScheduleExpressionTimezone の時刻で読まれます (既定は UTC)")
    policy = target.get("RetryPolicy") or {}
    expect(policy.get("MaximumRetryAttempts") == 3,
           f"RetryPolicy の MaximumRetryAttempts を 3 にしてください (設定値: {policy.get('MaximumRetryAttempts')}。"
           "既定は 185 回・24 時間で、DLQ に届くのは翌日になります)")
    expect(policy.get("MaximumEventAgeInSeconds") == 3600,
           f"RetryPolicy の MaximumEventAgeInSeconds を 3600 (1 時間) にしてください (設定値: {policy.get('MaximumEventAgeInSeconds')})")
    dlq = (target.get("DeadLetterConfig") or {}).get("Arn")
    expect(dlq == dlq_arn, f"DeadLetterConfig の Arn に DLQ の ARN を設定してください (設定値: {dlq})。"
           "ないと、再試行を使い切ったイベントは失われます")


# --- 08.high_value_filter ----------------------------------------------------------------------


def high_value_filter() -> dict:
    """Reference: only OrderCreated with order.amount >= 10000 invokes the function."""
    pattern = {"body": {"event_type": ["OrderCreated"], "order": {"amount": [{"numeric": [">=", 10000]}]}}}
    return {"Filters": [{"Pattern": json.dumps(pattern)}]}


def _without_body() -> dict:
    """The pattern of an EventBridge rule, not of an SQS mapping: the message is under "body"."""
    return {"Filters": [{"Pattern": json.dumps(
        {"event_type": ["OrderCreated"], "order": {"amount": [{"numeric": [">=", 10000]}]}})}]}


def _numeric_not_in_array() -> dict:
    return {"Filters": [{"Pattern": json.dumps(
        {"body": {"event_type": ["OrderCreated"], "order": {"amount": {"numeric": [">=", 10000]}}}})}]}


def _strictly_greater() -> dict:
    return {"Filters": [{"Pattern": json.dumps(
        {"body": {"event_type": ["OrderCreated"], "order": {"amount": [{"numeric": [">", 10000]}]}}})}]}


def _two_filters() -> dict:
    """Filters are ORed: every OrderCreated, and every order of 10000 or more, gets through."""
    return {"Filters": [{"Pattern": json.dumps({"body": {"event_type": ["OrderCreated"]}})},
                        {"Pattern": json.dumps({"body": {"order": {"amount": [{"numeric": [">=", 10000]}]}}})}]}


_SAMPLES = (  # (body, should the function be invoked?)
    ({"event_type": "OrderCreated", "order": {"order_id": "ORD-1", "amount": 10000}}, True),
    ({"event_type": "OrderCreated", "order": {"order_id": "ORD-2", "amount": 25800.5}}, True),
    ({"event_type": "OrderCreated", "order": {"order_id": "ORD-3", "amount": 9999}}, False),
    ({"event_type": "OrderCancelled", "order": {"order_id": "ORD-4", "amount": 50000}}, False),
    ({"event_type": "OrderCreated", "order": {"order_id": "ORD-5"}}, False),
)


@exercise("08.high_value_filter", "フィルター条件: 10,000 円以上の OrderCreated だけで関数を呼ぶ",
          reference=high_value_filter, wrong=(_without_body, _numeric_not_in_array, _strictly_greater, _two_filters),
          hints=("SQS のマッピングのフィルターは、メッセージの本文 (JSON) を body キーの下で見ます。"
                 "1 つのパターンの中の条件は AND、Filters に並べたパターン同士は OR です。",
                 "{\"Filters\": [{\"Pattern\": json.dumps({\"body\": {...}})}]} の形で、"
                 "数値の比較は [{\"numeric\": [\">=\", 10000]}] のように配列に入れます。"))
def _(candidate):
    uses("試した本文", " / ".join(f"{b['event_type']} {b['order'].get('amount', '(金額なし)')}" for b, _ in _SAMPLES))
    criteria = candidate()
    try:
        compiled = FilterCriteria(criteria, "sqs")
    except FilterCriteriaError as error:
        expect(False, f"Lambda はこの FilterCriteria のマッピングを作りません: {error}")
    arn = "arn:aws:sqs:ap-northeast-1:123456789012:check-08-orders"
    for body, wanted in _SAMPLES:
        record = {"messageId": "m", "body": json.dumps(body), "eventSource": "aws:sqs", "eventSourceARN": arn}
        kept = compiled.keeps(record)
        expect(kept == wanted, f"{json.dumps(body, ensure_ascii=False)} は"
               + ("関数に届くはずが、フィルターで削除されました" if wanted else "削除されるはずが、関数に届きました"))


# --- 08.fifo_batch --------------------------------------------------------------------------------


def handle_fifo_batch(event: dict, apply: Callable[[dict], None]) -> dict:
    """Reference: apply each body in order; at the first failure stop, and report it and everything after it."""
    records = event["Records"]
    for index, record in enumerate(records):
        try:
            apply(json.loads(record["body"]))
        except Exception:
            return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records[index:]]}
    return {"batchItemFailures": []}


def _report_failed_only(event, apply):
    """The standard-queue habit: on FIFO, Lambda deletes the later messages and order breaks."""
    failures = []
    for record in event["Records"]:
        try:
            apply(json.loads(record["body"]))
        except Exception:
            failures.append({"itemIdentifier": record["messageId"]})
    return {"batchItemFailures": failures}


def _report_the_rest_but_keep_going(event, apply):
    """Reports the right ids, but applied the later steps before the failed one was retried."""
    records, failed_at = event["Records"], None
    for index, record in enumerate(records):
        try:
            apply(json.loads(record["body"]))
        except Exception:
            failed_at = index if failed_at is None else failed_at
    if failed_at is None:
        return {"batchItemFailures": []}
    return {"batchItemFailures": [{"itemIdentifier": r["messageId"]} for r in records[failed_at:]]}


def _raise(event, apply):
    """Failing the whole batch keeps order, but applies the earlier steps again on the retry."""
    for record in event["Records"]:
        apply(json.loads(record["body"]))
    return {"batchItemFailures": []}


@exercise("08.fifo_batch", "FIFO と部分バッチレスポンス: 最初の失敗で止め、それ以降をすべて報告する",
          reference=handle_fifo_batch, wrong=(_report_failed_only, _report_the_rest_but_keep_going, _raise),
          hints=("FIFO では、失敗したメッセージより後ろを先に処理すると順序が壊れます。失敗したところで止めます。",
                 "enumerate(event[\"Records\"]) で回し、apply が例外を投げたら、そのレコードから最後までの messageId を "
                 "{\"batchItemFailures\": [{\"itemIdentifier\": ...}, ...]} にして return します。"))
def _(candidate):
    steps = ["created", "paid", "packed", "shipped"]
    uses("バッチ", "ORD-8 の created, paid, packed, shipped (messageId m-0〜m-3、同じ MessageGroupId)。"
         "apply は paid で ConnectionError を投げる")
    event = {"Records": [{"messageId": f"m-{n}", "body": json.dumps({"order_id": "ORD-8", "step": step}),
                          "attributes": {"MessageGroupId": "ORD-8"}} for n, step in enumerate(steps)]}
    applied = []

    def apply(body: dict) -> None:
        if body["step"] == "paid":
            raise ConnectionError("決済サービスが一時的に使えません")
        applied.append(body["step"])

    try:
        result = candidate(event, apply)
    except ConnectionError:
        expect(False, "例外でバッチ全体を失敗させると、成功した created も再試行でもう一度処理されます。"
               "部分バッチレスポンス (batchItemFailures) で返してください")
    expect(applied == ["created"], f"paid が失敗したら、そこで止めます (処理された順: {applied})。"
           "先に進むと、paid より後の手順が paid より先に反映されます")
    reported = [item.get("itemIdentifier") for item in (result or {}).get("batchItemFailures", [])]
    expect(reported == ["m-1", "m-2", "m-3"],
           f"失敗した m-1 と、その後の未処理の m-2, m-3 をすべて報告します (報告: {reported})。"
           "報告しなかったメッセージを Lambda は成功として削除します")
    applied.clear()
    calm = {"Records": [r for r in event["Records"] if "paid" not in r["body"]]}
    result = candidate(calm, apply)
    expect((result or {}).get("batchItemFailures") == [] and applied == ["created", "packed", "shipped"],
           f"失敗がなければ全件を処理し、batchItemFailures は空にします (結果: {result}, 処理: {applied})")


# --- 08.read_failure ------------------------------------------------------------------------------
# An asynchronous invocation that fails every try goes to the function's on-failure destination as an
# invocation record, and to its dead-letter queue as the bare event with RequestID / ErrorCode /
# ErrorMessage attributes (https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html).


class RefundRejected(Exception):
    """The check's refund function fails with this."""


def read_failure(record: dict) -> dict:
    """Reference: the original event and the error, from an on-failure destination's invocation record."""
    context = record["requestContext"]
    if context["condition"] == "Success":
        raise ValueError("condition が Success の記録は成功の記録 (on_success の送信先に届くもの) です")
    error = record["responsePayload"]
    return {"event": record["requestPayload"], "error_type": error["errorType"],
            "error_message": error["errorMessage"], "attempts": context["approximateInvokeCount"]}


def _as_dead_letter(record: dict) -> dict:
    """Reads the record as a DLQ message: the body is taken for the event, the error for an attribute."""
    if record.get("requestContext", {}).get("condition") == "Success":
        raise ValueError("成功の記録")
    attributes = record.get("MessageAttributes", {})
    return {"event": record, "error_type": attributes.get("ErrorCode"), "error_message": attributes.get("ErrorMessage"),
            "attempts": None}


def _response_payload_as_event(record: dict) -> dict:
    answer = read_failure(record)
    return {**answer, "event": record["responsePayload"]}


def _condition_as_error(record: dict) -> dict:
    """condition says why Lambda gave up (RetriesExhausted), not what the function raised."""
    answer = read_failure(record)
    return {**answer, "error_type": record["requestContext"]["condition"]}


def _success_read_as_failure(record: dict) -> dict:
    """An on_success record read as a failure: the function's return value taken for an error."""
    payload = record["responsePayload"] or {}
    return {"event": record["requestPayload"], "error_type": payload.get("errorType"),
            "error_message": payload.get("errorMessage"), "attempts": record["requestContext"]["approximateInvokeCount"]}


_REFUND_BUS, _REFUND_RULE = "check-08-bus", "check-08-refunds"


def _refund(event, context):
    order = event["detail"]
    if order["amount"] > 50000:
        raise RefundRejected(f"{order['orderId']}: 返金の上限 50,000 円を超えています")
    return {"refunded": order["orderId"]}


def _refund_records() -> tuple[dict, dict]:
    """(on-failure record, on-success record) of a real run: ORD-82 fails, ORD-81 succeeds."""
    provision.ensure_bus(_REFUND_BUS)
    provision.ensure_rule(_REFUND_BUS, _REFUND_RULE, event_pattern={"source": ["check.refunds"]})
    failed, succeeded = provision.ensure_queue("check-08-refund-failed"), provision.ensure_queue("check-08-refund-ok")
    for url in (failed, succeeded):  # records of an earlier run (a purge could not be repeated within 60 s)
        drain_bodies(url)
    runtime = LocalRuntime()
    runtime.on_rule(_REFUND_BUS, _REFUND_RULE, _refund, function_name="check-08-refund",
                    on_failure=failed, on_success=succeeded, maximum_retry_attempts=1)
    sandbox.client("events").put_events(Entries=[
        {"EventBusName": _REFUND_BUS, "Source": "check.refunds", "DetailType": "RefundRequested",
         "Detail": json.dumps({"orderId": order_id, "amount": amount})}
        for order_id, amount in (("ORD-81", 3000), ("ORD-82", 80000))])
    runtime.run_until_quiet()
    bodies = [drain_bodies(url) for url in (failed, succeeded)]
    expect(all(len(found) == 1 for found in bodies), f"チェックの準備に失敗しました (記録: {bodies})")
    return bodies[0][0], bodies[1][0]


@exercise("08.read_failure", "失敗時の送信先: 呼び出し記録から元のイベントとエラーを取り出す", reference=read_failure,
          wrong=(_as_dead_letter, _response_payload_as_event, _condition_as_error, _success_read_as_failure),
          hints=("失敗時の送信先に届く本文は、イベントそのものではなく「呼び出し記録」です。"
                 "どのキーに元のイベントが、どのキーに関数のエラーが入っているかを、上で表示した記録で確かめます。",
                 "元のイベントは record[\"requestPayload\"]、エラーは record[\"responsePayload\"] の errorType と errorMessage、"
                 "試した回数は record[\"requestContext\"][\"approximateInvokeCount\"]。condition が \"Success\" なら ValueError です。"))
def _(candidate):
    failure, success = _refund_records()
    uses("失敗の記録", f"ORD-82 (80,000 円) の返金が {RefundRejected.__name__} で 2 回失敗 "
         f"(maximum_retry_attempts=1) した後、on_failure のキューに届いた記録 (キー: {', '.join(failure)})")
    answer = candidate(failure)
    expect(isinstance(answer, dict), f"dict を返してください (返り値: {answer!r:.80})")
    event = answer.get("event")
    expect(event is not failure and event != failure,
           "記録そのものを元のイベントとして返しています。関数の DLQ にはイベントがそのまま届きますが、"
           "失敗時の送信先に届くのは呼び出し記録で、元のイベントは requestPayload にあります")
    expect(event != failure["responsePayload"],
           "responsePayload を元のイベントとして返しています。responsePayload は関数の結果 (失敗ならエラー、成功なら返り値) で、"
           "元のイベントは requestPayload です")
    expect(isinstance(event, dict) and event.get("detail") == {"orderId": "ORD-82", "amount": 80000},
           f"event には Lambda に渡った EventBridge のイベント (detail は ORD-82) を入れます (event: {event!r:.100})")
    expect(answer.get("error_type") != failure["requestContext"]["condition"],
           "error_type が RetriesExhausted になっています。condition は Lambda があきらめた理由で、"
           "関数が投げた例外の型は responsePayload の errorType にあります")
    expect(answer.get("error_type") == "RefundRejected",
           f"error_type は関数が投げた例外の型 RefundRejected です (返り値: {answer.get('error_type')!r})。"
           "ErrorCode / ErrorMessage のメッセージ属性は関数の DLQ に届くもので、失敗時の送信先の記録にはありません")
    expect(answer.get("error_message") == "ORD-82: 返金の上限 50,000 円を超えています",
           f"error_message は例外のメッセージです (返り値: {answer.get('error_message')!r:.80})")
    expect(answer.get("attempts") == 2, f"attempts は試した回数 2 です (返り値: {answer.get('attempts')!r})")
    uses("成功の記録", "ORD-81 (3,000 円) の返金が成功し、on_success のキューに届いた記録 (condition: Success)")
    try:
        wrong = candidate(success)
    except ValueError:
        return
    expect(False, f"condition が Success の記録を失敗として読みました (返り値: {wrong!r:.80})。"
           "これは on_success の送信先に届く成功の記録です。on_failure と on_success を取り違えていないか確かめ、"
           "失敗の記録でなければ ValueError にしてください")
