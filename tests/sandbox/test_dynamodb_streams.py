"""Stream records carry AWS's eventVersion and SizeBytes (labs.sandbox.mends.dynamodb_streams).

SizeBytes cases are records AWS produced, each with the figure AWS gave:
[DOC] lambda/latest/dg/with-ddb.html, the example event (also aws-lambda-powertools'
      tests/events/dynamoStreamEvent.json): INSERT 26, MODIFY 59, REMOVE 38.
[LS]  localstack/localstack snapshots recorded against AWS: tests/aws/services/dynamodb/test_dynamodb.snapshot.json
      (test_batch_write_items_streaming, test_transact_write_items_streaming,
      test_dynamodb_stream_records_with_update_item, test_dynamodb_stream_stream_view_type) and
      tests/aws/services/lambda_/event_source_mapping/test_lambda_integration_dynamodbstreams.snapshot.json
      (test_dynamodb_event_source_mapping, test_dynamodb_event_filter[...], test_dynamodb_report_batch_item_failures).
"""
import boto3
import pytest

from labs import sandbox
from labs.sandbox import provision
from labs.sandbox.mends.dynamodb_streams import record_size

S = lambda v: {"S": v}  # noqa: E731
N = lambda v: {"N": v}  # noqa: E731

RECORDED = [  # (source, SizeBytes AWS reported, Keys, NewImage, OldImage)
    ("[DOC] INSERT", 26, {"Id": N("101")}, {"Message": S("New item!"), "Id": N("101")}, None),
    ("[DOC] MODIFY", 59, {"Id": N("101")}, {"Message": S("This item has changed"), "Id": N("101")},
     {"Message": S("New item!"), "Id": N("101")}),
    ("[DOC] REMOVE", 38, {"Id": N("101")}, None, {"Message": S("This item has changed"), "Id": N("101")}),
    ("[LS] batch write", 12, {"id": S("Fred")}, {"id": S("Fred")}, None),
    ("[LS] batch write", 16, {"id": S("NewKey")}, {"id": S("NewKey")}, None),
    ("[LS] batch write", 26, {"id": S("Fred")}, {"id": S("Fred"), "name": S("Fred")}, {"id": S("Fred")}),
    ("[LS] keys only", 12, {"Username": S("Fred")}, None, None),
    ("[LS] keys only", 13, {"Username": S("Alice")}, None, None),
    ("[LS] transact", 46, {"id": S("NewKey")}, {"attr1": S("value1"), "attr2": S("value2"), "id": S("NewKey")},
     {"id": S("NewKey")}),
    ("[LS] transact", 43, {"id": S("NonExistentKey")}, {"attr1": S("value1"), "id": S("NonExistentKey")}, None),
    ("[LS] update item", 80, {"id": S("my-item-id")},
     {"attr1": S("value2"), "attr2": S("value3"), "id": S("my-item-id")},
     {"attr1": S("value1"), "attr2": S("value2"), "id": S("my-item-id")}),
    ("[LS] binary", 70, {"my_partition_key": S("hello world")},
     {"binary_key": {"B": "Zm9vYmFy"}, "my_partition_key": S("hello world")}, None),
    ("[LS] number", 39, {"id": S("id_value_1")}, {"id": S("id_value_1"), "numericFilter": N("42")}, None),
    ("[LS] boolean", 58, {"my_partition_key": S("testId0")},
     {"my_partition_key": S("testId0"), "should_fail": {"BOOL": False}}, None),
]


@pytest.mark.parametrize("source,size,keys,new,old", RECORDED, ids=[f"{c[0]}-{c[1]}" for c in RECORDED])
def test_size_bytes_matches_what_aws_recorded(source, size, keys, new, old):
    dynamodb = {"Keys": keys, **({"NewImage": new} if new else {}), **({"OldImage": old} if old else {})}
    assert record_size(dynamodb) == size


def test_numbers_count_significant_digits_only():
    # CapacityUnitCalculations.html: leading and trailing zeros trimmed; 1 byte per two digits, plus 1
    assert record_size({"Keys": {"a": N("100")}}) == record_size({"Keys": {"a": N("1")}}) == 1 + 2
    assert record_size({"Keys": {"a": N("0.00123")}}) == 1 + 3


def test_nested_values_follow_the_item_size_rules():
    # CapacityUnitCalculations.html: a List or Map is 3 bytes + its elements + 1 byte per element
    assert record_size({"Keys": {"m": {"M": {"k": S("v")}}}}) == 1 + 3 + (1 + 1 + 1)
    assert record_size({"Keys": {"l": {"L": [S("ab"), {"NULL": True}]}}}) == 1 + 3 + (1 + 2) + (1 + 1)


def test_records_from_moto_carry_aws_event_version_and_size():
    provision.ensure_table("orders", "order_id", stream="NEW_AND_OLD_IMAGES")
    table = sandbox.resource("dynamodb").Table("orders")
    table.put_item(Item={"order_id": "Fred"})
    table.put_item(Item={"order_id": "Fred", "name": "Fred"})
    streams = boto3.client("dynamodbstreams")
    arn = boto3.client("dynamodb").describe_table(TableName="orders")["Table"]["LatestStreamArn"]
    shard = streams.describe_stream(StreamArn=arn)["StreamDescription"]["Shards"][0]["ShardId"]
    iterator = streams.get_shard_iterator(StreamArn=arn, ShardId=shard, ShardIteratorType="TRIM_HORIZON")
    records = streams.get_records(ShardIterator=iterator["ShardIterator"])["Records"]
    assert [r["eventVersion"] for r in records] == ["1.1", "1.1"]
    # INSERT: Keys + NewImage; MODIFY: Keys + NewImage + OldImage ("order_id" is 8 bytes, "Fred" 4)
    assert [r["dynamodb"]["SizeBytes"] for r in records] == [(8 + 4) * 2, (8 + 4) + (8 + 4 + 4 + 4) + (8 + 4)]
