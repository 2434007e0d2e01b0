"""Kinesis Data Streams: putting order events with partition keys, reading a shard back.

Plain boto3, the same code runs on real AWS. What a learner should see in it:

* The **partition key** decides the shard: Kinesis takes the MD5 of the key as a 128-bit
  number and finds the shard whose hash key range holds it (:func:`shard_for` does the
  same sum). Records with the same key land in the same shard, and **within a shard the
  order is the order they were put**. Across shards there is no order at all.
* Records are **kept** (24 hours by default) whether or not anyone read them. Reading a
  shard from ``TRIM_HORIZON`` starts at the oldest record still kept, so a new consumer,
  or an old one after a bug fix, can read the same events again: a *replay*. An SQS message,
  once processed and deleted, is gone.
* ``put_records`` answers HTTP 200 even when some records failed (``FailedRecordCount``,
  ``ErrorCode`` per record, e.g. ``ProvisionedThroughputExceededException``). We retry only
  the failed records and raise :class:`KinesisPublishError` naming what never got in.

Clients are made on first use (not at import); tests and notebooks may pass ``kinesis=``.
"""
from __future__ import annotations

import hashlib
import json
import random
import time
from typing import Callable, Iterable

from labs.course import aws

MAX_RECORDS_PER_CALL = 500  # put_records takes at most 500 records (and 5 MB)


class KinesisPublishError(Exception):
    """Some records could not be put; ``failures`` lists ``{"record", "ErrorCode", "ErrorMessage"}``."""

    def __init__(self, failures: list[dict]):
        self.failures = failures
        first = failures[0]
        super().__init__(f"レコード {len(failures)} 件を Kinesis に書き込めませんでした: "
                         f"{first['ErrorCode']}: {first.get('ErrorMessage', '')}")


def shards(stream: str, *, kinesis=None) -> list[dict]:
    """The stream's open shards: ``ShardId`` and ``HashKeyRange``."""
    kinesis = kinesis or aws.client("kinesis")
    return kinesis.list_shards(StreamName=stream)["Shards"]


def hash_key(partition_key: str) -> int:
    """The 128-bit number Kinesis derives from a partition key (MD5, big-endian)."""
    return int(hashlib.md5(partition_key.encode("utf-8")).hexdigest(), 16)


def shard_for(stream: str, partition_key: str, *, kinesis=None) -> str:
    """Which shard a record with ``partition_key`` goes to, worked out as Kinesis does."""
    key = hash_key(partition_key)
    for shard in shards(stream, kinesis=kinesis):
        low, high = (int(shard["HashKeyRange"][k]) for k in ("StartingHashKey", "EndingHashKey"))
        if low <= key <= high:
            return shard["ShardId"]
    raise LookupError(f"ハッシュキー {key} を受け持つシャードがありません (ストリーム {stream})")


def put_order_event(stream: str, event: dict, partition_key: str, *, kinesis=None) -> dict:
    """Put one event (as JSON) with ``partition_key``; return ``{"ShardId", "SequenceNumber"}``."""
    if not partition_key:
        raise ValueError("パーティションキーが空です (1〜256 文字の文字列を指定してください)")
    kinesis = kinesis or aws.client("kinesis")
    response = kinesis.put_record(StreamName=stream, Data=_encode(event), PartitionKey=partition_key)
    return {"ShardId": response["ShardId"], "SequenceNumber": response["SequenceNumber"]}


def put_order_events(
    stream: str,
    events: Iterable[dict],
    partition_key: Callable[[dict], str],
    *,
    kinesis=None,
    max_attempts: int = 3,
    base_delay: float = 0.1,
    sleep: Callable[[float], None] = time.sleep,
) -> list[dict]:
    """Put many events, <= 500 per call, retrying only the records that failed.

    ``partition_key(event)`` gives each event's key (e.g. its order id, so one order's
    events stay in one shard, in order). Returns ``{"ShardId", "SequenceNumber"}`` per event,
    in the order given. Raises KinesisPublishError if some records never got in.

    A retried record goes in *after* records put later in the same call, so a retry can
    reorder records that share a key; use ``put_order_event`` one by one (or
    ``SequenceNumberForOrdering``) where that matters.
    """
    kinesis = kinesis or aws.client("kinesis")
    events = list(events)
    records = []
    for event in events:
        key = partition_key(event)
        if not key:
            raise ValueError(f"パーティションキーが空です: {event!r:.80}")
        records.append({"Data": _encode(event), "PartitionKey": key})
    results: list[dict | None] = [None] * len(records)
    failures: dict[int, dict] = {}
    pending = list(range(len(records)))
    for attempt in range(1, max_attempts + 1):
        retry = []
        for start in range(0, len(pending), MAX_RECORDS_PER_CALL):
            indexes = pending[start:start + MAX_RECORDS_PER_CALL]
            response = kinesis.put_records(StreamName=stream, Records=[records[i] for i in indexes])
            for index, result in zip(indexes, response["Records"]):  # one answer per record, in order
                if result.get("ErrorCode"):
                    failures[index] = {"record": events[index], "ErrorCode": result["ErrorCode"],
                                       "ErrorMessage": result.get("ErrorMessage", "")}
                    retry.append(index)
                else:
                    results[index] = {"ShardId": result["ShardId"], "SequenceNumber": result["SequenceNumber"]}
                    failures.pop(index, None)
        if not retry or attempt == max_attempts:
            break
        sleep(random.uniform(0, base_delay * 2 ** (attempt - 1)))  # backoff with jitter
        pending = retry
    if failures:
        raise KinesisPublishError([failures[i] for i in sorted(failures)])
    return results  # type: ignore[return-value]


def read_shard(stream: str, shard_id: str, *, iterator_type: str = "TRIM_HORIZON",
               limit: int = 1000, kinesis=None) -> list[dict]:
    """Read one shard from ``TRIM_HORIZON`` (the oldest record kept) up to the newest.

    Returns ``{"SequenceNumber", "PartitionKey", "data"}`` per record, in shard order.
    Reading does not remove anything: call it again and you get the same records.
    """
    kinesis = kinesis or aws.client("kinesis")
    iterator = kinesis.get_shard_iterator(StreamName=stream, ShardId=shard_id,
                                          ShardIteratorType=iterator_type)["ShardIterator"]
    records: list[dict] = []
    while iterator and len(records) < limit:
        page = kinesis.get_records(ShardIterator=iterator, Limit=min(10000, limit - len(records)))
        records += [{"SequenceNumber": r["SequenceNumber"], "PartitionKey": r["PartitionKey"],
                     "data": _decode(r["Data"], shard_id, r["SequenceNumber"])} for r in page["Records"]]
        if not page["Records"] and not page.get("MillisBehindLatest"):
            break  # caught up with the newest record
        iterator = page.get("NextShardIterator")
    return records


def read_stream(stream: str, *, kinesis=None) -> dict[str, list[dict]]:
    """Every shard read from ``TRIM_HORIZON``: shard id -> its records, in order."""
    return {s["ShardId"]: read_shard(stream, s["ShardId"], kinesis=kinesis) for s in shards(stream, kinesis=kinesis)}


def _encode(event: dict) -> bytes:
    return json.dumps(event, ensure_ascii=False).encode("utf-8")


def _decode(data: bytes, shard_id: str, sequence_number: str) -> dict:
    try:
        return json.loads(data)
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise ValueError(f"{shard_id} のレコード {sequence_number} が JSON ではありません: {data[:80]!r}") from error
