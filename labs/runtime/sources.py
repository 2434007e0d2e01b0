"""Event sources: what Lambda's pollers and AWS's service integrations do between
the services and your function.

* ``SqsSource``: an SQS event source mapping. Batches, ``ReportBatchItemFailures``,
  the visibility timeout before a retry, and SQS's own RedrivePolicy moving a message
  to the DLQ after ``maxReceiveCount`` receives.
* ``AsyncSource``: an asynchronous invocation (EventBridge rule -> Lambda, SNS -> Lambda).
  moto cannot target Lambda, so the rule or topic delivers to an internal queue that
  stands for Lambda's own event queue: one event per invocation, two retries (after
  1 and 2 minutes), then the event goes to the function's failure queue, as an
  on-failure destination would take it. Nothing is dropped.
* ``StreamSource``: a DynamoDB Streams event source mapping, shard by shard, in order.

Waits (visibility timeouts, retry delays) are *parked*: the message stays invisible in
SQS and is released when the runtime clock reaches its due time, so step-wise runs can
skip the wait (see clock.py) and background runs simply wait it out.
"""
from __future__ import annotations

import json
from typing import Callable

from labs import sandbox
from labs.course import envelopes
from labs.runtime.delivery import ExactDelivery
from labs.observe import recorder
from labs.runtime import shapes
from labs.sandbox.clock import clock
from labs.runtime.context import LambdaContext
from labs.runtime.invoke import Handler, Invocation, invoke

ASYNC_RETRY_DELAYS = (60, 120)  # seconds before Lambda's 1st and 2nd retry of an async event

# Messages waiting out a visibility timeout or retry delay, per queue URL: (due time, message).
# Kept per queue, not per source, so a runtime made again in a later cell releases them too.
_PARKED: dict[str, list[tuple[float, dict]]] = {}


def _forget_parked() -> None:
    for parked in _PARKED.values():  # cleared in place: sources hold these very lists
        parked.clear()


sandbox.on_reset(_forget_parked)


def _queue_name(url_or_arn: str) -> str:
    return url_or_arn.rstrip("/").rsplit("/", 1)[-1].rsplit(":", 1)[-1]


class QueueSource:
    """Receive from a queue, hand over, delete what succeeded, park what failed."""

    kind = "queue"

    def __init__(self, queue_url: str, handler: Handler, function_name: str, batch_size: int, timeout: int):
        if not 1 <= batch_size <= 10:
            raise ValueError(f"このランタイムの batch_size は 1〜10 です (指定値: {batch_size})")
        self.sqs = sandbox.client("sqs")
        self.queue_url = queue_url
        self.queue_name = _queue_name(queue_url)
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.timeout = timeout
        attributes = self.sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["All"])["Attributes"]
        self.queue_arn = attributes["QueueArn"]
        self.visibility_timeout = int(attributes.get("VisibilityTimeout", 30))
        redrive = json.loads(attributes["RedrivePolicy"]) if "RedrivePolicy" in attributes else None
        self.max_receive_count = int(redrive["maxReceiveCount"]) if redrive else None
        self.dead_letter_queue = _queue_name(redrive["deadLetterTargetArn"]) if redrive else None
        self._parked = _PARKED.setdefault(queue_url, [])
        self.invocations: list[Invocation] = []

    # -- the loop body ---------------------------------------------------------------
    def poll(self) -> int:
        """Release what is due, then receive and hand over one batch. Returns invocations made."""
        self._release_due()
        messages = self.sqs.receive_message(
            QueueUrl=self.queue_url,
            MaxNumberOfMessages=self.batch_size,
            MessageAttributeNames=["All"],
            MessageSystemAttributeNames=["All"],
        ).get("Messages", [])
        messages = self._arrange(messages)
        if not messages:
            return 0
        return self._deliver(messages)

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
        done = [m for m in messages if m["MessageId"] not in failed_ids]
        for start in range(0, len(done), 10):
            chunk = done[start:start + 10]
            self.sqs.delete_message_batch(
                QueueUrl=self.queue_url,
                Entries=[{"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(chunk)],
            )
        now = clock.now()
        self._parked.extend((now + self._retry_delay(m), m) for m in messages if m["MessageId"] in failed_ids)

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

    def _record_invocation(self, call: Invocation, messages: list[dict], failed: set[str], source: str) -> None:
        self.invocations.append(call)
        ids = [m["MessageId"] for m in messages]
        if not call.ok:
            outcome, detail = "error", call.describe_error()
        elif failed:
            outcome, detail = "partial", f"{len(failed)}/{len(messages)} 件を再試行へ"
        else:
            outcome, detail = "ok", ""
        recorder.record("invoke", source, self.function_name, outcome, len(messages), detail, ids)


class SqsSource(QueueSource):
    """Lambda's SQS event source mapping."""

    kind = "sqs"

    def __init__(self, queue_url, handler, function_name, batch_size=10, report_batch_item_failures=True, timeout=30,
                 delivery=None):
        super().__init__(queue_url, handler, function_name, batch_size, timeout)
        if timeout > self.visibility_timeout:
            # AWS refuses such a mapping: the batch would become visible while still being processed.
            raise ValueError(
                f"関数のタイムアウト ({timeout} 秒) がキュー {self.queue_name} の可視性タイムアウト "
                f"({self.visibility_timeout} 秒) より長いと、AWS はイベントソースマッピングを作れません。"
                "timeout= を短くするか、可視性タイムアウトを延ばしてください")
        self.report_batch_item_failures = report_batch_item_failures
        # Duplicates and reordering (labs.runtime.delivery); the default is moto's in-order, once-only delivery.
        self.delivery = (delivery or ExactDelivery()).for_queue(
            self.queue_name, self.visibility_timeout, self.max_receive_count)

    def _arrange(self, messages):
        return self.delivery.arrange(messages, self.batch_size, self.function_name)

    def next_due(self):
        return min((d for d in (super().next_due(), self.delivery.next_due()) if d is not None), default=None)

    @property
    def parked(self):
        return super().parked + self.delivery.pending

    def _deliver(self, messages):
        event = shapes.sqs_event(messages, self.queue_arn, sandbox.current().region)
        started = clock.now()
        call = invoke(self.handler, event, self.function_name, self.timeout)
        overran = clock.now() - started > self.visibility_timeout  # SQS let others see the batch meanwhile
        failed = self.failed_ids(call, messages)
        self._record_invocation(call, messages, failed, self.queue_name)
        self._settle([m for m in messages if not self.delivery.is_copy(m)], failed)
        self.delivery.settled(messages, failed, overran)
        return 1

    def failed_ids(self, call: Invocation, messages: list[dict]) -> set[str]:
        """Which messages go back to the queue, by Lambda's rules for SQS batches."""
        every = {m["MessageId"] for m in messages}
        if not call.ok:
            return every  # an exception or a timeout fails the whole batch
        if not self.report_batch_item_failures:
            return set()  # the return value is ignored: the whole batch is deleted
        result = call.result
        if result is None or (isinstance(result, dict) and not result.get("batchItemFailures")):
            return set()  # no failures reported ({'statusCode': 200} is just that)
        items = result.get("batchItemFailures") if isinstance(result, dict) else None
        if not isinstance(items, list):
            call.error = ValueError(f"batchItemFailures の形が不正です: {result!r}")
            return every
        reported = {i.get("itemIdentifier") if isinstance(i, dict) else None for i in items}
        if not reported <= every:
            # An empty, missing or unknown itemIdentifier makes Lambda retry the whole batch.
            call.error = ValueError(f"batchItemFailures に不正な itemIdentifier があります: {sorted(map(str, reported - every))}")
            return every
        return reported


class AsyncSource(QueueSource):
    """An asynchronous invocation source (EventBridge rule or SNS subscription)."""

    kind = "async"

    def __init__(self, queue_url, handler, function_name, shape: Callable[[dict], dict], source: str, timeout=30):
        super().__init__(queue_url, handler, function_name, batch_size=10, timeout=timeout)
        self.shape = shape
        self.source = source

    def _deliver(self, messages):
        failed = set()
        for message in messages:  # Lambda invokes once per event
            try:
                event = self.shape(envelopes.sqs_body(message["Body"]))
            except ValueError as error:
                call = Invocation(self.function_name, {}, error=error)
            except Exception as error:  # e.g. a raw body where an SNS envelope was expected
                call = Invocation(self.function_name, {}, error=ValueError(
                    f"{self.source} から届いたメッセージの形が想定と違います ({type(error).__name__}: {error})"))
            else:
                call = invoke(self.handler, event, self.function_name, self.timeout)
            if not call.ok:
                failed.add(message["MessageId"])
            self._record_invocation(call, [message], failed & {message["MessageId"]}, self.source)
        self._settle(messages, failed)
        return len(messages)

    def _retry_delay(self, message):
        attempt = int(message["Attributes"].get("ApproximateReceiveCount", 1))
        if attempt > len(ASYNC_RETRY_DELAYS):
            return 0  # retries used up: straight on to the failure queue, as Lambda does
        return ASYNC_RETRY_DELAYS[attempt - 1]


class StreamSource:
    """Lambda's DynamoDB Streams event source mapping: shard by shard, in order.

    A failed batch is retried (the iterator does not move) up to ``max_retry_attempts``
    times; then a record of the failed batch goes to the ``on_failure`` queue, as AWS's
    on-failure destination does, and the shard moves on.

    Differences from AWS, chosen for a notebook: AWS's default ``MaximumRetryAttempts`` is -1
    (retry until the records expire, 24 h), here 2; reading always starts at TRIM_HORIZON;
    a failed batch is not bisected (``BisectBatchOnFunctionError``).
    """

    kind = "stream"

    def __init__(self, table_name, handler, function_name, batch_size=100, max_retry_attempts=2,
                 on_failure: str | None = None, timeout=30):
        self.streams = sandbox.client("dynamodbstreams")
        self.table_name = table_name
        self.handler = handler
        self.function_name = function_name
        self.batch_size = batch_size
        self.max_retry_attempts = max_retry_attempts
        self.on_failure = on_failure
        self.timeout = timeout
        table = sandbox.client("dynamodb").describe_table(TableName=table_name)["Table"]
        if "LatestStreamArn" not in table:
            raise ValueError(f"テーブル {table_name} にはストリームが有効になっていません (StreamSpecification)")
        self.stream_arn = table["LatestStreamArn"]
        self._iterators: dict[str, str | None] = {}
        self._attempts: dict[str, int] = {}
        self.invocations: list[Invocation] = []

    def next_due(self) -> float | None:
        return None

    @property
    def parked(self) -> int:
        return 0

    def _shard_iterator(self, shard_id: str) -> str | None:
        if shard_id not in self._iterators:
            self._iterators[shard_id] = self.streams.get_shard_iterator(
                StreamArn=self.stream_arn, ShardId=shard_id, ShardIteratorType="TRIM_HORIZON"
            )["ShardIterator"]
        return self._iterators[shard_id]

    def poll(self) -> int:
        made = 0
        shards = self.streams.describe_stream(StreamArn=self.stream_arn)["StreamDescription"]["Shards"]
        for shard in shards:
            iterator = self._shard_iterator(shard["ShardId"])
            if iterator is None:
                continue
            page = self.streams.get_records(ShardIterator=iterator, Limit=self.batch_size)
            records = page.get("Records", [])
            if not records:
                self._iterators[shard["ShardId"]] = page.get("NextShardIterator")
                continue
            region = sandbox.current().region
            event = {"Records": [shapes.stream_record(r, self.stream_arn, region) for r in records]}
            call = invoke(self.handler, event, self.function_name, self.timeout)
            self.invocations.append(call)
            made += 1
            ids = [r["dynamodb"]["SequenceNumber"] for r in records]
            if call.ok:
                self._attempts.pop(shard["ShardId"], None)
                self._iterators[shard["ShardId"]] = page.get("NextShardIterator")
                recorder.record("invoke", self.table_name, self.function_name, "ok", len(records), "", ids)
                continue
            attempts = self._attempts.get(shard["ShardId"], 0) + 1
            self._attempts[shard["ShardId"]] = attempts
            if attempts <= self.max_retry_attempts:
                recorder.record("invoke", self.table_name, self.function_name, "error", len(records),
                                f"{call.describe_error()} (再試行 {attempts}/{self.max_retry_attempts})", ids)
                continue  # same iterator: the same batch comes again
            self._give_up(shard["ShardId"], ids, call)
            self._iterators[shard["ShardId"]] = page.get("NextShardIterator")
        return made

    def _give_up(self, shard_id: str, sequence_numbers: list[str], call: Invocation) -> None:
        self._attempts.pop(shard_id, None)
        recorder.record("dlq", self.table_name, self.on_failure or "(破棄)", "dlq", len(sequence_numbers),
                        call.describe_error(), sequence_numbers)
        if self.on_failure:
            sqs = sandbox.client("sqs")
            url = sqs.get_queue_url(QueueName=self.on_failure)["QueueUrl"]
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps({
                "requestContext": {"condition": "RetryAttemptsExhausted",
                                   "functionArn": LambdaContext(self.function_name).invoked_function_arn},
                "DDBStreamBatchInfo": {"shardId": shard_id, "streamArn": self.stream_arn,
                                       "startSequenceNumber": sequence_numbers[0],
                                       "endSequenceNumber": sequence_numbers[-1],
                                       "batchSize": len(sequence_numbers)},
                "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
            }))
