"""Event source mapping filter criteria: SQS deletes what no filter matches, streams skip it.

Every case follows AWS's pages:
FILTERING = https://docs.aws.amazon.com/lambda/latest/dg/invocation-eventfiltering.html
SQS_FILTERING = https://docs.aws.amazon.com/lambda/latest/dg/with-sqs-filtering.html
"""
import json

import boto3
import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel, SqsModel

from labs.observe import recorder
from labs.runtime import LocalRuntime
from labs.runtime.sources.filter_criteria import FilterCriteria, FilterCriteriaError
from labs.sandbox import provision
from tests.runtime.helpers import depth, send

HIGH_VALUE_ORDERS = {"Filters": [{"Pattern": json.dumps(
    {"body": {"event_type": ["OrderCreated"], "amount": [{"numeric": [">=", 10000]}]}})}]}


def collect(model):
    seen = []

    def handler(event, context):
        seen.extend(model.model_validate(event).Records)

    return seen, handler


def test_sqs_messages_no_filter_matches_are_deleted_without_invoking():
    # FILTERING "Handling records that don't meet filter criteria": for SQS, "Lambda automatically
    # removes the message from your queue".
    url = provision.ensure_queue("orders")
    seen, handler = collect(SqsModel)
    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="big-orders", filter_criteria=HIGH_VALUE_ORDERS)
    send(url, {"event_type": "OrderCreated", "amount": 12000}, {"event_type": "OrderCreated", "amount": 900},
         {"event_type": "OrderCancelled", "amount": 50000}, {"event_type": "OrderCreated", "amount": "12000"})
    runtime.run_until_quiet()
    assert [json.loads(r.body)["amount"] for r in seen] == [12000]  # "12000" is a string: numeric never matches it
    assert depth(url) == 0  # the three others are gone, not waiting
    [dropped] = recorder.select(kind="filter")
    assert dropped.count == 3 and dropped.outcome == "ignored"
    assert runtime.sources[0].filtered == 3


def test_filters_are_ored_and_a_batch_filtered_away_does_not_stop_the_run():
    # FILTERING: "Your filters are logically ORed together."
    url = provision.ensure_queue("orders")
    seen, handler = collect(SqsModel)
    criteria = {"Filters": [{"Pattern": json.dumps({"body": {"event_type": ["OrderCancelled"]}})},
                            {"Pattern": json.dumps({"body": {"priority": ["high"]}})}]}
    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="f", batch_size=2, filter_criteria=criteria)
    send(url, *[{"event_type": "OrderCreated", "n": n} for n in range(4)])  # two whole batches match nothing
    send(url, {"event_type": "OrderCancelled"}, {"event_type": "OrderCreated", "priority": "high"})
    runtime.run_until_quiet()
    assert [json.loads(r.body) for r in seen] == [{"event_type": "OrderCancelled"},
                                                  {"event_type": "OrderCreated", "priority": "high"}]
    assert depth(url) == 0


def test_plain_text_bodies_match_only_plain_patterns():
    # SQS_FILTERING / FILTERING "Filtering with Amazon SQS": a body that is not JSON is matched as text by a
    # pattern whose body is a list of values; an object pattern (fields inside the body) never matches it.
    url = provision.ensure_queue("notes")
    seen, handler = collect(SqsModel)
    criteria = {"Filters": [{"Pattern": json.dumps({"body": [{"prefix": "URGENT:"}]})},
                            {"Pattern": json.dumps({"body": {"level": ["URGENT:"]}})}]}
    runtime = LocalRuntime()
    runtime.on_queue(url, handler, function_name="f", filter_criteria=criteria)
    send(url, "URGENT: disk full", "fyi: all good", {"level": "URGENT:"}, "[1, 2]")
    runtime.run_until_quiet()
    assert [r.body for r in seen] == ["URGENT: disk full", '{"level": "URGENT:"}']


@pytest.mark.parametrize("criteria, says", [
    # SQS_FILTERING note: "Amazon SQS event source mappings only support filtering on the body key."
    ({"Filters": [{"Pattern": json.dumps({"event_type": ["OrderCreated"]})}]}, "body"),
    ({"Filters": [{"Pattern": json.dumps({"attributes": {"SenderId": ["x"]}})}]}, "body"),
    # the EventBridge grammar: a numeric condition lives inside an array (eb-event-patterns.html)
    ({"Filters": [{"Pattern": json.dumps({"body": {"amount": {"numeric": [">=", 10000]}}})}]}, "配列"),
    # FILTERING: "By default, you can define up to five different filters for a single event source mapping."
    ({"Filters": [{"Pattern": json.dumps({"body": {"n": [n]}})} for n in range(6)]}, "5 個まで"),
    ({"Filters": [{"Pattern": {"body": {"n": [1]}}}]}, "JSON の文字列"),
    ({"Pattern": json.dumps({"body": {"n": [1]}})}, "Filters"),
])
def test_a_mapping_lambda_would_refuse_is_refused_when_wired(criteria, says):
    url = provision.ensure_queue("orders")
    with pytest.raises(FilterCriteriaError, match=says):
        LocalRuntime().on_queue(url, lambda e, c: None, function_name="f", filter_criteria=criteria)


def test_the_filter_quota_can_be_raised_to_ten():
    # FILTERING note: "you can request a quota increase up to 10 filters for each event source".
    criteria = {"Filters": [{"Pattern": json.dumps({"body": {"n": [n]}})} for n in range(10)]}
    assert len(FilterCriteria(criteria, "sqs", max_filters=10).filters) == 10


def test_kinesis_data_is_decoded_before_matching():
    # FILTERING "Filtering with Kinesis": Lambda base64-decodes data, then filters it as JSON.
    import base64
    criteria = FilterCriteria({"Filters": [{"Pattern": json.dumps({"data": {"kind": ["order"]}})}]}, "kinesis")
    record = {"kinesis": {}, "data": base64.b64encode(b'{"kind": "order"}').decode()}
    assert criteria.keeps(record)
    assert not criteria.keeps({**record, "data": base64.b64encode(b'{"kind": "refund"}').decode()})


def test_stream_records_no_filter_matches_are_skipped_and_the_shard_moves_on():
    # FILTERING "Filtering with DynamoDB": patterns match the stream record, e.g. eventName and dynamodb.NewImage.
    provision.ensure_table("orders", "order_id", stream="NEW_AND_OLD_IMAGES")
    table = boto3.resource("dynamodb").Table("orders")
    seen, handler = collect(DynamoDBStreamModel)
    criteria = {"Filters": [{"Pattern": json.dumps(
        {"eventName": ["INSERT"], "dynamodb": {"NewImage": {"status": {"S": ["PAID"]}}}})}]}
    runtime = LocalRuntime()
    runtime.on_stream("orders", handler, function_name="paid", batch_size=2, filter_criteria=criteria)
    for n in range(4):
        table.put_item(Item={"order_id": f"o{n}", "status": "NEW"})
    table.put_item(Item={"order_id": "o9", "status": "PAID"})
    table.put_item(Item={"order_id": "o0", "status": "PAID"})  # a MODIFY: eventName does not match
    runtime.run_until_quiet()
    assert [r.dynamodb.NewImage["order_id"] for r in seen] == ["o9"]
    assert sum(r.count for r in recorder.select(kind="filter")) == 5
