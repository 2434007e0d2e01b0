"""EventBridge Pipes, run: source → filter → enrichment → target, every step recorded.

moto stores what ``boto3.client("pipes").create_pipe(...)`` is given and runs nothing. The
runtime reads the pipe back with ``describe_pipe`` (so the sandbox stays the single truth,
and ``stop_pipe`` / ``update_pipe`` take effect) and does what the Pipes service does
(AWS: eventbridge/latest/userguide/eb-pipes.html and the pages named below):

* **Source**: an SQS queue (``PipeQueueSource``: receive, delete on success, and on failure
  the message comes back after its visibility timeout and goes to *the queue's* DLQ by its
  RedrivePolicy), or a Kinesis / DynamoDB stream (``PipeStreamSource``: checkpoints per shard,
  retries, ``AUTOMATIC_BISECT``, and *the pipe's* ``DeadLetterConfig``; see ``shards.py``).
  eb-pipes-error-troubleshooting.html: "A pipe inherits dead-letter queue (DLQ) behavior
  from the source."
* **Filter** (``FilterCriteria``, eb-pipes-event-filtering.html): the same compiler as event
  buses and Lambda mappings; an SQS message no filter keeps is *deleted*, a stream record is
  skipped.
* **Enrichment**: a Lambda function (a handler you give the runtime), called with the batch
  (a list); what it returns *replaces* the events. An empty answer (``[]``, ``{}``, ``""``)
  stops the batch there: nothing reaches the target (eb-pipes.html "Filtering events using
  enrichment").
* **Target**: an EventBridge bus, an SQS queue, an SNS topic (one entry / message per event),
  a Lambda function (the whole batch in one call; ``batchItemFailures`` retries only those),
  or a Step Functions state machine (started with the batch, not waited for).
* **Input templates** on enrichment and target (``labs.runtime.input_template``).
"""
from __future__ import annotations

import json
import uuid

from labs import sandbox
from labs.observe import recorder
from labs.runtime import input_template, shapes
from labs.runtime.invoke import Invocation, invoke
from labs.runtime.sources.filter_criteria import FilterCriteria
from labs.runtime.sources.polling import QueueSource
from labs.runtime.sources.shards import (DynamoDBStreamReader, KinesisReader, Outcome, ShardPoller, StreamPolicy,
                                         failure_destination, failure_record)
from labs.sandbox.clock import clock

# The most events a target takes in one call (eb-pipes-batching-concurrency.html); None: the whole batch.
TARGET_BATCH_LIMITS = {"events": 10, "sqs": 10, "sns": 10, "lambda": None, "states": None}
SOURCE_PARAMETERS = {"sqs": "SqsQueueParameters", "kinesis": "KinesisStreamParameters",
                     "dynamodb": "DynamoDBStreamParameters"}
SOURCE_BATCH_DEFAULTS = {"sqs": 10, "kinesis": 100, "dynamodb": 100}


class PipeError(ValueError):
    """The pipe cannot run as configured (Japanese, for the learner)."""


class TargetFailed(RuntimeError):
    """The target function failed (its error, as the invocation describes it)."""


def service_of(arn: str) -> str:
    """``sqs``, ``kinesis``, ``dynamodb``, ``events``, ``sns``, ``lambda``, ``states`` ... from an ARN."""
    parts = arn.split(":")
    if len(parts) < 6 or parts[0] != "arn":
        raise PipeError(f"ARN ではありません: {arn!r}")
    return parts[2]


def resource_name(arn: str) -> str:
    """The last part of an ARN (queue, topic, function, bus, state machine, stream or table name)."""
    tail = arn.split(":", 5)[5]
    if tail.startswith(("table/", "stream/", "event-bus/")):
        return tail.split("/")[1]
    return tail.rsplit(":", 1)[-1].rsplit("/", 1)[-1]


class Pipe:
    """One pipe as described by the sandbox, and the steps it runs on a batch of source records."""

    def __init__(self, name: str, functions: dict | None = None):
        self.name = name
        self.functions = dict(functions or {})
        self.invocations: list[Invocation] = []
        self._modified = None
        self.refresh()

    # -- reading the pipe back ---------------------------------------------------------------------
    def refresh(self) -> bool:
        """Read the pipe again (it may have been stopped, updated or deleted). False: it is gone."""
        pipes = sandbox.client("pipes")
        try:
            described = pipes.describe_pipe(Name=self.name)
        except pipes.exceptions.NotFoundException:
            if self._modified is None:
                raise PipeError(f"パイプ {self.name} がありません (create_pipe で作ってください)") from None
            self.running = False
            return False
        self.running = described.get("DesiredState", "RUNNING") == "RUNNING"
        if described["LastModifiedTime"] != self._modified:
            self._configure(described)
            self._modified = described["LastModifiedTime"]
        return True

    def _configure(self, described: dict) -> None:
        self.arn = described["Arn"]
        self.source = described["Source"]
        self.source_kind = service_of(self.source)
        if self.source_kind not in SOURCE_PARAMETERS:
            raise PipeError(f"このランタイムが動かせるパイプのソースは SQS・Kinesis・DynamoDB Streams です ({self.source})")
        source_parameters = described.get("SourceParameters") or {}
        self.source_parameters = source_parameters.get(SOURCE_PARAMETERS[self.source_kind]) or {}
        criteria = source_parameters.get("FilterCriteria")
        self.filter = (FilterCriteria(criteria, self.source_kind, sqs_metadata=True)
                       if criteria and criteria.get("Filters") else None)
        self.enrichment = described.get("Enrichment") or None
        self.enrichment_template = (described.get("EnrichmentParameters") or {}).get("InputTemplate")
        if self.enrichment and service_of(self.enrichment) != "lambda":
            raise PipeError(f"このランタイムのエンリッチメントは Lambda 関数だけです ({self.enrichment})")
        self.target = described["Target"]
        self.target_kind = service_of(self.target)
        if self.target_kind not in TARGET_BATCH_LIMITS:
            raise PipeError(f"このランタイムが動かせるターゲットは EventBridge バス・SQS・SNS・Lambda・Step Functions です "
                            f"({self.target})")
        self.target_parameters = described.get("TargetParameters") or {}
        self.target_template = self.target_parameters.get("InputTemplate")
        for arn in (self.enrichment, self.target if self.target_kind == "lambda" else None):
            if arn and resource_name(arn) not in self.functions:
                raise PipeError(f"関数 {resource_name(arn)} のハンドラーがありません: "
                                f"functions={{{resource_name(arn)!r}: ハンドラー}} を渡してください")
        self.batch_size = self._batch_size()

    def _batch_size(self) -> int:
        """The source's BatchSize, within what the target takes (AWS refuses more at CreatePipe)."""
        limit = TARGET_BATCH_LIMITS[self.target_kind]
        default = SOURCE_BATCH_DEFAULTS[self.source_kind]
        size = int(self.source_parameters.get("BatchSize", min(default, limit or default)))
        if limit is not None and size > limit:
            raise PipeError(f"ターゲット {resource_name(self.target)} は 1 回に {limit} 件までです: "
                            f"BatchSize {size} のパイプは作れません (eb-pipes-batching-concurrency)")
        return size

    @property
    def variables(self) -> dict[str, str]:
        return {"pipe-arn": self.arn, "pipe-name": self.name, "source-arn": self.source,
                "enrichment-arn": self.enrichment or "", "target-arn": self.target,
                "event.ingestion-time": clock.datetime().isoformat(timespec="seconds").replace("+00:00", "Z")}

    # -- the steps ----------------------------------------------------------------------------------
    def keeps(self, record: dict) -> bool:
        return self.filter is None or self.filter.keeps(record)

    def run(self, records: list[dict], ids: list[str]) -> set[str]:
        """Enrich and deliver ``records``; the ids (of ``ids``) that failed. Every step is recorded."""
        events: list = records
        if self.enrichment:
            events = self._enrich(records, ids)
            if events is None:
                return set(ids)
            if not events:
                recorder.record("note", self.name, resource_name(self.enrichment), "ignored", len(ids),
                                "エンリッチメントが空を返したのでターゲットは呼ばれません", ids)
                return set()
        try:
            payloads = [self._template(self.target_template, event) for event in events]
            return self._deliver(payloads, events, ids)
        except Exception as error:  # a target that refuses or fails: the whole batch comes again
            detail = str(error) if isinstance(error, TargetFailed) else f"{type(error).__name__}: {error}"
            recorder.record("deliver", self.name, resource_name(self.target), "error", len(ids), detail, ids)
            return set(ids)

    def _template(self, template: str | None, event):
        return event if template is None else input_template.render(template, event, self.variables)

    def _enrich(self, records: list[dict], ids: list[str]) -> list | None:
        """Call the enrichment with the batch; its answer is the new batch (None: it failed)."""
        function = resource_name(self.enrichment)
        try:
            payload = [self._template(self.enrichment_template, r) for r in records]
        except input_template.TemplateError as error:
            recorder.record("invoke", self.name, function, "error", len(ids), str(error), ids)
            return None
        call = invoke(self.functions[function], payload, function)
        self.invocations.append(call)
        recorder.record("invoke", self.name, function, "ok" if call.ok else "error", len(ids),
                        call.describe_error(), ids)
        if not call.ok:
            return None
        result = call.result
        if result in (None, "", {}, []):
            return []
        return result if isinstance(result, list) else [result]

    def _deliver(self, payloads: list, events: list, ids: list[str]) -> set[str]:
        target = resource_name(self.target)
        failed = getattr(self, f"_to_{self.target_kind}")(payloads, events, ids)
        outcome = "ok" if not failed else "error" if failed == set(ids) else "partial"
        recorder.record("deliver", self.name, target, outcome, len(payloads),
                        f"{len(failed)}/{len(ids)} 件を再試行へ" if failed else "", ids)
        return failed

    # -- targets ------------------------------------------------------------------------------------
    def _to_sqs(self, payloads, events, ids) -> set[str]:
        sqs = sandbox.client("sqs")
        url = sqs.get_queue_url(QueueName=resource_name(self.target))["QueueUrl"]
        fifo = self.target_parameters.get("SqsQueueParameters") or {}
        entries = []
        for i, (payload, event) in enumerate(zip(payloads, events)):
            entry = {"Id": str(i), "MessageBody": _text(payload)}
            for key in ("MessageGroupId", "MessageDeduplicationId"):
                if key in fifo:
                    entry[key] = str(_dynamic(fifo[key], event))
            entries.append(entry)
        answer = sqs.send_message_batch(QueueUrl=url, Entries=entries)
        return set(ids) if answer.get("Failed") else set()

    def _to_sns(self, payloads, events, ids) -> set[str]:
        sns = sandbox.client("sns")
        for payload in payloads:
            sns.publish(TopicArn=self.target, Message=_text(payload))
        return set()

    def _to_events(self, payloads, events, ids) -> set[str]:
        """One entry per event; without EventBridgeEventBusParameters, AWS names the pipe and the source
        (source "Pipe <name>", detail-type "Event from aws:sqs": an event a pipe put on a bus, recorded
        on AWS in OrcaBus's integration tests)."""
        parameters = self.target_parameters.get("EventBridgeEventBusParameters") or {}
        entries = []
        for payload, event in zip(payloads, events):
            if not isinstance(payload, dict):
                raise PipeError(f"EventBridge バスに送る detail は JSON オブジェクトです (届いた値: {payload!r:.60})。"
                                "入力テンプレートを {...} の形にしてください")
            entries.append({"EventBusName": self.target, "Source": parameters.get("Source", f"Pipe {self.name}"),
                            "DetailType": parameters.get("DetailType", f"Event from aws:{self.source_kind}"),
                            "Detail": json.dumps(payload, ensure_ascii=False), "Resources": parameters.get("Resources", [])})
        answer = sandbox.client("events").put_events(Entries=entries)
        return set(ids) if answer.get("FailedEntryCount") else set()

    def _to_lambda(self, payloads, events, ids) -> set[str]:
        """The whole batch in one call; ``batchItemFailures`` (messageId / eventID) retries only those."""
        function = resource_name(self.target)
        call = invoke(self.functions[function], payloads, function)
        self.invocations.append(call)
        if not call.ok:
            raise TargetFailed(call.describe_error())
        items = call.result.get("batchItemFailures") if isinstance(call.result, dict) else None
        if not items:
            return set()
        reported = {i.get("itemIdentifier") if isinstance(i, dict) else None for i in items}
        return reported & set(ids) if reported <= set(ids) else set(ids)

    def _to_states(self, payloads, events, ids) -> set[str]:
        """A standard workflow is started and not waited for (eb-pipes.html "Invocation types")."""
        sandbox.client("stepfunctions").start_execution(
            stateMachineArn=self.target, name=str(uuid.uuid4()), input=json.dumps(payloads, ensure_ascii=False))
        return set()


class PipeQueueSource(QueueSource):
    """A pipe whose source is an SQS queue."""

    def __init__(self, pipe: Pipe):
        if not 1 <= pipe.batch_size <= 10:
            raise PipeError(f"このランタイムでは SQS ソースの BatchSize は 1〜10 です (パイプ {pipe.name}: {pipe.batch_size})")
        sqs = sandbox.client("sqs")
        url = sqs.get_queue_url(QueueName=resource_name(pipe.source))["QueueUrl"]
        super().__init__(url, handler=None, function_name=pipe.name, batch_size=pipe.batch_size, timeout=300)
        self.pipe = pipe
        self.invocations = pipe.invocations

    def poll(self) -> int:
        if not self.pipe.refresh() or not self.pipe.running:
            return 0  # a stopped pipe leaves the messages in the queue
        return super().poll()

    def _deliver(self, messages: list[dict]) -> int:
        records = [shapes.sqs_record(m, self.queue_arn, sandbox.current().region) for m in messages]
        kept = [(m, r) for m, r in zip(messages, records) if self.pipe.keeps(r)]
        dropped = [m for m in messages if all(m is not k for k, _ in kept)]
        if dropped:
            self._settle(dropped, failed_ids=set())  # deleted: eb-pipes-event-filtering.html
            recorder.record("filter", self.name, self.pipe.name, "ignored", len(dropped),
                            "フィルターに合わず削除", [m["MessageId"] for m in dropped])
        if kept:
            ids = [m["MessageId"] for m, _ in kept]
            failed = self.pipe.run([r for _, r in kept], ids)
            self._settle([m for m, _ in kept], failed)
        return 1


class PipeStreamSource:
    """A pipe whose source is a Kinesis or DynamoDB stream."""

    def __init__(self, pipe: Pipe):
        self.pipe = pipe
        self.function_name = pipe.name
        self.invocations = pipe.invocations
        parameters = pipe.source_parameters
        self.reader = KinesisReader(pipe.source) if pipe.source_kind == "kinesis" else DynamoDBStreamReader(pipe.source)
        self.name = self.reader.name
        policy = StreamPolicy(
            batch_size=pipe.batch_size,
            batching_window=parameters.get("MaximumBatchingWindowInSeconds", 0),
            starting_position=parameters["StartingPosition"],  # required (botocore checks it)
            starting_position_timestamp=parameters.get("StartingPositionTimestamp"),
            maximum_retry_attempts=parameters.get("MaximumRetryAttempts", -1),
            maximum_record_age=parameters.get("MaximumRecordAgeInSeconds", -1),
            bisect_on_error=parameters.get("OnPartialBatchItemFailure") == "AUTOMATIC_BISECT")
        self.dead_letter = (parameters.get("DeadLetterConfig") or {}).get("Arn")
        self.send_failure = failure_destination(self.dead_letter) if self.dead_letter else None
        self.poller = ShardPoller(self.reader, policy, self.name, pipe.name, self._deliver, self._discard)

    def poll(self) -> int:
        if not self.pipe.refresh() or not self.pipe.running:
            return 0
        return self.poller.poll()

    def next_due(self) -> float | None:
        return self.poller.next_due() if self.pipe.running else None

    @property
    def parked(self) -> int:
        return self.poller.parked

    def _record(self, record: dict, shard_id: str) -> dict:
        region = sandbox.current().region
        if self.pipe.source_kind == "dynamodb":
            return shapes.stream_record(record, self.reader.arn, region)
        # A pipe hands the kinesis keys over at the top level (eb-pipes-kinesis.html "Example event").
        return {**shapes.kinesis_payload(record), "eventSource": "aws:kinesis", "eventVersion": "1.0",
                "eventID": f"{shard_id}:{record['SequenceNumber']}", "eventName": "aws:kinesis:record",
                "invokeIdentityArn": f"arn:aws:iam::{sandbox.ACCOUNT_ID}:role/{self.pipe.name}-role",
                "awsRegion": region, "eventSourceARN": self.reader.arn}

    def _deliver(self, shard_id: str, raw: list[dict]) -> Outcome:
        records = [self._record(r, shard_id) for r in raw]
        ids = [r["eventID"] for r in records]
        kept = [(i, r) for i, r in zip(ids, records) if self.pipe.keeps(r)]
        if len(kept) < len(records):
            skipped = [i for i in ids if i not in {k for k, _ in kept}]
            recorder.record("filter", self.name, self.pipe.name, "ignored", len(skipped),
                            "フィルターに合わず読み飛ばし", skipped)
        if not kept:
            return Outcome.ok()
        failed = self.pipe.run([r for _, r in kept], [i for i, _ in kept])
        if not failed:
            return Outcome.ok()
        lowest = min(ids.index(i) for i in failed)
        if failed == {i for i, _ in kept} and lowest == 0:
            return Outcome.error("パイプの実行に失敗")
        return Outcome.partial(lowest, f"{ids[lowest]} から再試行")

    def _discard(self, discarded) -> None:
        numbers = [self.reader.sequence_number(r) for r in discarded.records]
        recorder.record("dlq", self.name, resource_name(self.dead_letter) if self.dead_letter else "(破棄)", "dlq",
                        len(numbers), discarded.condition, numbers)
        if self.send_failure:
            # AWS does not document what a pipe puts on its DLQ; this is the Lambda mapping's record,
            # with the pipe's ARN where the function's would be.
            self.send_failure(failure_record(self.reader, discarded, self.pipe.arn))


def pipe_source(name: str, functions: dict | None = None):
    """The source that runs pipe ``name`` (``functions``: Lambda function name -> handler)."""
    pipe = Pipe(name, functions)
    return PipeQueueSource(pipe) if pipe.source_kind == "sqs" else PipeStreamSource(pipe)


def _text(payload) -> str:
    return payload if isinstance(payload, str) else json.dumps(payload, ensure_ascii=False)


def _dynamic(value: str, event) -> object:
    """A target parameter that is a JSON path (``$.body.order_id``) is read from the event (eb-pipes-event-target.html)."""
    if isinstance(value, str) and value.startswith("$."):
        found = input_template.resolve(value, event)
        if found is input_template.MISSING:
            raise PipeError(f"ターゲットのパラメーター {value} がイベントにありません")
        return found
    return value
