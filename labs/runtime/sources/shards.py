"""Reading a stream shard by shard, with the checkpoint rules Lambda and Pipes share.

A Kinesis (or DynamoDB Streams) consumer does not delete what it reads: it keeps a
*checkpoint* per shard, the position after the last record it is done with. What moves
the checkpoint, and what happens to a batch that fails, is the same for a Lambda event
source mapping and for a pipe (AWS: lambda/latest/dg/with-kinesis.html "Error handling",
services-kinesis-batchfailurereporting.html; with-ddb.html, services-ddb-batchfailurereporting.html;
eventbridge/latest/userguide/eb-pipes-kinesis.html):

* Each shard is read in order, one batch at a time: a failing batch holds its shard back,
  the other shards go on.
* A batch waits up to the batching window for more records, unless it is full.
* Success moves the checkpoint past the batch. A partial failure (``batchItemFailures``) moves
  it to the *lowest* reported record: that record and every later one come again.
* An error retries the same batch (``maximum_retry_attempts``; -1: until the records expire).
  With bisect on, a failed batch is split in two first; splitting does not count as a retry.
* A record older than ``maximum_record_age`` is not handed over any more.
* Records given up on are *discarded*: the shard moves on, and the caller's ``on_discard``
  tells an on-failure destination or a pipe's DLQ where they were.

The caller decides what a batch is for (invoke a function, run a pipe) by ``deliver``,
which answers an ``Outcome``.
"""
from __future__ import annotations

import json
import math
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Callable

from labs import sandbox
from labs.observe import recorder
from labs.runtime import shapes
from labs.sandbox.clock import clock

RETRY_INTERVAL = 1.0  # seconds before a failed batch is tried again (Lambda polls a shard once per second)
STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST", "AT_TIMESTAMP")
NO_AT_TIMESTAMP_ON_DYNAMODB = "DynamoDB Streams の開始位置は TRIM_HORIZON か LATEST です (AT_TIMESTAMP は Kinesis だけです)"


@dataclass(frozen=True)
class Outcome:
    """What became of one batch: ``ok``, ``error``, or ``partial`` from record ``failed_from`` on."""

    kind: str
    detail: str = ""
    failed_from: int = 0  # partial: index (in the batch) of the lowest record reported as failed

    @classmethod
    def ok(cls) -> "Outcome":
        return cls("ok")

    @classmethod
    def error(cls, detail: str) -> "Outcome":
        return cls("error", detail)

    @classmethod
    def partial(cls, failed_from: int, detail: str = "") -> "Outcome":
        return cls("partial", detail, failed_from)


@dataclass
class Discarded:
    """Records given up on, and why (AWS's ``condition``)."""

    shard_id: str
    records: list[dict]
    condition: str  # RetryAttemptsExhausted | RecordAgeExceeded
    attempts: int
    last: Outcome | None


@dataclass
class _Shard:
    shard_id: str
    iterator: str | None
    buffer: list[dict] = field(default_factory=list)  # read, not yet checkpointed past, in order
    since: float | None = None  # when the oldest buffered record was first read (batching window)
    splits: list[int] = field(default_factory=list)  # bisected batch sizes still to hand over
    attempts: int = 0  # failed invocations of the batch at the head
    wait_until: float = 0.0
    last: Outcome | None = None


class KinesisReader:
    """A Kinesis data stream, read through boto3 as a consumer does."""

    source_name = "aws:kinesis"

    def __init__(self, stream: str):
        self.client = sandbox.client("kinesis")
        name = stream.rsplit("/", 1)[-1]
        try:
            summary = self.client.describe_stream_summary(StreamName=name)["StreamDescriptionSummary"]
        except self.client.exceptions.ResourceNotFoundException:
            raise ValueError(f"Kinesis ストリーム {name} がありません (create_stream で作ってください)") from None
        self.name = name
        self.arn = summary["StreamARN"]

    def shard_ids(self) -> list[str]:
        return [s["ShardId"] for s in self.client.list_shards(StreamName=self.name)["Shards"]]

    def iterator(self, shard_id: str, position: str, timestamp: datetime | None) -> str:
        extra = {"Timestamp": timestamp} if position == "AT_TIMESTAMP" else {}
        return self.client.get_shard_iterator(StreamName=self.name, ShardId=shard_id,
                                              ShardIteratorType=position, **extra)["ShardIterator"]

    def read(self, iterator: str, limit: int) -> tuple[list[dict], str | None]:
        page = self.client.get_records(ShardIterator=iterator, Limit=min(limit, 10_000))
        return page["Records"], page.get("NextShardIterator")

    @staticmethod
    def sequence_number(record: dict) -> str:
        return record["SequenceNumber"]

    @staticmethod
    def arrival(record: dict) -> datetime:
        return record["ApproximateArrivalTimestamp"]

    def batch_info(self, shard_id: str, records: list[dict]) -> tuple[str, dict]:
        """``KinesisBatchInfo`` of an on-failure record (kinesis-on-failure-destination.html)."""
        first, last = records[0], records[-1]
        return "KinesisBatchInfo", {
            "shardId": shard_id,
            "startSequenceNumber": first["SequenceNumber"],
            "endSequenceNumber": last["SequenceNumber"],
            "approximateArrivalOfFirstRecord": _iso(first["ApproximateArrivalTimestamp"]),
            "approximateArrivalOfLastRecord": _iso(last["ApproximateArrivalTimestamp"]),
            "batchSize": len(records),
            "streamArn": self.arn,
        }


class DynamoDBStreamReader:
    """A DynamoDB table's stream (the table needs a ``StreamSpecification``)."""

    source_name = "aws:dynamodb"

    def __init__(self, table_or_stream_arn: str):
        self.client = sandbox.client("dynamodbstreams")
        if ":table/" in table_or_stream_arn and "/stream/" in table_or_stream_arn:
            self.arn = table_or_stream_arn
            self.name = table_or_stream_arn.split(":table/", 1)[1].split("/", 1)[0]
        else:
            self.name = table_or_stream_arn.rsplit("/", 1)[-1]
            dynamodb = sandbox.client("dynamodb")
            try:
                table = dynamodb.describe_table(TableName=self.name)["Table"]
            except dynamodb.exceptions.ResourceNotFoundException:
                raise ValueError(f"テーブル {self.name} がありません (ensure_table で作ってください)") from None
            if "LatestStreamArn" not in table:
                raise ValueError(f"テーブル {self.name} にはストリームが有効になっていません (StreamSpecification)")
            self.arn = table["LatestStreamArn"]

    def shard_ids(self) -> list[str]:
        return [s["ShardId"] for s in self.client.describe_stream(StreamArn=self.arn)["StreamDescription"]["Shards"]]

    def iterator(self, shard_id: str, position: str, timestamp: datetime | None) -> str:
        if position == "AT_TIMESTAMP":
            raise ValueError(NO_AT_TIMESTAMP_ON_DYNAMODB)
        return self.client.get_shard_iterator(StreamArn=self.arn, ShardId=shard_id,
                                              ShardIteratorType=position)["ShardIterator"]

    def read(self, iterator: str, limit: int) -> tuple[list[dict], str | None]:
        page = self.client.get_records(ShardIterator=iterator, Limit=min(limit, 1000))
        return page.get("Records", []), page.get("NextShardIterator")

    @staticmethod
    def sequence_number(record: dict) -> str:
        return record["dynamodb"]["SequenceNumber"]

    @staticmethod
    def arrival(record: dict) -> datetime:
        return record["dynamodb"]["ApproximateCreationDateTime"]

    def batch_info(self, shard_id: str, records: list[dict]) -> tuple[str, dict]:
        """``DDBStreamBatchInfo`` of an on-failure record (with-ddb.html "Example invocation record":
        arrivals in whole seconds, as DynamoDB's ApproximateCreationDateTime is)."""
        first, last = records[0], records[-1]
        return "DDBStreamBatchInfo", {
            "shardId": shard_id,
            "startSequenceNumber": self.sequence_number(first),
            "endSequenceNumber": self.sequence_number(last),
            "approximateArrivalOfFirstRecord": _iso(self.arrival(first), milliseconds=False),
            "approximateArrivalOfLastRecord": _iso(self.arrival(last), milliseconds=False),
            "batchSize": len(records),
            "streamArn": self.arn,
        }


@dataclass(frozen=True)
class StreamPolicy:
    """How a mapping (or pipe) reads and retries: AWS's parameters, checked as AWS checks them."""

    batch_size: int = 100
    batching_window: float = 0
    starting_position: str = "TRIM_HORIZON"
    starting_position_timestamp: datetime | None = None
    maximum_retry_attempts: int = -1  # -1: until the records expire
    maximum_record_age: int = -1  # seconds; -1: until the records expire
    bisect_on_error: bool = False

    def __post_init__(self) -> None:
        # AWS's ranges (API_CreateEventSourceMapping.html, API_PipeSourceKinesisStreamParameters.html).
        if not 1 <= self.batch_size <= 10_000:
            raise ValueError(f"batch_size は 1〜10000 です (指定値: {self.batch_size})")
        if not 0 <= self.batching_window <= 300:
            raise ValueError(f"バッチウィンドウは 0〜300 秒です (指定値: {self.batching_window})")
        if self.starting_position not in STARTING_POSITIONS:
            raise ValueError(f"starting_position は {', '.join(STARTING_POSITIONS)} のどれかです "
                             f"(指定値: {self.starting_position!r})")
        if (self.starting_position == "AT_TIMESTAMP") != (self.starting_position_timestamp is not None):
            raise ValueError("AT_TIMESTAMP のときだけ、開始時刻 (starting_position_timestamp) を指定します")
        if not -1 <= self.maximum_retry_attempts <= 10_000:
            raise ValueError(f"maximum_retry_attempts は -1 (無制限) か 0〜10000 です (指定値: {self.maximum_retry_attempts})")
        if self.maximum_record_age != -1 and not 60 <= self.maximum_record_age <= 604_800:
            raise ValueError(f"maximum_record_age_in_seconds は -1 (無制限) か 60〜604800 です "
                             f"(指定値: {self.maximum_record_age})")


class ShardPoller:
    """Reads every shard of a stream and hands batches to ``deliver`` under ``policy``."""

    def __init__(self, reader, policy: StreamPolicy, name: str, function_name: str,
                 deliver: Callable[[str, list[dict]], Outcome], on_discard: Callable[[Discarded], None]):
        self.reader = reader
        self.policy = policy
        self.name = name
        self.function_name = function_name
        self.deliver = deliver
        self.on_discard = on_discard
        # Iterators are taken now: LATEST means "what is put from now on", as when a mapping is made.
        self.shards = {sid: _Shard(sid, reader.iterator(sid, policy.starting_position,
                                                        policy.starting_position_timestamp))
                       for sid in reader.shard_ids()}

    # -- the Source protocol's timing ---------------------------------------------------------
    def next_due(self) -> float | None:
        """The earliest retry or batching window that is still to come."""
        moments = []
        for shard in self.shards.values():
            if shard.wait_until > clock.now():
                moments.append(shard.wait_until)
            elif shard.buffer and shard.since is not None and self.policy.batching_window:
                moments.append(shard.since + self.policy.batching_window)
        return min(moments, default=None)

    @property
    def parked(self) -> int:
        """Records read but not yet handed over for good (waiting out a retry or a window)."""
        return sum(len(s.buffer) for s in self.shards.values())

    # -- one pass ------------------------------------------------------------------------------
    def poll(self) -> int:
        """One batch per shard that has one due. Returns how many batches were handed over."""
        return sum(self._poll_shard(shard) for shard in self.shards.values())

    def _poll_shard(self, shard: _Shard) -> int:
        now = clock.now()
        if shard.wait_until > now:
            return 0
        self._fill(shard, now)
        self._discard_too_old(shard)
        if not shard.buffer:
            return 0
        size = shard.splits[0] if shard.splits else self.policy.batch_size
        full = len(shard.buffer) >= size
        if not full and self.policy.batching_window and now < (shard.since or now) + self.policy.batching_window:
            return 0  # gather more until the window closes
        batch = shard.buffer[:size]
        outcome = self.deliver(shard.shard_id, batch)
        shard.last = outcome
        self._settle(shard, batch, outcome)
        return 1

    def _fill(self, shard: _Shard, now: float) -> None:
        while shard.iterator and len(shard.buffer) < self.policy.batch_size:
            records, shard.iterator = self.reader.read(shard.iterator, self.policy.batch_size - len(shard.buffer))
            if not records:
                break
            if not shard.buffer:
                shard.since = now
            shard.buffer += records

    def _discard_too_old(self, shard: _Shard) -> None:
        """Records past ``maximum_record_age`` are not handed over any more (they go to on_discard)."""
        if self.policy.maximum_record_age == -1 or not shard.buffer:
            return
        now = clock.datetime()
        old = 0
        while old < len(shard.buffer) and (now - self.reader.arrival(shard.buffer[old])).total_seconds() > \
                self.policy.maximum_record_age:
            old += 1
        if old:
            self._give_up(shard, shard.buffer[:old], "RecordAgeExceeded")

    def _settle(self, shard: _Shard, batch: list[dict], outcome: Outcome) -> None:
        if outcome.kind == "ok":
            self._advance(shard, len(batch))
            shard.attempts = 0
            return
        if outcome.kind == "partial" and outcome.failed_from > 0:
            # The checkpoint moves to the lowest failed record; that record has failed once now.
            self._advance(shard, outcome.failed_from)
            batch = batch[outcome.failed_from:]
            shard.attempts = 1
        elif outcome.kind == "error" and self.policy.bisect_on_error and len(batch) > 1:
            half = math.ceil(len(batch) / 2)  # splitting is not a retry
            shard.splits[:1] = [half, len(batch) - half]
            recorder.record("note", self.name, self.function_name, "retry", len(batch),
                            f"バッチを 2 つに分けて再試行 ({half} + {len(batch) - half} 件)")
            return
        else:
            shard.attempts += 1
        limit = self.policy.maximum_retry_attempts
        if limit != -1 and shard.attempts > limit:
            self._give_up(shard, batch, "RetryAttemptsExhausted")
            return
        shard.wait_until = clock.now() + RETRY_INTERVAL

    def _advance(self, shard: _Shard, count: int) -> None:
        """Checkpoint past the first ``count`` buffered records."""
        del shard.buffer[:count]
        if shard.splits:
            shard.splits[0] -= count
            if shard.splits[0] <= 0:
                shard.splits.pop(0)
        shard.since = clock.now() if shard.buffer else None

    def _give_up(self, shard: _Shard, records: list[dict], condition: str) -> None:
        attempts = shard.attempts
        self._advance(shard, len(records))
        self.on_discard(Discarded(shard.shard_id, records, condition, attempts, shard.last))
        shard.attempts, shard.last = 0, None


def _iso(moment: datetime | int | float, milliseconds: bool = True) -> str:
    if not isinstance(moment, datetime):
        moment = datetime.fromtimestamp(moment, timezone.utc)
    precision = "milliseconds" if milliseconds else "seconds"
    return moment.astimezone(timezone.utc).isoformat(timespec=precision).replace("+00:00", "Z")


def failure_destination(target: str):
    """A function that sends one JSON document to ``target`` (SQS queue URL/ARN/name, or SNS topic ARN)."""
    if target.startswith("arn:aws:sns:"):
        sns = sandbox.client("sns")
        return lambda document: sns.publish(TopicArn=target, Message=json.dumps(document))
    sqs = sandbox.client("sqs")
    name = target.rsplit("/", 1)[-1].rsplit(":", 1)[-1]
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise ValueError(f"失敗時の送り先キュー {name} がありません") from None
    return lambda document: sqs.send_message(QueueUrl=url, MessageBody=json.dumps(document))


def failure_record(reader, discarded: Discarded, function_arn: str) -> dict:
    """The on-failure record (AWS's shape) for ``discarded`` records."""
    key, info = reader.batch_info(discarded.shard_id, discarded.records)
    last = discarded.last
    error = "Unhandled" if last is not None and last.kind == "error" else None
    return shapes.stream_failure_record(
        batch_info_key=key, batch_info=info, function_arn=function_arn, condition=discarded.condition,
        invoke_count=max(discarded.attempts, 1 if last else 0), function_error=error,
        timestamp=_iso(clock.datetime()), request_id=str(uuid.uuid4()))
