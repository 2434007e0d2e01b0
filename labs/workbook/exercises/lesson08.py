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
from labs.sandbox import provision
from labs.workbook.checks import expect, exercise

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
          reference=create_nightly_schedule, wrong=(_utc_cron, _default_retries, _no_dlq))
def _(candidate):
    scheduler, name = sandbox.client("scheduler"), "check-08-nightly"
    queue_arn = provision.queue_arn(provision.ensure_queue("check-08-jobs"))
    dlq_arn = provision.queue_arn(provision.ensure_queue("check-08-jobs-dlq"))
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
          reference=high_value_filter, wrong=(_without_body, _numeric_not_in_array, _strictly_greater, _two_filters))
def _(candidate):
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
          reference=handle_fifo_batch, wrong=(_report_failed_only, _report_the_rest_but_keep_going, _raise))
def _(candidate):
    steps = ["created", "paid", "packed", "shipped"]
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
