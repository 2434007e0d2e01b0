"""EventBridge Scheduler fired by the runtime clock, with AWS's semantics.

Each case cites the page of the EventBridge Scheduler User Guide / API Reference it follows:
TYPES = https://docs.aws.amazon.com/scheduler/latest/UserGuide/schedule-types.html
FLEX = https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-flexible-time-windows.html
DLQ = https://docs.aws.amazon.com/scheduler/latest/UserGuide/configuring-schedule-dlq.html
CREATE = https://docs.aws.amazon.com/scheduler/latest/APIReference/API_CreateSchedule.html
CONTEXT = https://docs.aws.amazon.com/scheduler/latest/UserGuide/managing-schedule-context-attributes.html
RETRY = https://docs.aws.amazon.com/scheduler/latest/APIReference/API_RetryPolicy.html
"""
import json
from datetime import datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel, SqsModel

from labs.observe import recorder
from labs.runtime import LocalRuntime, clock
from labs.runtime.sources.eventbridge_scheduler import flexible_delay, occurrences
from labs.sandbox import provision

JST = ZoneInfo("Asia/Tokyo")
ROLE = "arn:aws:iam::123456789012:role/scheduler"
OFF = {"Mode": "OFF"}


def create(name, expression, target, **options):
    options.setdefault("FlexibleTimeWindow", OFF)
    return boto3.client("scheduler").create_schedule(
        Name=name, ScheduleExpression=expression, Target={"RoleArn": ROLE, **target}, **options)["ScheduleArn"]


def queue_target(name, **extra):
    url = provision.ensure_queue(name)
    return url, {"Arn": provision.queue_arn(url), **extra}


def bodies(url):
    sqs, found = boto3.client("sqs"), []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, MessageAttributeNames=["All"]).get("Messages"):
        for message in batch:
            found.append(message)
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def next_minute(delta=timedelta(0)):
    now = clock.datetime() + delta
    return (now + timedelta(minutes=1)).replace(second=0, microsecond=0)


def test_a_one_time_schedule_fires_once_at_its_time_in_its_zone_and_can_delete_itself():
    # TYPES "One-time schedules": at(yyyy-mm-ddThh:mm:ss) in ScheduleExpressionTimezone.
    # CREATE ActionAfterCompletion: DELETE removes the schedule after it completes invoking its target.
    url, target = queue_target("reminders", Input='{"remind": "pay"}')
    when = next_minute(timedelta(hours=2)).astimezone(JST)
    create("pay-reminder", f"at({when:%Y-%m-%dT%H:%M:%S})", target, ScheduleExpressionTimezone="Asia/Tokyo",
           ActionAfterCompletion="DELETE")
    runtime = LocalRuntime()
    runtime.on_scheduler()
    runtime.advance(3600)
    assert bodies(url) == []  # 1 hour in: not yet (JST was read as JST, not UTC)
    runtime.advance(2 * 3600)
    assert [json.loads(m["Body"]) for m in bodies(url)] == [{"remind": "pay"}]
    [fired] = recorder.select(kind="schedule")
    assert fired.detail.endswith(when.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ"))
    assert boto3.client("scheduler").list_schedules()["Schedules"] == []
    runtime.advance(86400)
    assert bodies(url) == []


def test_a_rate_schedule_starts_at_once_without_a_start_date_and_at_its_start_date_with_one():
    # TYPES "Rate-based schedules": "If you do not provide a StartDate for a rate-based schedule, your
    # schedule starts invoking its target immediately"; StartDate sets the first occurrence.
    now_url, now_target = queue_target("now")
    later_url, later_target = queue_target("later")
    start = next_minute(timedelta(minutes=30))
    create("every-10", "rate(10 minutes)", now_target)
    create("every-10-later", "rate(10 minutes)", later_target, StartDate=start)
    runtime = LocalRuntime()
    runtime.on_scheduler()
    runtime.deliver_due()
    assert len(bodies(now_url)) == 1
    runtime.advance(25 * 60)
    assert len(bodies(now_url)) == 2 and bodies(later_url) == []
    runtime.advance(20 * 60)
    assert len(bodies(now_url)) == 2 and len(bodies(later_url)) == 2  # at start and start + 10 min


def test_a_jst_cron_fires_at_jst():
    # TYPES "Time zones": cron fields are evaluated in ScheduleExpressionTimezone.
    url, target = queue_target("nightly")
    create("nightly-report", "cron(0 9 * * ? *)", {**target, "Input": "<aws.scheduler.scheduled-time>"},
           ScheduleExpressionTimezone="Asia/Tokyo")
    runtime = LocalRuntime()
    runtime.on_scheduler()
    runtime.advance(3 * 86400)
    times = [datetime.strptime(m["Body"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc) for m in bodies(url)]
    assert len(times) == 3
    assert {t.astimezone(JST).strftime("%H:%M") for t in times} == {"09:00"}
    assert {t.strftime("%H:%M") for t in times} == {"00:00"}  # 09:00 JST is midnight UTC


@pytest.mark.parametrize("expression, day, expected", [
    # TYPES "Daylight saving time": "if a cron expression falls on a non-existent date and time, your
    # schedule invocation is skipped" (clocks jump 02:00 -> 03:00 in New York on 2027-03-14) ...
    ("cron(30 2 * * ? *)", datetime(2027, 3, 14), []),
    ("cron(30 2 * * ? *)", datetime(2027, 3, 15), ["2027-03-15T06:30"]),
    # ... "When the time shifts back ... your schedule runs only once" (01:30 happens twice on 2027-11-07).
    ("cron(30 1 * * ? *)", datetime(2027, 11, 7), ["2027-11-07T05:30"]),
])
def test_daylight_saving_skips_a_missing_time_and_fires_a_repeated_one_once(expression, day, expected):
    definition = {"Arn": "arn:aws:scheduler:ap-northeast-1:123456789012:schedule/default/dst",
                  "ScheduleExpression": expression, "ScheduleExpressionTimezone": "America/New_York"}
    zone = ZoneInfo("America/New_York")
    after, until = day.replace(tzinfo=zone), (day + timedelta(days=1)).replace(tzinfo=zone)
    fired = occurrences(definition, after).fire_times(after, until)
    assert [t.strftime("%Y-%m-%dT%H:%M") for t in fired] == expected


def test_a_rate_in_days_is_24_hours_across_a_clock_change():
    # TYPES "Daylight saving time": for rate(1 days) "EventBridge Scheduler evaluates the rate
    # expression 24 hours after the schedule's last invocation".
    start = datetime(2027, 3, 13, 12, 0, tzinfo=timezone.utc)
    definition = {"Arn": "x", "ScheduleExpression": "rate(1 day)", "ScheduleExpressionTimezone": "America/New_York",
                  "StartDate": start}
    fired = occurrences(definition, start).fire_times(start - timedelta(seconds=1), start + timedelta(days=2))
    assert [b - a for a, b in zip(fired, fired[1:])] == [timedelta(hours=24)] * 2


def test_a_flexible_window_invokes_within_the_window_and_the_same_way_every_run():
    # FLEX: "it invokes the target within 15 minutes after the scheduled time".
    url, target = queue_target("flex", Input="<aws.scheduler.scheduled-time>")
    create("hourly", "rate(1 hour)", target, FlexibleTimeWindow={"Mode": "FLEXIBLE", "MaximumWindowInMinutes": 15})
    runtime = LocalRuntime()
    scheduler = runtime.on_scheduler()
    runtime.advance(6 * 3600)
    moments = [(r.t, r.detail.rsplit(" ", 1)[-1]) for r in recorder.select(kind="schedule")]
    assert len(moments) == 7 and scheduler.parked == 0  # at once, then hourly
    scheduled = [datetime.strptime(m["Body"], "%Y-%m-%dT%H:%M:%SZ") for m in bodies(url)]
    delays = [t - (s - scheduled[0]).total_seconds() for (t, _), s in zip(moments, scheduled)]
    offsets = [d - delays[0] for d in delays]
    assert all(-15 * 60 < o < 15 * 60 for o in offsets) and len(set(round(o) for o in offsets)) > 1
    definition = boto3.client("scheduler").get_schedule(Name="hourly")
    some_time = datetime(2027, 1, 1, tzinfo=timezone.utc)
    assert flexible_delay(definition, some_time) == flexible_delay(definition, some_time)  # the same every run


def test_start_and_end_dates_bound_a_recurring_schedule_and_disabled_fires_nothing():
    # CREATE StartDate / EndDate: the schedule invokes its target only between them; State DISABLED: none.
    url, target = queue_target("bounded")
    off_url, off_target = queue_target("off")
    start = next_minute(timedelta(hours=1))
    create("bounded", "rate(1 hour)", target, StartDate=start, EndDate=start + timedelta(hours=2))
    create("switched-off", "rate(1 hour)", off_target, State="DISABLED")
    runtime = LocalRuntime()
    runtime.on_scheduler()
    runtime.advance(6 * 3600)
    assert len(bodies(url)) == 3  # start, +1 h, +2 h
    assert bodies(off_url) == []


def test_targets_sqs_fifo_sns_eventbridge_and_a_lambda_function_receive_the_input():
    # CREATE Target: Arn, Input, SqsParameters.MessageGroupId, EventBridgeParameters; CONTEXT attributes.
    fifo_url = provision.ensure_queue("jobs", fifo=True, attributes={"ContentBasedDeduplication": "true"})
    topic = provision.ensure_topic("digests")
    topic_inbox = provision.ensure_queue("digest-inbox")
    provision.ensure_subscription(topic, topic_inbox, raw=True)
    provision.ensure_bus("orders-bus")
    bus_inbox = provision.ensure_queue("bus-inbox")
    provision.ensure_rule("orders-bus", "ticks", event_pattern={"source": ["com.myapp.clock"]}, queue_url=bus_inbox)
    seen = []
    runtime = LocalRuntime()
    function_arn = runtime.on_function("cleanup", lambda event, context: seen.append(event))
    create("to-fifo", "rate(1 day)", {"Arn": provision.queue_arn(fifo_url), "Input": "<aws.scheduler.attempt-number>",
                                      "SqsParameters": {"MessageGroupId": "jobs"}})
    create("to-topic", "rate(1 day)", {"Arn": topic, "Input": "digest"})
    bus_arn = boto3.client("events").describe_event_bus(Name="orders-bus")["Arn"]
    create("to-bus", "rate(1 day)", {"Arn": bus_arn, "Input": '{"tick": 1}',
                                     "EventBridgeParameters": {"Source": "com.myapp.clock", "DetailType": "Tick"}})
    create("to-function", "rate(1 day)", {"Arn": function_arn, "Input": '{"older_than_days": 30}'})
    runtime.on_scheduler()
    runtime.run_until_quiet()
    [job] = bodies(fifo_url)
    assert job["Body"] == "1"
    assert [m["Body"] for m in bodies(topic_inbox)] == ["digest"]
    [tick] = bodies(bus_inbox)
    event = EventBridgeModel.model_validate(json.loads(tick["Body"]))
    assert event.detail == {"tick": 1} and event.source == "com.myapp.clock" and event.detail_type == "Tick"
    assert seen == [{"older_than_days": 30}]


def test_an_unreachable_target_is_retried_then_lands_in_the_dlq_with_awss_attributes():
    # RETRY: retries "with exponential backoff" until MaximumRetryAttempts; DLQ: the dead-letter event's
    # message attributes (ERROR_CODE ... TARGET_ARN), the Input as body, EXHAUSTED_RETRY_CONDITION.
    dlq_url = provision.ensure_queue("scheduler-dlq")
    runtime = LocalRuntime()
    missing = runtime.on_function("exists", lambda e, c: None).replace(":exists", ":does-not-exist")
    arn = create("to-nowhere", "rate(1 day)", {"Arn": missing, "Input": '{"n": 1}',
                                               "RetryPolicy": {"MaximumRetryAttempts": 2, "MaximumEventAgeInSeconds": 3600},
                                               "DeadLetterConfig": {"Arn": provision.queue_arn(dlq_url)}})
    runtime.on_scheduler()
    runtime.run_until_quiet()
    [dead] = bodies(dlq_url)
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert dead["Body"] == '{"n": 1}'
    assert attributes["ERROR_CODE"] == "ResourceNotFoundException"
    assert attributes["ERROR_MESSAGE"] == f"Function not found: {missing}"
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumRetryAttempts"
    assert attributes["RETRY_ATTEMPTS"] == "2" and attributes["IS_PAYLOAD_TRUNCATED"] == "false"
    assert attributes["SCHEDULE_ARN"] == arn and attributes["TARGET_ARN"] == missing
    assert set(attributes) == {"ERROR_CODE", "ERROR_MESSAGE", "EXECUTION_ID", "EXHAUSTED_RETRY_CONDITION",
                               "IS_PAYLOAD_TRUNCATED", "RETRY_ATTEMPTS", "SCHEDULED_TIME", "SCHEDULE_ARN", "TARGET_ARN"}
    outcomes = [r.outcome for r in recorder.select(source="to-nowhere")]
    assert outcomes == ["retry", "retry", "dlq"]
    retries = recorder.select(kind="schedule", source="to-nowhere")
    assert round(retries[1].t - retries[0].t) == 60  # backoff doubles: 60 s, then 120 s


def test_the_event_age_limit_ends_retries_first_when_it_is_shorter():
    # RETRY MaximumEventAgeInSeconds: "The maximum amount of time, in seconds, to continue to make retry attempts."
    dlq_url = provision.ensure_queue("scheduler-dlq")
    sqs_target = {"Arn": "arn:aws:sqs:ap-northeast-1:123456789012:deleted-queue", "Input": "x",
                  "RetryPolicy": {"MaximumRetryAttempts": 185, "MaximumEventAgeInSeconds": 300},
                  "DeadLetterConfig": {"Arn": provision.queue_arn(dlq_url)}}
    create("to-deleted-queue", "rate(1 day)", sqs_target)
    runtime = LocalRuntime()
    runtime.on_scheduler()
    runtime.run_until_quiet()
    [dead] = bodies(dlq_url)
    attributes = {k: v["StringValue"] for k, v in dead["MessageAttributes"].items()}
    assert attributes["EXHAUSTED_RETRY_CONDITION"] == "MaximumEventAgeInSeconds"
    assert attributes["ERROR_CODE"] == "AWS.SimpleQueueService.NonExistentQueue"
    assert attributes["RETRY_ATTEMPTS"] == "2"  # retries after 60 s and 120 s; the next (240 s) would be too old


def test_a_function_error_is_lambdas_business_not_the_schedulers():
    # Scheduler invokes Lambda asynchronously (aws-samples/serverless-patterns,
    # eventbridge-schedule-to-lambda-dlq-sam-python/README.md): the invocation succeeds, Lambda retries
    # the function error twice (lambda/latest/dg/invocation-async-error-handling.html), the scheduler DLQ stays empty.
    dlq_url = provision.ensure_queue("scheduler-dlq")
    runtime = LocalRuntime()
    function_arn = runtime.on_function("broken", lambda e, c: 1 / 0)
    create("nightly", "rate(1 day)", {"Arn": function_arn, "Input": "{}",
                                      "DeadLetterConfig": {"Arn": provision.queue_arn(dlq_url)}})
    runtime.on_scheduler()
    runtime.run_until_quiet()
    assert len(runtime.invocations("broken")) == 3
    assert bodies(dlq_url) == []
    assert [r.outcome for r in recorder.select(kind="schedule")] == ["ok"]


def test_schedules_in_a_group_fire_and_a_deleted_schedule_stops():
    # CREATE GroupName: schedules live in schedule groups (default: "default").
    url, target = queue_target("grouped")
    scheduler = boto3.client("scheduler")
    scheduler.create_schedule_group(Name="billing")
    create("invoice", "rate(1 hour)", target, GroupName="billing")
    runtime = LocalRuntime()
    runtime.on_scheduler()
    runtime.advance(3600)
    assert len(bodies(url)) == 2  # at once, then an hour later
    scheduler.delete_schedule(Name="invoice", GroupName="billing")
    runtime.advance(3 * 3600)
    assert bodies(url) == []


def test_a_schedule_the_runtime_cannot_read_is_reported_and_the_others_still_fire():
    url, target = queue_target("fine")
    create("typo", "rate(5 minute)", target)  # moto stores it; AWS would refuse it
    create("fine", "rate(1 hour)", target)
    runtime = LocalRuntime()
    runtime.on_scheduler()
    runtime.advance(3600)
    assert len(bodies(url)) == 2
    [note] = recorder.select(kind="note", target="typo")
    assert note.outcome == "error" and "rate(5 minute)" in note.detail


def test_scheduled_messages_reach_a_queue_consumer_in_lambdas_shape():
    url, target = queue_target("nightly-jobs", Input='{"job": "report"}')
    create("nightly-report", "cron(0 3 * * ? *)", target, ScheduleExpressionTimezone="Asia/Tokyo")
    seen = []
    runtime = LocalRuntime()
    runtime.on_scheduler()
    runtime.on_queue(url, lambda event, context: seen.extend(SqsModel.model_validate(event).Records), function_name="report")
    runtime.advance(2 * 86400)
    assert [json.loads(r.body) for r in seen] == [{"job": "report"}] * 2


def test_the_scheduler_and_a_function_are_sources_and_wiring_again_replaces_them():
    from labs.runtime.sources import Source
    runtime = LocalRuntime()
    runtime.on_function("f", lambda e, c: None)
    runtime.on_function("f", lambda e, c: None)
    first, second = runtime.on_scheduler(), runtime.on_scheduler()
    assert all(isinstance(s, Source) for s in runtime.sources) and len(runtime.sources) == 2
    assert runtime.sources[-1] is second is not first
