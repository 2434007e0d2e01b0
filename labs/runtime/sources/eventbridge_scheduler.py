"""EventBridge Scheduler: every schedule made with ``boto3.client("scheduler")``, fired on the runtime clock.

moto stores schedules and never fires them. ``SchedulerSource`` reads them back on every poll
(so the sandbox stays the single truth: a schedule updated, disabled or deleted is seen at
once) and does what EventBridge Scheduler does, as its User Guide describes:

* ``at(yyyy-mm-ddThh:mm:ss)`` fires once; ``rate(...)`` fires at its StartDate, or at once when
  it has none, then every period; ``cron(...)`` fires on its fields read in
  ``ScheduleExpressionTimezone`` (a JST schedule fires at JST; daylight saving: a time that does
  not exist is skipped, a time that happens twice fires once). Recurring schedules fire only
  between StartDate and EndDate; one-time schedules ignore both. (schedule-types.html)
* ``FlexibleTimeWindow`` FLEXIBLE: the target is invoked within ``MaximumWindowInMinutes`` after
  the scheduled time. Where in the window is AWS's choice; here it is a hash of the schedule and
  the time, so a run gives the same invocation times every time. (managing-schedule-flexible-time-windows.html)
* ``State`` DISABLED fires nothing; ``ActionAfterCompletion`` DELETE deletes a one-time schedule
  once its invocation is over (or a recurring one past its EndDate). (API_CreateSchedule.html)
* The target is reached by its ARN: an SQS queue (``SqsParameters.MessageGroupId`` for FIFO), an
  SNS topic, an EventBridge bus (``EventBridgeParameters``), or a Lambda function the runtime
  knows (``runtime.on_function``). Lambda is invoked *asynchronously*: a function error is
  Lambda's business (two retries, then its own failure handling), not Scheduler's.
  ``Input`` is what the target receives, with the context attributes
  (``<aws.scheduler.scheduled-time>`` and its three siblings) filled in. (managing-schedule-context-attributes.html)
* A target that cannot be reached (a deleted queue, an unknown function) is retried with
  exponential backoff until ``RetryPolicy.MaximumRetryAttempts`` or ``MaximumEventAgeInSeconds``
  runs out; then the event goes to ``DeadLetterConfig`` (a standard SQS queue) with the message
  attributes AWS documents: ERROR_CODE, ERROR_MESSAGE, EXECUTION_ID, EXHAUSTED_RETRY_CONDITION,
  IS_PAYLOAD_TRUNCATED, RETRY_ATTEMPTS, SCHEDULED_TIME, SCHEDULE_ARN, TARGET_ARN. (configuring-schedule-dlq.html)
  AWS names no backoff intervals; here they are 1, 2, 4, ... minutes, at most an hour apart.

Nothing fires for the time before a schedule was first seen, as a new schedule on AWS does not
fire for the past. ``runtime.advance(86400)`` lets a day pass.
"""
from __future__ import annotations

import dataclasses
import hashlib
import json
import re
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Callable
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from labs import sandbox
from labs.observe import recorder
from labs.runtime.invoke import Invocation
from labs.runtime.schedule_expressions import (CronSchedule, RateSchedule, Schedule, ScheduleExpressionError,
                                               parse_schedule)
from labs.sandbox.clock import clock

UTC = timezone.utc
_AT = re.compile(r"at\((\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})\)")
FIRST_RETRY_DELAY = 60  # seconds; doubled for each later retry
LONGEST_RETRY_DELAY = 3600
NO_INPUT = "{}"  # a target without Input gets an empty JSON object here (AWS documents no default)


class TargetFailed(Exception):
    """The target refused the event (the code and message the target's service answered)."""

    def __init__(self, code: str, message: str):
        super().__init__(f"{code}: {message}")
        self.code, self.message = code, message


# --- when a schedule fires ------------------------------------------------------------------

@dataclass(frozen=True)
class OneTime(Schedule):
    """``at(...)``: one instant."""

    expression: str
    instant: datetime

    def fire_times(self, after: datetime, until: datetime) -> list[datetime]:
        return [self.instant] if after < self.instant <= until else []


def occurrences(definition: dict, first_seen: datetime) -> Schedule:
    """The fire times of a schedule as ``get_schedule`` returns it. Raises ScheduleExpressionError."""
    expression = definition["ScheduleExpression"]
    zone_name = definition.get("ScheduleExpressionTimezone") or "UTC"
    try:
        zone = ZoneInfo(zone_name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ScheduleExpressionError(
            f"ScheduleExpressionTimezone {zone_name!r} は IANA のタイムゾーン名ではありません (例: Asia/Tokyo)") from None
    if expression.startswith("at("):
        match = _AT.fullmatch(expression)
        if not match:
            raise ScheduleExpressionError(
                f"1 回だけのスケジュールは at(yyyy-mm-ddThh:mm:ss) と書きます ({expression} は読めません)")
        local = datetime(*map(int, match.groups()), tzinfo=zone)
        return OneTime(expression, local.astimezone(UTC))
    parsed = parse_schedule(expression)
    if isinstance(parsed, CronSchedule):
        return dataclasses.replace(parsed, zone=zone)
    assert isinstance(parsed, RateSchedule)
    # Scheduler's first rate invocation is at StartDate, or at once; RateSchedule fires one period
    # after its anchor, so the anchor is set one period earlier.
    start = definition.get("StartDate") or first_seen
    return RateSchedule(expression, parsed.period, start.astimezone(UTC) - parsed.period)


def flexible_delay(definition: dict, scheduled: datetime) -> float:
    """Seconds after the scheduled time the target is invoked (0 when the window is OFF)."""
    window = definition.get("FlexibleTimeWindow") or {}
    if window.get("Mode") != "FLEXIBLE":
        return 0.0
    seconds = int(window["MaximumWindowInMinutes"]) * 60
    digest = hashlib.sha256(f"{definition['Arn']}|{scheduled.isoformat()}".encode()).hexdigest()
    return float(int(digest, 16) % seconds)


def _validate(definition: dict) -> None:
    window = definition.get("FlexibleTimeWindow") or {}
    if window.get("Mode") == "FLEXIBLE" and not 1 <= int(window.get("MaximumWindowInMinutes") or 0) <= 1440:
        raise ScheduleExpressionError(
            "FlexibleTimeWindow が FLEXIBLE なら MaximumWindowInMinutes (1〜1440 分) が要ります")


# --- one schedule, as the source follows it ------------------------------------------------

@dataclass
class Attempt:
    """One invocation of a target (a scheduled time), possibly retried."""

    due: float  # runtime clock
    definition: dict
    scheduled: datetime
    execution_id: str = field(default_factory=lambda: uuid.uuid4().hex[:16])
    number: int = 1  # <aws.scheduler.attempt-number>
    first_try: float | None = None


@dataclass(frozen=True)
class Outcome:
    """One attempt at a target, for tables: which schedule, which scheduled time, what happened."""

    schedule: str
    scheduled: datetime  # UTC
    target: str
    attempt: int
    result: str  # ok | retry | dlq | lost


@dataclass
class Followed:
    definition: dict
    occurrences: Schedule
    after: datetime  # fire times after this instant are still to come
    signature: str
    completed: bool = False  # a one-time schedule whose invocation is over


def _signature(definition: dict) -> str:
    keys = ("ScheduleExpression", "ScheduleExpressionTimezone", "StartDate", "EndDate", "FlexibleTimeWindow")
    return json.dumps({k: definition.get(k) for k in keys}, default=str, sort_keys=True)


class SchedulerSource:
    """EventBridge Scheduler for the whole sandbox (wire it once: ``runtime.on_scheduler()``)."""

    name = "scheduler"
    function_name = "(EventBridge Scheduler)"

    def __init__(self, function_queue: Callable[[str], str | None]):
        self.scheduler = sandbox.client("scheduler")
        self.function_queue = function_queue  # Lambda function name -> its async event queue URL
        self.invocations: list[Invocation] = []  # functions are invoked by their own (async) sources
        self.delivered = 0
        self.outcomes: list[Outcome] = []  # every attempt, in the order made
        self._followed: dict[str, Followed] = {}
        self._unreadable: dict[str, str] = {}  # ARN -> the definition that could not be read
        self._pending: list[Attempt] = []
        self._last = clock.datetime()
        self._read_schedules()

    # -- the Source protocol ---------------------------------------------------------------
    def next_due(self) -> float | None:
        """A flexible window's invocation or a retry; future fire times are not 'due' (see advance())."""
        return min((a.due for a in self._pending), default=None)

    @property
    def parked(self) -> int:
        return len(self._pending)

    def poll(self) -> int:
        """Queue every fire time passed since the last poll, then make the attempts that are due."""
        now = clock.datetime()
        self._read_schedules()
        for arn, followed in list(self._followed.items()):
            self._queue_fire_times(followed, now)
        self._last = now
        made = 0
        while due := sorted((a for a in self._pending if a.due <= clock.now()), key=lambda a: a.due):
            attempt = due[0]
            self._pending.remove(attempt)
            self._attempt(attempt)
            made += 1
        self._delete_completed()
        return made

    # -- reading the sandbox -----------------------------------------------------------------
    def _read_schedules(self) -> None:
        seen = set()
        for page in self.scheduler.get_paginator("list_schedules").paginate():
            for summary in page["Schedules"]:
                definition = self.scheduler.get_schedule(Name=summary["Name"], GroupName=summary["GroupName"])
                definition.pop("ResponseMetadata", None)
                seen.add(definition["Arn"])
                self._follow(definition)
        for arn in set(self._followed) - seen:  # deleted since: nothing more fires
            del self._followed[arn]
        self._pending = [a for a in self._pending if a.definition["Arn"] in seen]

    def _follow(self, definition: dict) -> None:
        arn, signature = definition["Arn"], _signature(definition)
        followed = self._followed.get(arn)
        if followed and followed.signature == signature:
            followed.definition = definition  # State, Target, retry policy: read fresh every time
            return
        if self._unreadable.get(arn) == signature:
            return  # told once already
        # A new or changed schedule was made after the previous poll at the latest.
        first_seen = self._last
        try:
            _validate(definition)
            schedule = occurrences(definition, first_seen)
        except ScheduleExpressionError as error:
            self._unreadable[arn] = signature
            self._followed.pop(arn, None)
            recorder.record("note", self.name, definition["Name"], "error", detail=f"スケジュールを読めません: {error}")
            return
        after = followed.after if followed else first_seen - timedelta(microseconds=1)
        self._followed[arn] = Followed(definition, schedule, after, signature)

    def _queue_fire_times(self, followed: Followed, now: datetime) -> None:
        definition = followed.definition
        times = followed.occurrences.fire_times(followed.after, now)
        followed.after = now
        if definition.get("State", "ENABLED") != "ENABLED":
            return
        if not isinstance(followed.occurrences, OneTime):  # one-time schedules ignore Start/EndDate
            start, end = definition.get("StartDate"), definition.get("EndDate")
            times = [t for t in times if (not start or t >= start) and (not end or t <= end)]
        for scheduled in times:
            invoke_at = scheduled + timedelta(seconds=flexible_delay(definition, scheduled))
            self._pending.append(Attempt(_clock_time(invoke_at), definition, scheduled))

    # -- invoking the target -------------------------------------------------------------------
    def _attempt(self, attempt: Attempt) -> None:
        definition, target = attempt.definition, attempt.definition["Target"]
        attempt.first_try = attempt.first_try if attempt.first_try is not None else attempt.due
        name, when = definition["Name"], attempt.scheduled.strftime("%Y-%m-%dT%H:%M:%SZ")
        payload = _with_context(target.get("Input", NO_INPUT), definition["Arn"], when, attempt)
        try:
            self._deliver(target, payload)
        except TargetFailed as failure:
            self._retry_or_give_up(attempt, failure, payload)
            return
        self.delivered += 1
        self._note(attempt, "ok")
        retry = f" (再試行 {attempt.number - 1} 回目)" if attempt.number > 1 else ""
        recorder.record("schedule", name, _target_name(target["Arn"]), "ok", 1,
                        f"{definition['ScheduleExpression']} → {when}{retry}", [attempt.execution_id], t=attempt.due)
        self._finish(attempt)

    def _deliver(self, target: dict, payload: str) -> None:
        arn = target["Arn"]
        service, resource = arn.split(":")[2], arn.split(":", 5)[-1]
        try:
            if service == "sqs":
                sqs = sandbox.client("sqs")
                url = sqs.get_queue_url(QueueName=resource)["QueueUrl"]
                extra = {}
                if group := (target.get("SqsParameters") or {}).get("MessageGroupId"):
                    extra["MessageGroupId"] = group
                sqs.send_message(QueueUrl=url, MessageBody=payload, **extra)
            elif service == "sns":
                sandbox.client("sns").publish(TopicArn=arn, Message=payload)
            elif service == "events":
                self._put_event(arn, target, payload)
            elif service == "lambda":
                function = resource.removeprefix("function:").split(":")[0]
                queue = self.function_queue(function)
                if queue is None:
                    raise TargetFailed("ResourceNotFoundException", f"Function not found: {arn}")
                sandbox.client("sqs").send_message(QueueUrl=queue, MessageBody=payload)
            else:
                raise TargetFailed("AWS.Scheduler.InternalServerError",
                                   f"このランタイムは {service} のターゲットに対応していません ({arn})")
        except sandbox.client("sqs").exceptions.ClientError as error:
            raise TargetFailed(error.response["Error"]["Code"], error.response["Error"]["Message"]) from None

    @staticmethod
    def _put_event(bus_arn: str, target: dict, payload: str) -> None:
        parameters = target.get("EventBridgeParameters") or {}
        result = sandbox.client("events").put_events(Entries=[{
            "EventBusName": bus_arn, "Source": parameters.get("Source", ""),
            "DetailType": parameters.get("DetailType", ""), "Detail": payload}])
        if result["FailedEntryCount"]:
            entry = result["Entries"][0]
            raise TargetFailed(entry.get("ErrorCode", "InternalFailure"), entry.get("ErrorMessage", ""))

    def _retry_or_give_up(self, attempt: Attempt, failure: TargetFailed, payload: str) -> None:
        definition = attempt.definition
        policy = definition["Target"].get("RetryPolicy") or {}
        retries_made = attempt.number - 1
        delay = min(FIRST_RETRY_DELAY * 2 ** retries_made, LONGEST_RETRY_DELAY)
        if retries_made >= int(policy.get("MaximumRetryAttempts", 185)):
            exhausted = "MaximumRetryAttempts"
        elif attempt.due + delay - attempt.first_try > int(policy.get("MaximumEventAgeInSeconds", 86400)):
            exhausted = "MaximumEventAgeInSeconds"
        else:
            self._note(attempt, "retry")
            recorder.record("schedule", definition["Name"], _target_name(definition["Target"]["Arn"]), "retry", 1,
                            f"{failure} ({delay} 秒後に再試行)", [attempt.execution_id], t=attempt.due)
            self._pending.append(dataclasses.replace(attempt, due=attempt.due + delay, number=attempt.number + 1))
            return
        self._dead_letter(attempt, failure, payload, exhausted)
        self._finish(attempt)

    def _dead_letter(self, attempt: Attempt, failure: TargetFailed, payload: str, exhausted: str) -> None:
        definition = attempt.definition
        dlq_arn = (definition["Target"].get("DeadLetterConfig") or {}).get("Arn")
        name = definition["Name"]
        if not dlq_arn:
            self._note(attempt, "lost")
            recorder.record("dlq", name, "(破棄)", "dlq", 1,
                            f"{failure}: 再試行を使い切りました ({exhausted})。DeadLetterConfig がないのでイベントは失われました",
                            [attempt.execution_id], t=attempt.due)
            return
        attributes = {
            "ERROR_CODE": failure.code, "ERROR_MESSAGE": failure.message, "EXECUTION_ID": attempt.execution_id,
            "EXHAUSTED_RETRY_CONDITION": exhausted, "IS_PAYLOAD_TRUNCATED": "false",
            "RETRY_ATTEMPTS": str(attempt.number - 1),
            "SCHEDULED_TIME": attempt.scheduled.strftime("%Y-%m-%dT%H:%M:%SZ"),
            "SCHEDULE_ARN": definition["Arn"], "TARGET_ARN": definition["Target"]["Arn"],
        }
        sqs = sandbox.client("sqs")
        try:
            url = sqs.get_queue_url(QueueName=dlq_arn.rsplit(":", 1)[-1])["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=payload, MessageAttributes={
                key: {"DataType": "String", "StringValue": value} for key, value in attributes.items()})
        except sqs.exceptions.ClientError as error:  # a missing or FIFO DLQ: say so, never silently
            self._note(attempt, "lost")
            recorder.record("dlq", name, _target_name(dlq_arn), "error", 1,
                            f"DLQ に送れませんでした ({error.response['Error']['Message']})。イベントは失われました",
                            [attempt.execution_id], t=attempt.due)
            return
        self._note(attempt, "dlq")
        recorder.record("dlq", name, _target_name(dlq_arn), "dlq", 1, f"{failure.code} ({exhausted})",
                        [attempt.execution_id], t=attempt.due)

    def _note(self, attempt: Attempt, result: str) -> None:
        self.outcomes.append(Outcome(attempt.definition["Name"], attempt.scheduled,
                                     _target_name(attempt.definition["Target"]["Arn"]), attempt.number, result))

    # -- after the last invocation ----------------------------------------------------------------
    def _finish(self, attempt: Attempt) -> None:
        followed = self._followed.get(attempt.definition["Arn"])
        if followed and isinstance(followed.occurrences, OneTime):
            followed.completed = True

    def _delete_completed(self) -> None:
        """ActionAfterCompletion DELETE: a one-time schedule once invoked, a recurring one past its EndDate."""
        waiting = {a.definition["Arn"] for a in self._pending}
        for arn, followed in list(self._followed.items()):
            definition = followed.definition
            end = definition.get("EndDate")
            done = followed.completed or (
                not isinstance(followed.occurrences, OneTime) and end is not None and followed.after > end)
            if done and arn not in waiting and definition.get("ActionAfterCompletion") == "DELETE":
                self.scheduler.delete_schedule(Name=definition["Name"], GroupName=definition.get("GroupName", "default"))
                del self._followed[arn]
                recorder.record("note", self.name, definition["Name"], "ok",
                                detail="ActionAfterCompletion=DELETE: 完了したスケジュールを削除しました")


def _with_context(text: str, schedule_arn: str, scheduled: str, attempt: Attempt) -> str:
    """Fill in the context attributes EventBridge Scheduler replaces in a target's Input."""
    for keyword, value in (("schedule-arn", schedule_arn), ("scheduled-time", scheduled),
                           ("execution-id", attempt.execution_id), ("attempt-number", str(attempt.number))):
        text = text.replace(f"<aws.scheduler.{keyword}>", value)
    return text


def _target_name(arn: str) -> str:
    return arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


def _clock_time(moment: datetime) -> float:
    """The runtime clock reading at which ``moment`` (a date and time) comes."""
    return clock.now() - (clock.datetime() - moment).total_seconds()
