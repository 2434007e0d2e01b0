"""CQRS: the orders table's stream projected into a per-customer read model."""
import pytest
from aws_lambda_powertools.utilities.parser.models import DynamoDBStreamModel
from botocore.exceptions import ClientError

from labs.course import aws
from labs.course.patterns import cqrs
from labs.runtime import LocalRuntime
from labs.workbook.lessons import lesson05


@pytest.fixture
def runtime():
    lesson05.setup_cqrs()
    runtime = LocalRuntime()
    runtime.on_stream(cqrs.ORDERS_TABLE, cqrs.project_order, function_name="project_order")
    return runtime


def summaries():
    return {r["customer_id"]: (r["order_count"], r["total_amount"], r["cancelled_count"]) for r in lesson05.read_model()}


def test_the_read_model_is_behind_until_the_projector_runs(runtime):
    cqrs.place_order("o1", "alice", 1000)
    cqrs.place_order("o2", "alice", 2500)
    cqrs.place_order("o3", "bob", 700)
    assert len(lesson05.write_model()) == 3
    assert summaries() == {}  # eventual consistency: nothing projected yet
    runtime.run_until_quiet()
    assert summaries() == {"alice": (2, 3500, 0), "bob": (1, 700, 0)}


def test_cancel_and_remove_are_projected_too(runtime):
    cqrs.place_order("o1", "alice", 1000)
    cqrs.place_order("o2", "alice", 2500)
    cqrs.place_order("o3", "bob", 700)
    runtime.run_until_quiet()
    cqrs.cancel_order("o2")
    runtime.run_until_quiet()
    assert cqrs.customer_summary("alice") == {"customer_id": "alice", "order_count": 1, "total_amount": 1000,
                                              "cancelled_count": 1}
    aws.client("dynamodb").delete_item(TableName=cqrs.ORDERS_TABLE, Key={"order_id": {"S": "o3"}})
    aws.client("dynamodb").delete_item(TableName=cqrs.ORDERS_TABLE, Key={"order_id": {"S": "o2"}})  # cancelled: no change
    runtime.run_until_quiet()
    assert summaries() == {"alice": (1, 1000, 1), "bob": (0, 0, 0)}


def test_a_customer_never_seen_has_no_summary(runtime):
    assert cqrs.customer_summary("nobody") is None


def test_the_write_side_refuses_duplicates_and_cancels_once(runtime):
    cqrs.place_order("o1", "alice", 1000)
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        cqrs.place_order("o1", "alice", 9999)
    cqrs.cancel_order("o1")
    cqrs.cancel_order("o1")  # the same command again (a re-run cell, a retried request): nothing changes
    with pytest.raises(ClientError, match="ConditionalCheckFailed"):
        cqrs.cancel_order("no-such-order")
    runtime.run_until_quiet()
    assert summaries() == {"alice": (0, 0, 1)}  # the refused writes never reached the stream


def test_the_projector_gets_stream_records_lambda_would_accept(runtime):
    seen = []

    def spy(event, context):
        seen.append(event)
        return cqrs.project_order(event, context)

    runtime.on_stream(cqrs.ORDERS_TABLE, spy, function_name="project_order")  # replaces the mapping
    cqrs.place_order("o1", "alice", 1000)
    cqrs.cancel_order("o1")
    runtime.run_until_quiet()
    records = [r for event in seen for r in event["Records"]]
    assert [r["eventName"] for r in records] == ["INSERT", "MODIFY"]
    for event in seen:
        DynamoDBStreamModel.model_validate(event)


def image(status, amount=1000, customer="alice"):
    return {"order_id": {"S": "o"}, "customer_id": {"S": customer}, "amount": {"N": str(amount)}, "status": {"S": status}}


@pytest.mark.parametrize("old, new, change", [
    (None, image("PLACED"), {"order_count": 1, "total_amount": 1000, "cancelled_count": 0}),
    (image("PLACED"), image("CANCELLED"), {"order_count": -1, "total_amount": -1000, "cancelled_count": 1}),
    (image("PLACED", 1000), image("PLACED", 1200), {"order_count": 0, "total_amount": 200, "cancelled_count": 0}),
    (image("PLACED"), None, {"order_count": -1, "total_amount": -1000, "cancelled_count": 0}),
    (image("CANCELLED"), None, None),
    (image("CANCELLED"), image("CANCELLED"), None),
])
def test_summary_change_is_the_difference_of_the_images(old, new, change):
    dynamodb = {k: v for k, v in (("OldImage", old), ("NewImage", new)) if v is not None}
    result = cqrs.summary_change({"dynamodb": dynamodb})
    assert result == (None if change is None else {"customer_id": "alice", **change})


def test_measure_lag_sees_every_order_through(runtime):
    samples = lesson05.measure_projection_lag(orders=3, spacing=0.0, poll_interval=0.05)
    assert [s.order_id for s in samples] == ["lag-000", "lag-001", "lag-002"]
    assert all(0 <= s.lag < 5 for s in samples)
    assert sum(r[0] for r in summaries().values()) == 3
