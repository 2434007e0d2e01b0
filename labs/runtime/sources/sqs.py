"""Lambda's SQS event source mapping: batches, ``ReportBatchItemFailures``, the visibility
timeout before a retry, and SQS's own RedrivePolicy moving a message to the DLQ after
``maxReceiveCount`` receives.

Concurrency: each poll hands over as many batches at once as the mapping's
``maximum_concurrency`` (``ScalingConfig.MaximumConcurrency``, 2-1000) allows, one by default.
Batches beyond the function's ``reserved_concurrency`` are throttled: not invoked, they return
to the queue after its visibility timeout, and their receive count has grown.
"""
from __future__ import annotations

from labs import sandbox
from labs.runtime import recursion, shapes
from labs.runtime.delivery import ExactDelivery
from labs.observe import recorder
from labs.runtime.invoke import Invocation, InvocationInterrupted, invoke_concurrently
from labs.runtime.sources.filter_criteria import FilterCriteria
from labs.runtime.sources.polling import QueueSource
from labs.sandbox.clock import clock


# ScalingConfig.MaximumConcurrency's valid range
# (https://docs.aws.amazon.com/lambda/latest/api/API_ScalingConfig.html: "Minimum value of 2. Maximum value of 1000.")
MAXIMUM_CONCURRENCY_RANGE = (2, 1000)


class MalformedBatchResponse(ValueError):
    """The handler's partial batch response is not a shape Lambda accepts: the whole batch fails."""


class SqsSource(QueueSource):
    """Lambda's SQS event source mapping."""

    def __init__(self, queue_url, handler, function_name, batch_size=10, report_batch_item_failures=True, timeout=30,
                 delivery=None, filter_criteria: dict | None = None, maximum_concurrency: int | None = None,
                 reserved_concurrency: int | None = None):
        # Checked before anything else, as Lambda refuses such a mapping at once.
        self.maximum_concurrency = valid_maximum_concurrency(maximum_concurrency)
        self.reserved_concurrency = valid_reserved_concurrency(reserved_concurrency)
        super().__init__(queue_url, handler, function_name, batch_size, timeout)
        # Compiled before anything else: Lambda refuses a mapping with a bad filter at once.
        self.filter_criteria = FilterCriteria(filter_criteria, "sqs") if filter_criteria is not None else None
        self.filtered = 0  # messages deleted because no filter matched them
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

    @property
    def concurrency(self) -> int:
        """How many batches one poll hands over at once (the runtime's model of Lambda's pollers)."""
        return self.maximum_concurrency or 1

    def poll(self):
        """Receive up to ``concurrency`` batches and hand them over at once. A batch the filters
        emptied invokes nothing: receive again, until an invocation or an empty queue."""
        while True:
            filtered_before = self.filtered
            self._release_due()
            batches = self._receive_batches()
            if batches:
                return self._deliver_batches(batches)
            if self.filtered == filtered_before:
                return 0

    def _receive_batches(self) -> list[list[dict]]:
        batches = []
        for _ in range(self.concurrency):
            received = self._receive()
            messages = self._stop_loops(self._arrange(received))
            if messages:
                batches.append(messages)
            if not received:
                break
        return batches

    def _arrange(self, messages):
        return self.delivery.arrange(self._delete_unmatched(messages), self.batch_size, self.function_name)

    def _delete_unmatched(self, messages: list[dict]) -> list[dict]:
        """Lambda deletes a message no filter matches, without invoking the function.

        AWS (lambda/latest/dg/invocation-eventfiltering.html): "If a message doesn't satisfy your
        filter criteria, Lambda automatically removes the message from your queue."
        """
        if self.filter_criteria is None or not messages:
            return messages
        region = sandbox.current().region
        kept = [m for m in messages if self.filter_criteria.keeps(shapes.sqs_record(m, self.queue_arn, region))]
        dropped = [m for m in messages if m not in kept]
        if dropped:
            self.filtered += len(dropped)
            self._settle(dropped, failed_ids=set())  # settling with no failures deletes them
            recorder.record("filter", self.name, self.function_name, "ignored", len(dropped),
                            "フィルターに合わず削除 (関数は呼ばれません)", [m["MessageId"] for m in dropped])
        return kept

    def next_due(self):
        return min((d for d in (super().next_due(), self.delivery.next_due()) if d is not None), default=None)

    @property
    def parked(self):
        return super().parked + self.delivery.pending

    def _deliver_batches(self, batches: list[list[dict]]) -> int:
        """Invoke the function for the batches at once; those beyond reserved concurrency are throttled."""
        room = len(batches) if self.reserved_concurrency is None else self.reserved_concurrency
        for batch in batches[room:]:
            self._throttle(batch)
        batches = batches[:room]
        if not batches:
            return 0
        region = sandbox.current().region
        events = [(shapes.sqs_event(messages, self.queue_arn, region),
                   recursion.carry(recursion.next_lineage(messages))) for messages in batches]
        started = clock.now()
        try:
            calls = invoke_concurrently(self.handler, events, self.function_name, self.timeout)
        except InvocationInterrupted as stop:  # Ctrl-C: the batches return after their visibility timeout
            for messages, call in zip(batches, stop.calls):
                self._record_invocation(call, messages, {m["MessageId"] for m in messages})
                self._park(self._originals(messages))
            raise
        overran = clock.now() - started > self.visibility_timeout  # SQS let others see the batch meanwhile
        for messages, call in zip(batches, calls):
            failed = self.failed_ids(call, messages)
            self._record_invocation(call, messages, failed)
            self._settle(self._originals(messages), failed)
            self.delivery.settled(messages, failed, overran)
        return len(calls)

    def _originals(self, messages: list[dict]) -> list[dict]:
        """The messages SQS really holds (not the copies the delivery model hands over again)."""
        return [m for m in messages if not self.delivery.is_copy(m)]

    def _throttle(self, messages: list[dict]) -> None:
        """No instance free within reserved concurrency: Lambda does not invoke, and the messages
        return to the queue once the visibility timeout has passed (their receive count grew).

        AWS (lambda/latest/operatorguide/sqs-retries.html): "If the invocation fails due to throttling,
        ... Lambda continues to retry the message until the message's timestamp exceeds your queue's
        visibility timeout, at which point Lambda drops the message" (back to the queue).
        """
        recorder.record("invoke", self.name, self.function_name, "throttled", len(messages), (
            f"スロットリング: 予約された同時実行数 {self.reserved_concurrency} を使い切っているので呼び出しません。"
            f"メッセージは可視性タイムアウト ({self.visibility_timeout} 秒) の後にキューへ戻り、受信回数が増えます"),
            [m["MessageId"] for m in messages])
        self._park(self._originals(messages))
        self.delivery.settled(messages, {m["MessageId"] for m in messages}, overran=False)  # a copy counts a try

    def failed_ids(self, call: Invocation, messages: list[dict]) -> set[str]:
        """Which messages go back to the queue, by Lambda's rules for SQS batches."""
        every = {m["MessageId"] for m in messages}
        if not call.ok:
            return every  # an exception, an exit or a timeout fails the whole batch
        if not self.report_batch_item_failures:
            return set()  # the return value is ignored: the whole batch is deleted
        try:
            return reported_failures(call.result, every)
        except MalformedBatchResponse as error:
            call.error = error
            return every


def reported_failures(response, every: set[str]) -> set[str]:
    """The message ids a partial batch response reports, by Lambda's rules.

    Success: no response, an empty one, or ``batchItemFailures`` null or empty (a response
    without it, e.g. ``{"statusCode": 200}``, is one with it null). Whole-batch failure
    (raised as MalformedBatchResponse): anything that is not that shape, and an empty, null,
    unknown or misnamed ``itemIdentifier``.
    (https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html)
    """
    if response is None:
        return set()
    if not isinstance(response, dict):
        raise MalformedBatchResponse(
            f"部分バッチレスポンスの形が不正です: {{\"batchItemFailures\": [...]}} の形の dict のはずが "
            f"{type(response).__name__} ({response!r:.60}) でした。Lambda はバッチ全体を失敗として扱います")
    items = response.get("batchItemFailures")
    if items is None or items == []:
        return set()
    if not isinstance(items, list):
        raise MalformedBatchResponse(
            f"batchItemFailures の形が不正です: リストのはずが {type(items).__name__} {items!r:.60} でした。"
            "Lambda はバッチ全体を失敗として扱います")
    reported = set()
    for item in items:
        identifier = item.get("itemIdentifier") if isinstance(item, dict) else None
        if not isinstance(identifier, str) or identifier not in every:
            raise MalformedBatchResponse(
                f"batchItemFailures に不正な itemIdentifier があります: {item!r:.80} は "
                f"{{\"itemIdentifier\": このバッチの messageId}} ではありません (空・null・知らない ID・キー名の誤り)。"
                "Lambda はバッチ全体を失敗として扱います")
        reported.add(identifier)
    return reported


def valid_maximum_concurrency(value) -> int | None:
    """ScalingConfig.MaximumConcurrency: None (not set) or 2-1000, as CreateEventSourceMapping accepts."""
    low, high = MAXIMUM_CONCURRENCY_RANGE
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise ValueError(
            f"maximum_concurrency (ScalingConfig の MaximumConcurrency) は {low}〜{high} の整数です "
            f"(指定値: {value!r}。AWS は範囲外の値でマッピングを作りません) "
            f"(MaximumConcurrency must be an integer from {low} to {high})")
    return value


def valid_reserved_concurrency(value) -> int | None:
    """The function's reserved concurrency (PutFunctionConcurrency): None (not reserved) or 0 and up."""
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ValueError(f"reserved_concurrency (予約された同時実行数) は 0 以上の整数です (指定値: {value!r}) "
                         "(reserved concurrency must be an integer >= 0)")
    return value
