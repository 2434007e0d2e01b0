"""Lambda's DynamoDB Streams event source mapping: shard by shard, in order."""
from __future__ import annotations

import json

from labs import sandbox
from labs.observe import recorder
from labs.runtime import shapes
from labs.runtime.context import LambdaContext
from labs.runtime.invoke import Invocation, invoke
from labs.runtime.sources.filter_criteria import FilterCriteria


class StreamSource:
    """Lambda's DynamoDB Streams event source mapping: shard by shard, in order.

    A failed batch is retried (the iterator does not move) up to ``max_retry_attempts``
    times; then a record of the failed batch goes to the ``on_failure`` queue, as AWS's
    on-failure destination does, and the shard moves on.

    Differences from AWS, chosen for a notebook: AWS's default ``MaximumRetryAttempts`` is -1
    (retry until the records expire, 24 h), here 2; reading always starts at TRIM_HORIZON;
    a failed batch is not bisected (``BisectBatchOnFunctionError``).
    """

    def __init__(self, table_name, handler, function_name, batch_size=100, max_retry_attempts=2,
                 on_failure: str | None = None, timeout=30, filter_criteria: dict | None = None):
        # Compiled first: Lambda refuses a mapping with a bad filter at once.
        self.filter_criteria = FilterCriteria(filter_criteria, "dynamodb") if filter_criteria is not None else None
        self.skipped = 0  # records no filter matched
        self.streams = sandbox.client("dynamodbstreams")
        self.table_name = table_name
        self.name = table_name
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
        """One batch per shard; a batch the filters emptied invokes nothing, so read on until one does."""
        while True:
            skipped_before = self.skipped
            made = self._poll_shards()
            if made or self.skipped == skipped_before:
                return made

    def _poll_shards(self) -> int:
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
            event = {"Records": self._kept([shapes.stream_record(r, self.stream_arn, region) for r in records])}
            if not event["Records"]:  # every record filtered out: the shard moves on, nothing is invoked
                self._iterators[shard["ShardId"]] = page.get("NextShardIterator")
                continue
            call = invoke(self.handler, event, self.function_name, self.timeout)
            self.invocations.append(call)
            made += 1
            ids = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
            if call.ok:
                self._attempts.pop(shard["ShardId"], None)
                self._iterators[shard["ShardId"]] = page.get("NextShardIterator")
                recorder.record("invoke", self.table_name, self.function_name, "ok", len(ids), "", ids)
                continue
            attempts = self._attempts.get(shard["ShardId"], 0) + 1
            self._attempts[shard["ShardId"]] = attempts
            if attempts <= self.max_retry_attempts:
                recorder.record("invoke", self.table_name, self.function_name, "error", len(ids),
                                f"{call.describe_error()} (再試行 {attempts}/{self.max_retry_attempts})", ids)
                continue  # same iterator: the same batch comes again
            self._give_up(shard["ShardId"], ids, call)
            self._iterators[shard["ShardId"]] = page.get("NextShardIterator")
        return made

    def _kept(self, records: list[dict]) -> list[dict]:
        """The records some filter matches; the others are skipped, as Lambda does on streams.

        AWS (lambda/latest/dg/invocation-eventfiltering.html): for streams, a record that does not
        meet the filter criteria is not sent to the function, and the mapping moves past it.
        """
        if self.filter_criteria is None:
            return records
        kept = [r for r in records if self.filter_criteria.keeps(r)]
        skipped = [r["dynamodb"]["SequenceNumber"] for r in records if r not in kept]
        if skipped:
            self.skipped += len(skipped)
            recorder.record("filter", self.table_name, self.function_name, "ignored", len(skipped),
                            "フィルターに合わず読み飛ばし", skipped)
        return kept

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
