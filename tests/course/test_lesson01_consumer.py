"""The order service's consumer: dispatch on detail-type, real side effects, unknown
types logged, idempotent on repeats, and the event shape it gets under the runtime."""
import logging

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from labs import sandbox
from labs.sandbox import provision
from labs.course.consumers import orders
from labs.observe import recorder
from labs.course.producers.eventbridge import publish_order_event
from labs.runtime import LocalRuntime
from labs.runtime.context import LambdaContext
from labs.workbook.exercises.lesson01 import delivered_order_event
from labs.workbook.lessons import lesson01

CONTEXT = LambdaContext("order-service")


@pytest.fixture(autouse=True)
def tables():
    lesson01.ensure_order_tables()
    lesson01.restock({"SKU-A": 5, "SKU-B": 1})


def created(order_id, *items):
    return delivered_order_event("OrderCreated", {"orderId": order_id, "customerId": "C-1", "amount": 5000,
                                        "items": [{"productId": p, "quantity": q} for p, q in items]})


def status(order_id):
    item = sandbox.client("dynamodb").get_item(TableName=orders.ORDERS_TABLE, Key={"order_id": {"S": order_id}})
    return item.get("Item", {}).get("status", {}).get("S")


def test_created_reserves_every_item_and_records_the_order():
    assert orders.lambda_handler(created("O-1", ("SKU-A", 2), ("SKU-B", 1)), CONTEXT) == {
        "handled": "OrderCreated", "result": "reserved"}
    assert lesson01.inventory(["SKU-A", "SKU-B"]) == {"SKU-A": {"available": 3, "reserved": 2},
                                                    "SKU-B": {"available": 0, "reserved": 1}}
    assert status("O-1") == "RESERVED"


def test_a_repeated_delivery_changes_nothing():
    orders.lambda_handler(created("O-1", ("SKU-A", 2)), CONTEXT)
    assert orders.lambda_handler(created("O-1", ("SKU-A", 2)), CONTEXT)["result"] == "duplicate"
    assert lesson01.inventory(["SKU-A"])["SKU-A"] == {"available": 3, "reserved": 2}


def test_out_of_stock_reserves_nothing_at_all():
    with pytest.raises(orders.OutOfStock, match="SKU-B"):
        orders.lambda_handler(created("O-1", ("SKU-A", 2), ("SKU-B", 2)), CONTEXT)
    assert lesson01.inventory(["SKU-A", "SKU-B"])["SKU-A"] == {"available": 5, "reserved": 0}
    assert status("O-1") is None


def test_shipped_records_tracking_and_cancelled_refunds_and_releases_stock():
    orders.lambda_handler(created("O-1", ("SKU-A", 1)), CONTEXT)
    orders.lambda_handler(delivered_order_event("OrderShipped", {"orderId": "O-1", "trackingNumber": "TRK-1"}), CONTEXT)
    assert status("O-1") == "SHIPPED"
    orders.lambda_handler(created("O-2", ("SKU-A", 2)), CONTEXT)
    result = orders.lambda_handler(delivered_order_event("OrderCancelled", {"orderId": "O-2", "reason": "顧客都合"}), CONTEXT)
    assert result["result"] == "refund recorded"
    assert status("O-2") == "CANCELLED"
    assert lesson01.inventory(["SKU-A"])["SKU-A"] == {"available": 4, "reserved": 1}
    refund = sandbox.client("dynamodb").get_item(TableName=orders.REFUNDS_TABLE, Key={"order_id": {"S": "O-2"}})["Item"]
    assert refund["amount"]["N"] == "5000" and refund["status"]["S"] == "PENDING"
    again = orders.lambda_handler(delivered_order_event("OrderCancelled", {"orderId": "O-2"}), CONTEXT)
    assert again["result"] == "duplicate"
    assert lesson01.inventory(["SKU-A"])["SKU-A"] == {"available": 4, "reserved": 1}


def test_shipping_before_creation_raises_so_the_async_retry_comes_back():
    with pytest.raises(LookupError, match="O-9"):
        orders.lambda_handler(delivered_order_event("OrderShipped", {"orderId": "O-9", "trackingNumber": "T"}), CONTEXT)


def test_an_unknown_type_is_logged_not_raised(caplog):
    with caplog.at_level(logging.WARNING, logger=orders.__name__):
        assert orders.lambda_handler(delivered_order_event("OrderReturned", {"orderId": "O-1"}), CONTEXT) == {
            "ignored": "OrderReturned"}
    assert "OrderReturned" in caplog.text


def test_under_the_runtime_it_gets_the_event_aws_delivers_and_acts_on_it():
    provision.ensure_bus("orders-bus")
    provision.ensure_rule("orders-bus", "order-service", event_pattern={"source": ["com.myapp.orders"]})
    seen = []

    def handler(event, context):
        seen.append(EventBridgeModel.model_validate(event))  # raises if the shape is not AWS's
        return orders.lambda_handler(event, context)

    runtime = LocalRuntime()
    runtime.on_rule("orders-bus", "order-service", handler, function_name="order-service")
    publish_order_event({"order_id": "O-1", "customer_id": "C-1", "amount": 800,
                         "items": [{"productId": "SKU-A", "quantity": 1}]}, "OrderCreated")
    assert runtime.run_until_quiet() == 1
    assert seen[0].detail_type == "OrderCreated" and seen[0].account == sandbox.ACCOUNT_ID
    assert lesson01.inventory(["SKU-A"])["SKU-A"] == {"available": 4, "reserved": 1}
    assert [r.outcome for r in recorder.select(kind="invoke")] == ["ok"]
