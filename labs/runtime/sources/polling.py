"""What the SQS and the asynchronous sources share: receive from a queue, hand over,
delete what succeeded, park what failed.

Waits (visibility timeouts, retry delays) are *parked*: the message stays invisible in
SQS and is released when the runtime clock reaches its due time, so step-wise runs can
skip the wait (see labs/sandbox/clock.py) and background runs simply wait it out.
"""
from __future__ import annotations

import json

from botocore.exceptions import ClientError

from labs import sandbox
from labs.observe import recorder
from labs.runtime import recursion
from labs.runtime.invoke import Handler, Invocation
from labs.sandbox.clock import clock


# Messages waiting out a visibility timeout or retry delay, per queue: (due time, message).
# Kept per queue, not per source, so a runtime made again in a later cell releases them too;
# a queue deleted and made again under the same URL is another queue (its creation time tells).
_PARKED: dict[tuple[str, str], list[tuple[float, dict]]] = {}
_forgetting_on_reset = False


def _forget_parked() -> None:
    for parked in _PARKED.values():  # cleared in place: sources hold these very lists
        parked.clear()


def forget_parked_on_reset() -> None:
    """Make sandbox.reset() forget parked messages (their queues are gone). Called by LocalRuntime."""
    global _forgetting_on_reset
    if not _forgetting_on_reset:
        sandbox.on_reset(_forget_parked)
        _forgetting_on_reset = True


def queue_name(url_or_arn: str) -> str:
    return url_or_arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class QueueSource:
    """Receive from a queue, hand over, delete what succeeded, park what failed."""

    def __init__(self, queue_url: str, handler: Handler, function_name: str, batch_size: int, timeout: int):
        if not 1 <= batch_size <= 10:
            raise ValueError(f"このランタイムの batch_size は 1〜10 です (指定値: {batch_size})")
        self.sqs = sandbox.client("sqs")
        self.queue_url = queue_url
        self.queue_name = queue_name(queue_url)
        self.name = self.queue_name
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.timeout = timeout
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        self.queue_arn = attributes["QueueArn"]
        self.visibility_timeout = int(attributes.get("VisibilityTimeout", 30))
        redrive = json.loads(attributes["RedrivePolicy"]) if "RedrivePolicy" in attributes else None
        self.max_receive_count = int(redrive["maxReceiveCount"]) if redrive else None
        self.dead_letter_queue = queue_name(redrive["deadLetterTargetArn"]) if redrive else None
        self._parked = _PARKED.setdefault((queue_url, attributes.get("CreatedTimestamp", "")), [])
        self.invocations: list[Invocation] = []

    # -- the loop body ---------------------------------------------------------------
    def poll(self) -> int:
        """Release what is due, then receive and hand over one batch. Returns invocations made."""
        self._release_due()
        messages = self._arrange(self._receive())
        messages = self._stop_loops(messages)
        if not messages:
            return 0
        return self._deliver(messages)

    def _receive(self) -> list[dict]:
        return self.sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=self.batch_size,
                                        MessageAttributeNames=["All"], MessageSystemAttributeNames=["All"],
                                        ).get("Messages", [])

    def next_due(self) -> float | None:
        return min((due for due, _ in self._parked), default=None)

    @property
    def parked(self) -> int:
        return len(self._parked)

    # -- what subclasses decide -----------------------------------------------------------
    def _arrange(self, messages: list[dict]) -> list[dict]:
        return messages

    def _deliver(self, messages: list[dict]) -> int:
        raise NotImplementedError

    def _retry_delay(self, message: dict) -> float:
        return self.visibility_timeout

    # -- settling a batch -----------------------------------------------------------------
    def _settle(self, messages: list[dict], failed_ids: set[str]) -> None:
        self._delete([m for m in messages if m["MessageId"] not in failed_ids])
        self._park([m for m in messages if m["MessageId"] in failed_ids])

    def _delete(self, messages: list[dict]) -> None:
        for start in range(0, len(messages), 10):
            chunk = messages[start:start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )

    def _park(self, messages: list[dict]) -> None:
        """Invisible until their retry delay has passed on the runtime clock."""
        now = clock.now()
        self._parked.extend((now + self._retry_delay(m), m) for m in messages)

    def _return_now(self, messages: list[dict]) -> None:
        """Received but never handed over (the learner stopped the cell): visible again at once."""
        for message in messages:
            try:
                self.sqs.change_message_visibility(QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"],
                                                   VisibilityTimeout=0)
            except ClientError:
                continue  # visible again anyway

    def _stop_loops(self, messages: list[dict]) -> list[dict]:
        """Lambda's recursive loop detection: a chain past its limit is not invoked again.

        The message goes to the DLQ if the queue has one, else it is dropped, as Lambda does.
        """
        looping = {m["MessageId"]: lineage for m in messages if (lineage := recursion.is_looping(m))}
        if not looping:
            return messages
        stopped = [m for m in messages if m["MessageId"] in looping]
        for message in stopped:
            if self.dead_letter_queue:
                dlq_url = self.sqs.get_queue_url(QueueName=self.dead_letter_queue)["QueueUrl"]
                self.sqs.send_message(QueueUrl=dlq_url, MessageBody=message["Body"],
                                      **({"MessageAttributes": message["MessageAttributes"]}
                                         if message.get("MessageAttributes") else {}))
            note = recursion.stopped_note(self.function_name, looping[message["MessageId"]],
                                          [self.dead_letter_queue] if self.dead_letter_queue else [])
            recorder.record("dlq", self.name, self.dead_letter_queue or "(破棄)", "loop", 1, note, [message["MessageId"]])
        self._delete(stopped)
        return [m for m in messages if m["MessageId"] not in looping]

    def _release_due(self) -> None:
        now = clock.now()
        due = [m for t, m in self._parked if t <= now]
        self._parked[:] = [(t, m) for t, m in self._parked if t > now]
        for message in due:
            try:
                self.sqs.change_message_visibility(
                    QueueUrl=self.queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
            except self.sqs.exceptions.ClientError:
                continue  # its visibility timeout ran out in real time already: visible anyway
            receives = int(message["Attributes"].get("ApproximateReceiveCount", 1))
            if self.max_receive_count and receives >= self.max_receive_count:
                # SQS moves it to the DLQ on the next receive (RedrivePolicy), not the runtime.
                recorder.record("dlq", self.queue_name, self.dead_letter_queue, "dlq", 1,
                                f"受信 {receives} 回 = maxReceiveCount", [message["MessageId"]])

    def _record_invocation(self, call: Invocation, messages: list[dict], failed: set[str]) -> None:
        self.invocations.append(call)
        ids = [m["MessageId"] for m in messages]
        if not call.ok:
            outcome, detail = "error", call.describe_error()
        elif failed:
            outcome, detail = "partial", f"{len(failed)}/{len(messages)} 件を再試行へ"
        else:
            outcome, detail = "ok", ""
        recorder.record("invoke", self.name, self.function_name, outcome, len(messages), detail, ids)
