"""Where Lambda sends the outcome of an asynchronous invocation, in the records AWS sends.

An asynchronous invocation (EventBridge rule -> Lambda, SNS -> Lambda) that still fails after its
retries, or that grows older than its maximum event age, goes to

* an **on-failure destination** (SQS queue, SNS topic, EventBridge bus or another function) as an
  *invocation record*: ``version``, ``timestamp``, ``requestContext`` (``requestId``,
  ``functionArn``, ``condition`` = ``RetriesExhausted`` / ``EventAgeExceeded``,
  ``approximateInvokeCount``), ``requestPayload`` (the event), ``responseContext``
  (``statusCode``, ``executedVersion``, ``functionError``) and ``responsePayload`` (the error);
* the function's **dead-letter queue** (SQS queue or SNS topic) as the bare event, with message
  attributes ``RequestID``, ``ErrorCode`` and ``ErrorMessage``;
* both, when both are set; and **nowhere** when neither is: Lambda discards the event.

An **on-success destination** gets the same record with ``condition`` = ``Success`` and the
function's return value as ``responsePayload``.

AWS documents the records in lambda/latest/dg/invocation-async-retain-records.html; the exact
shapes here follow recordings made against AWS (localstack/localstack
tests/aws/services/lambda_/test_lambda_destinations.snapshot.json). Stream mappings (DynamoDB
Streams, Kinesis) send their own record, where the records were (``shards.failure_record``).
"""
from __future__ import annotations

import json
import traceback
from dataclasses import dataclass
from datetime import datetime
from typing import Callable

from labs import sandbox
from labs.course.limits import LAMBDA_ASYNC_EVENT_AGE_SECONDS, LAMBDA_ASYNC_RETRY_ATTEMPTS, require_within
from labs.runtime.invoke import Invocation
from labs.sandbox.clock import clock

RECORD_VERSION = "1.0"
EXECUTED_VERSION = "$LATEST"
DLQ_MESSAGE_LIMIT = 1024  # "ErrorMessage ... (truncated to 1 KB)"


# -- the records ---------------------------------------------------------------------------------

def _timestamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S") + f".{moment.microsecond // 1000:03d}Z"


def function_arn(function_name: str, qualified: bool = True) -> str:
    """Async records name ``...:function:NAME:$LATEST``; stream records leave the qualifier off."""
    arn = f"arn:aws:lambda:{sandbox.current().region}:{sandbox.ACCOUNT_ID}:function:{function_name}"
    return f"{arn}:{EXECUTED_VERSION}" if qualified else arn


def error_payload(call: Invocation, request_id: str) -> dict:
    """What the Python runtime reports for a failed invocation (the ``responsePayload``)."""
    if call.timed_out:
        return {"errorType": "Sandbox.Timedout",
                "errorMessage": f"RequestId: {request_id} Error: Task timed out after {call.duration:.2f} seconds"}
    error = call.error
    frames = traceback.format_tb(error.__traceback__)[1:] if error.__traceback__ else []  # not the runtime's own frame
    return {"errorMessage": str(error), "errorType": type(error).__name__, "requestId": request_id,
            "stackTrace": frames}


def invocation_record(condition: str, function_name: str, request_id: str, attempts: int,
                      event, call: Invocation) -> dict:
    """The record an async on-success / on-failure destination receives."""
    response_context = {"statusCode": 200, "executedVersion": EXECUTED_VERSION}
    if call.ok:
        payload = call.result
    else:
        response_context["functionError"] = "Unhandled"
        payload = error_payload(call, request_id)
    return {
        "version": RECORD_VERSION,
        "timestamp": _timestamp(clock.datetime()),
        "requestContext": {"requestId": request_id, "functionArn": function_arn(function_name),
                           "condition": condition, "approximateInvokeCount": attempts},
        "requestPayload": event,
        "responseContext": response_context,
        "responsePayload": payload,
    }


# -- where records go ----------------------------------------------------------------------------

@dataclass(frozen=True)
class Destination:
    """An SQS queue, SNS topic, EventBridge bus or function a record is sent to."""

    kind: str  # "sqs" | "sns" | "events" | "lambda"
    arn: str
    queue_url: str | None = None  # sqs, and lambda (the function's own async event queue)

    @property
    def name(self) -> str:
        return self.arn.rsplit(":", 1)[-1].rsplit("/", 1)[-1]

    def send_record(self, record: dict, success: bool) -> None:
        body = json.dumps(record, ensure_ascii=False, default=str)  # a return value JSON cannot hold: as text
        if self.kind in ("sqs", "lambda"):
            sandbox.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body)
        elif self.kind == "sns":
            sandbox.client("sns").publish(TopicArn=self.arn, Message=body)
        else:  # EventBridge: one event from source "lambda" (aws.amazon.com/blogs/compute/introducing-aws-lambda-destinations)
            outcome = "Success" if success else "Failure"
            sandbox.client("events").put_events(Entries=[{
                "EventBusName": self.arn, "Source": "lambda",
                "DetailType": f"Lambda Function Invocation Result - {outcome}", "Detail": body,
                "Resources": [self.arn, record["requestContext"]["functionArn"]]}])

    def send_dead_letter(self, event, request_id: str, error_message: str) -> None:
        """The event as it was, with Lambda's three attributes (invocation-async-retain-records.html#invocation-dlq)."""
        attributes = {
            "RequestID": {"DataType": "String", "StringValue": request_id},
            "ErrorCode": {"DataType": "Number", "StringValue": "200"},
            "ErrorMessage": {"DataType": "String", "StringValue": error_message[:DLQ_MESSAGE_LIMIT]},
        }
        body = json.dumps(event, ensure_ascii=False)
        if self.kind == "sqs":
            sandbox.client("sqs").send_message(QueueUrl=self.queue_url, MessageBody=body, MessageAttributes=attributes)
        else:
            sandbox.client("sns").publish(TopicArn=self.arn, Message=body, MessageAttributes=attributes)


def destination(target: str, *, allowed: tuple[str, ...], setting: str) -> Destination:
    """A destination from an ARN, a queue URL or a queue name; ``allowed`` kinds only, as AWS allows."""
    kinds = {"sqs": "SQS キュー", "sns": "SNS トピック", "events": "EventBridge バス", "lambda": "関数"}
    if not isinstance(target, str) or not target:
        raise ValueError(f"{setting} には ARN かキューの URL を指定してください (指定値: {target!r})")
    if target.startswith("arn:"):
        kind = target.split(":")[2]
    else:
        kind = "sqs"  # a queue URL or a queue name
    if kind not in allowed:
        raise ValueError(f"{setting} に {kinds.get(kind, kind)} は使えません。使えるのは "
                         f"{', '.join(kinds[k] for k in allowed)} です (指定値: {target})")
    if kind == "sqs":
        sqs = sandbox.client("sqs")
        if target.startswith("arn:"):
            name = target.rsplit(":", 1)[-1]
        else:
            name = target.rstrip("/").rsplit("/", 1)[-1]
        try:
            url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
        except sqs.exceptions.QueueDoesNotExist:
            raise ValueError(f"{setting} のキュー {name} がありません (先に ensure_queue で作ってください)") from None
        if name.endswith(".fifo"):  # invocation-async-retain-records.html: standard queues only
            raise ValueError(f"{setting} に FIFO キューは使えません (AWS は標準キューだけに送ります): {name}")
        arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        return Destination("sqs", arn, url)
    if kind == "lambda":  # the runtime knows functions by their handlers, not by ARN
        raise ValueError(f"{setting} に関数を指定するときは、ARN ではなくハンドラー関数そのものを渡してください: {target}")
    if kind == "events" and ":event-bus/" not in target:
        raise ValueError(f"{setting} には EventBridge バスの ARN (…:event-bus/NAME) を指定してください: {target}")
    return Destination(kind, target)


# -- an async function's settings (EventInvokeConfig and DeadLetterConfig) -------------------------

@dataclass
class AsyncConfig:
    """What AWS's ``PutFunctionEventInvokeConfig`` and a function's ``DeadLetterConfig`` set."""

    maximum_retry_attempts: int = 2
    maximum_event_age_seconds: int = 21600
    on_success: Destination | None = None
    on_failure: Destination | None = None
    dead_letter_queue: Destination | None = None

    def __post_init__(self) -> None:
        self.check_limits(self.maximum_retry_attempts, self.maximum_event_age_seconds)

    @staticmethod
    def check_limits(maximum_retry_attempts: int = 2, maximum_event_age_seconds: int = 21600) -> None:
        require_within("maximum_retry_attempts", maximum_retry_attempts, LAMBDA_ASYNC_RETRY_ATTEMPTS,
                       "Lambda MaximumRetryAttempts is 0-2")
        require_within("maximum_event_age_seconds", maximum_event_age_seconds, LAMBDA_ASYNC_EVENT_AGE_SECONDS,
                       "Lambda MaximumEventAgeInSeconds is 60-21600")

    @classmethod
    def build(cls, *, on_success=None, on_failure=None, dead_letter_queue=None, function_queue: Callable = None,
              **limits) -> "AsyncConfig":
        """From what a learner passes: ARNs, queue URLs or names; a Python function for "another function"."""
        cls.check_limits(**limits)  # before anything is made for a destination
        allowed = {"on_success": ("sqs", "sns", "events", "lambda"), "on_failure": ("sqs", "sns", "events", "lambda"),
                   "dead_letter_queue": ("sqs", "sns")}
        targets = {"on_success": on_success, "on_failure": on_failure, "dead_letter_queue": dead_letter_queue}
        # ARNs and queues first: a refused one must leave nothing made (a function's queue is made)
        resolved = {setting: destination(target, allowed=allowed[setting], setting=setting)
                    for setting, target in targets.items() if target is not None and not callable(target)}
        for setting, target in targets.items():
            if callable(target):
                if "lambda" not in allowed[setting]:
                    raise ValueError(f"{setting} に関数は使えません (SQS キューか SNS トピックです)")
                name = getattr(target, "__name__", "function")
                resolved[setting] = Destination("lambda", function_arn(name, qualified=False), function_queue(target))
        return cls(**resolved, **limits)

    def give_up(self, attempts: int, age_now: float, next_delay: float) -> str | None:
        """Why Lambda stops retrying after ``attempts`` failed tries, or None to retry."""
        if attempts > self.maximum_retry_attempts:
            return "RetriesExhausted"
        if age_now + next_delay > self.maximum_event_age_seconds:
            return "EventAgeExceeded"  # the retry would come too late: the event expires first
        return None

    @property
    def failure_targets(self) -> list[Destination]:
        return [d for d in (self.on_failure, self.dead_letter_queue) if d is not None]

    def failed(self, condition: str, function_name: str, request_id: str, attempts: int, event,
               call: Invocation) -> list[str]:
        """Send a given-up event where it is configured; returns where it went (empty: discarded)."""
        sent = []
        if self.on_failure:
            record = invocation_record(condition, function_name, request_id, attempts, event, call)
            self.on_failure.send_record(record, success=False)
            sent.append(self.on_failure.name)
        if self.dead_letter_queue:
            payload = error_payload(call, request_id)
            message = payload["errorMessage"] or payload["errorType"]  # SQS refuses an empty attribute
            self.dead_letter_queue.send_dead_letter(event, request_id, message)
            sent.append(self.dead_letter_queue.name)
        return sent

    def succeeded(self, function_name: str, request_id: str, attempts: int, event, call: Invocation) -> None:
        if self.on_success:
            record = invocation_record("Success", function_name, request_id, attempts, event, call)
            self.on_success.send_record(record, success=True)
