"""An asynchronous invocation (EventBridge rule -> Lambda, SNS -> Lambda).

moto cannot target Lambda, so the rule or topic delivers to an internal queue that stands
for Lambda's own event queue: one event per invocation, two retries (after 1 and 2
minutes), then the event goes to the function's failure queue, as an on-failure
destination would take it. Nothing is dropped.
"""
from __future__ import annotations

from typing import Callable

from labs.runtime import recursion, shapes
from labs.runtime.invoke import Invocation, InvocationInterrupted, invoke
from labs.runtime.sources.polling import QueueSource

ASYNC_RETRY_DELAYS = (60, 120)  # seconds before Lambda's 1st and 2nd retry of an async event


class AsyncSource(QueueSource):
    """An asynchronous invocation source (EventBridge rule or SNS subscription)."""

    def __init__(self, queue_url, handler, function_name, shape: Callable[[dict], dict], origin: str, timeout=30):
        super().__init__(queue_url, handler, function_name, batch_size=10, timeout=timeout)
        self.shape = shape
        self.name = origin  # notes name the rule or topic, not the internal queue

    def _deliver(self, messages):
        for index, message in enumerate(messages):  # Lambda invokes once per event
            try:
                call = self._invoke_for(message)
            except InvocationInterrupted as stop:
                # Ctrl-C: this event counts as a failed attempt (retried after its delay); the
                # events not handed over yet go back at once; those done are already deleted.
                self._record_invocation(stop.call, [message], {message["MessageId"]})
                self._park([message])
                self._return_now(messages[index + 1:])
                raise
            failed = set() if call.ok else {message["MessageId"]}
            self._record_invocation(call, [message], failed)
            self._settle([message], failed)  # settled one by one: an interruption never undoes one done
        return len(messages)

    def _invoke_for(self, message: dict) -> Invocation:
        try:
            event = self.shape(shapes.json_body(message["Body"]))
        except ValueError as error:
            return Invocation(self.function_name, {}, error=error)
        except Exception as error:  # e.g. a raw body where an SNS envelope was expected
            return Invocation(self.function_name, {}, error=ValueError(
                f"{self.name} から届いたメッセージの形が想定と違います ({type(error).__name__}: {error})"))
        return invoke(self.handler, event, self.function_name, self.timeout,
                      scope=recursion.carry(recursion.next_lineage([message])))

    def _retry_delay(self, message):
        attempt = int(message["Attributes"].get("ApproximateReceiveCount", 1))
        if attempt > len(ASYNC_RETRY_DELAYS):
            return 0  # retries used up: straight on to the failure queue, as Lambda does
        return ASYNC_RETRY_DELAYS[attempt - 1]
