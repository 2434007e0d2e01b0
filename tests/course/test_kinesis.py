"""labs.course.producers.kinesis: partition keys pick shards, each shard keeps its order,
TRIM_HORIZON reads everything again, and failures are not silent."""
import pytest

from labs import sandbox
from labs.course.producers import kinesis
from labs.sandbox import provision

STREAM = "order-stream"


@pytest.fixture
def stream():
    provision.ensure_stream(STREAM, shard_count=3)
    return STREAM


def order_events(orders=("ORD-1", "ORD-2", "ORD-3", "ORD-4", "ORD-5"), steps=("OrderCreated", "OrderShipped", "OrderCancelled")):
    """Each order's events in their business order, interleaved across orders."""
    return [{"event_id": f"{o}-{i}", "order_id": o, "event_type": step, "step": i}
            for i, step in enumerate(steps) for o in orders]


def test_ensure_stream_is_idempotent(stream):
    arn = provision.ensure_stream(STREAM, shard_count=3)
    assert arn.endswith(f":stream/{STREAM}")
    assert len(kinesis.shards(STREAM)) == 3



def test_recreate_stream_starts_empty(stream):
    kinesis.put_order_event(STREAM, {"order_id": "ORD-1"}, "ORD-1")
    provision.recreate_stream(STREAM, shard_count=3)
    assert len(kinesis.shards(STREAM)) == 3
    assert all(records == [] for records in kinesis.read_stream(STREAM).values())

def test_partition_key_decides_the_shard_as_kinesis_computes_it(stream):
    for order in ("ORD-1", "ORD-2", "ORD-3", "ORD-4", "ORD-5", "ORD-6"):
        put = kinesis.put_order_event(STREAM, {"order_id": order}, order)
        assert put["ShardId"] == kinesis.shard_for(STREAM, order)


@pytest.mark.parametrize("one_by_one", [True, False])
def test_order_is_kept_per_shard_and_per_key(stream, one_by_one):
    events = order_events()
    if one_by_one:
        for event in events:
            kinesis.put_order_event(STREAM, event, event["order_id"])
    else:
        kinesis.put_order_events(STREAM, events, partition_key=lambda e: e["order_id"])
    by_shard = kinesis.read_stream(STREAM)
    assert sum(len(r) for r in by_shard.values()) == len(events)
    for shard_id, records in by_shard.items():
        # the shard hands records back in the order they were put
        put_order = [e["event_id"] for e in events if kinesis.shard_for(STREAM, e["order_id"]) == shard_id]
        assert [r["data"]["event_id"] for r in records] == put_order
        assert all(r["PartitionKey"] == r["data"]["order_id"] for r in records)
        # so every order's events come in their business order
        for order in {r["PartitionKey"] for r in records}:
            assert [r["data"]["step"] for r in records if r["PartitionKey"] == order] == [0, 1, 2]
    # one order, one shard
    for order in {e["order_id"] for e in events}:
        assert sum(any(r["PartitionKey"] == order for r in recs) for recs in by_shard.values()) == 1


def test_trim_horizon_replays_what_was_already_read(stream):
    kinesis.put_order_events(STREAM, order_events(), partition_key=lambda e: e["order_id"])
    first = kinesis.read_stream(STREAM)
    again = kinesis.read_stream(STREAM)
    assert first == again and sum(map(len, first.values())) == 15


def test_latest_iterator_sees_only_new_records(stream):
    kinesis.put_order_event(STREAM, {"n": 1}, "k")
    shard = kinesis.shard_for(STREAM, "k")
    assert kinesis.read_shard(STREAM, shard, iterator_type="LATEST") == []


def test_failed_records_are_retried_and_then_reported():
    class Flaky:
        """A client whose put_records fails the first record once, then the second record forever."""
        def __init__(self):
            self.calls: list[list[dict]] = []

        def put_records(self, StreamName, Records):
            self.calls.append(Records)
            answers = []
            for record in Records:
                failing = (len(self.calls) == 1 and record["PartitionKey"] == "a") or record["PartitionKey"] == "b"
                answers.append({"ErrorCode": "ProvisionedThroughputExceededException", "ErrorMessage": "slow down"}
                               if failing else {"ShardId": "shardId-000000000000", "SequenceNumber": str(len(self.calls))})
            return {"FailedRecordCount": sum("ErrorCode" in a for a in answers), "Records": answers}

    flaky = Flaky()
    with pytest.raises(kinesis.KinesisPublishError) as raised:
        kinesis.put_order_events("s", [{"k": "a"}, {"k": "b"}, {"k": "c"}], partition_key=lambda e: e["k"],
                                 kinesis=flaky, sleep=lambda s: None)
    assert [f["record"] for f in raised.value.failures] == [{"k": "b"}]
    assert "ProvisionedThroughputExceededException" in str(raised.value)
    assert [[r["PartitionKey"] for r in call] for call in flaky.calls] == [["a", "b", "c"], ["a", "b"], ["b"]]


def test_empty_partition_key_is_refused_before_sending(stream):
    with pytest.raises(ValueError, match="パーティションキーが空です"):
        kinesis.put_order_event(STREAM, {"x": 1}, "")
    with pytest.raises(ValueError, match="パーティションキーが空です"):
        kinesis.put_order_events(STREAM, [{"x": 1}], partition_key=lambda e: "")


def test_a_record_that_is_not_json_is_a_clear_error(stream):
    sandbox.client("kinesis").put_record(StreamName=STREAM, Data=b"\xff not json", PartitionKey="k")
    with pytest.raises(ValueError, match="JSON ではありません"):
        kinesis.read_shard(STREAM, kinesis.shard_for(STREAM, "k"))
