"""Lambda's Kinesis event source mapping: shard by shard, in order, with checkpoints.

moto keeps Kinesis records but runs no Lambda, so nothing reads a stream for a function.
``KinesisSource`` does what Lambda's poller does (AWS: lambda/latest/dg/with-kinesis.html):
one batch per shard at a time, the ``Records[].kinesis`` event, ``ReportBatchItemFailures``
with sequence numbers, bisecting, retry and age limits, and an on-failure destination that
receives where the discarded records were (not the records). What it shares with the
DynamoDB Streams mapping is ``stream.StreamMapping``; the checkpoint rules live in ``shards.py``.
"""
from __future__ import annotations

from labs import sandbox
from labs.runtime import shapes
from labs.runtime.sources.shards import KinesisReader, StreamPolicy
from labs.runtime.sources.stream import StreamMapping


class KinesisSource(StreamMapping):
    """Lambda's event source mapping from a Kinesis data stream to ``handler``."""

    filter_source = "kinesis"

    def __init__(self, stream: str, handler, function_name: str, policy: StreamPolicy, **settings):
        super().__init__(KinesisReader(stream), handler, function_name, policy, **settings)

    def _event_record(self, record: dict, shard_id: str) -> dict:
        role = f"arn:aws:iam::{sandbox.ACCOUNT_ID}:role/{self.function_name}-role"
        return shapes.kinesis_record(record, shard_id, self.reader.arn, sandbox.current().region, role)

    def _sequence_number(self, event_record: dict) -> str:
        return event_record["kinesis"]["sequenceNumber"]

    def _filtered(self, event_record: dict) -> dict:
        return event_record["kinesis"]  # a Kinesis filter reads ``data`` and the ``kinesis`` metadata
