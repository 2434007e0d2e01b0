"""An asynchronous invocation (EventBridge rule -> Lambda, SNS -> Lambda).

moto cannot target Lambda, so the rule or topic delivers to an internal queue that stands
for Lambda's own event queue: one event per invocation, up to two retries (after 1 and 2
minutes), then the event goes where the function's settings send it
(``labs.runtime.destinations``: on-failure destination and/or DLQ). With neither set,
Lambda discards it, and so does this runtime (and says so in the recorder).
"""
from __future__ import annotations

import time
from typing import Callable

from labs.course import envelopes
from labs.observe import recorder
from labs.runtime import recursion, shapes
from labs.runtime.destinations import AsyncConfig
from labs.runtime.invoke import Invocation, InvocationInterrupted, invoke
from labs.runtime.sources.polling import QueueSource
from labs.sandbox.clock import clock

ASYNC_RETRY_DELAYS = (60, 120)  # seconds before Lambda's 1st and 2nd retry of an async event


class AsyncSource(QueueSource):
    """An asynchronous invocation source (EventBridge rule or SNS subscription)."""

    def __init__(self, queue_url, handler, function_name, shape: Callable[[dict], dict], origin: str, timeout=30,
                 config: AsyncConfig | None = None):
        super().__init__(queue_url, handler, function_name, batch_size=10, timeout=timeout)
        self.shape = shape
        self.name = origin  # notes name the rule or topic, not the internal queue
        self.config = config or AsyncConfig()
        self._queued_at: dict[str, float] = {}  # message id -> when it was queued, on the runtime clock

    def _deliver(self, messages):
        for index, message in enumerate(messages):  # Lambda invokes once per event
            request_id = message["MessageId"]  # one request id through every retry, as on Lambda
            try:
                event, call = self._invoke(message, request_id)
            except InvocationInterrupted as stop:
                # Ctrl-C: this event counts as a failed attempt (retried after its delay); the
                # events not handed over yet go back at once; those done are already deleted.
                self._record_invocation(stop.call, [message], {message["MessageId"]})
                self._park([message])
                self._return_now(messages[index + 1:])
                raise
            attempts = int(message["Attributes"].get("ApproximateReceiveCount", 1))
            failed = set()
            if call.ok:
                self.config.succeeded(self.function_name, request_id, attempts, event, call)
            elif condition := self.config.give_up(attempts, self._age(message), self._retry_delay(message)):
                self._give_up(message, condition, attempts, event, call)
            else:
                failed = {message["MessageId"]}
            if not failed:
                self._queued_at.pop(request_id, None)  # done with: no age to remember
            self._record_invocation(call, [message], failed)
            self._settle([message], failed)  # settled one by one: an interruption never undoes one done
        return len(messages)

    def _invoke(self, message: dict, request_id: str):
        try:
            event = self._event(message)
        except ValueError as error:
            return message["Body"], Invocation(self.function_name, {}, error=error)
        return event, invoke(self.handler, event, self.function_name, self.timeout, request_id=request_id,
                             scope=recursion.carry(recursion.next_lineage([message])))

    def _event(self, message: dict):
        """The event the function is invoked with; ValueError if the message cannot be one."""
        try:
            return self.shape(envelopes.sqs_body(message["Body"]))
        except ValueError:
            raise
        except Exception as error:  # e.g. a raw body where an SNS envelope was expected
            raise ValueError(f"{self.name} から届いたメッセージの形が想定と違います ({type(error).__name__}: {error})") from None

    def _stop_loops(self, messages: list[dict]) -> list[dict]:
        """Lambda's recursive loop detection for an async event: a chain past its limit is not
        invoked again, and the event goes where the function's failed events go.

        AWS: "If a function is invoked by the same triggering event more than 16 times, Lambda will
        stop the next invocation and sends the event to a Dead-Letter Queue or on-failure destination,
        if configured." (aws.amazon.com/about-aws/whats-new/2023/07/aws-lambda-detects-recursive-loops-lambda-functions/)
        """
        looping = {m["MessageId"]: lineage for m in messages if (lineage := recursion.is_looping(m))}
        stopped = [m for m in messages if m["MessageId"] in looping]
        for message in stopped:
            self._stop(message, looping[message["MessageId"]])
        self._delete(stopped)
        return [m for m in messages if m["MessageId"] not in looping]

    def _stop(self, message: dict, lineage: recursion.Lineage) -> None:
        request_id = message["MessageId"]
        try:
            event = self._event(message)
        except ValueError:
            event = message["Body"]  # as _invoke hands such a message to the failure targets
        call = Invocation(self.function_name, event, error=recursion.RecursiveInvocationException())
        invoked = int(message["Attributes"].get("ApproximateReceiveCount", 1)) - 1  # this receive invoked nothing
        sent = self.config.failed(recursion.STOPPED_CONDITION, self.function_name, request_id, invoked, event, call)
        self._queued_at.pop(request_id, None)
        recorder.record("dlq", self.name, ", ".join(sent) or "(破棄)", "loop", 1,
                        recursion.stopped_note(self.function_name, lineage, sent), [request_id])

    def _give_up(self, message: dict, condition: str, attempts: int, event, call: Invocation) -> None:
        sent = self.config.failed(condition, self.function_name, message["MessageId"], attempts, event, call)
        detail = f"{condition} ({attempts} 回呼び出し)"
        if not sent:
            detail += ": 送り先 (on_failure / dead_letter_queue) がないので、AWS と同じく破棄しました"
        recorder.record("dlq", self.name, ", ".join(sent) or "(破棄)", "dlq", 1, detail, [message["MessageId"]])

    def _age(self, message: dict) -> float:
        """Seconds since the event was queued, on the runtime's clock (skipped waits included).

        SentTimestamp is wall time, which knows nothing of skipped waits: the clock reading at
        the first receive, less the real time spent queued, is when the event was queued.
        """
        queued_at = self._queued_at.setdefault(
            message["MessageId"], clock.now() - max(0.0, time.time() - int(message["Attributes"]["SentTimestamp"]) / 1000))
        return clock.now() - queued_at

    def _retry_delay(self, message):
        attempt = int(message["Attributes"].get("ApproximateReceiveCount", 1))
        return ASYNC_RETRY_DELAYS[min(attempt, len(ASYNC_RETRY_DELAYS)) - 1]
