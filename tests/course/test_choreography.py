"""The choreography: four services on orders-bus, chained only by their events."""
import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel

from labs.course.patterns import choreography
from labs.runtime import LocalRuntime
from labs.runtime.context import LambdaContext
from labs.workbook.lessons import lesson05


def order(order_id, amount, **items):
    return {"order_id": order_id, "customer_id": "alice", "amount": amount,
            "items": [{"sku": sku, "quantity": n} for sku, n in items.items()]}


@pytest.fixture
def runtime():
    lesson05.setup_choreography(stock={"BOOK": 10, "PEN": 3})
    runtime = LocalRuntime()
    lesson05.wire_choreography(runtime)
    return runtime


def chain(order_id):
    return [(step["発行元"], step["イベント"], step["受信"]) for step in lesson05.event_chain(order_id)]


def stock():
    return {row["sku"]: row["available"] for row in lesson05.choreography_tables()["stock"]}


def status(order_id):
    return lesson05.choreography_tables(order_id)["order-status"][0]


def test_a_paid_order_goes_through_every_service_and_ships(runtime):
    choreography.place_order(order("o1", 3000, BOOK=2))
    assert runtime.run_until_quiet() == 4
    assert chain("o1") == [
        ("order", "OrderPlaced", "inventory"),
        ("inventory", "StockReserved", "payment"),
        ("payment", "PaymentCompleted", "shipping"),
        ("shipping", "OrderShipped", "order"),
    ]
    assert status("o1")["status"] == "SHIPPED"
    assert stock() == {"BOOK": 8, "PEN": 3}


def test_a_failed_payment_is_answered_by_compensating_events(runtime):
    choreography.place_order(order("o2", choreography.PAYMENT_LIMIT + 1, BOOK=1, PEN=2))
    runtime.run_until_quiet()
    assert chain("o2") == [
        ("order", "OrderPlaced", "inventory"),
        ("inventory", "StockReserved", "payment"),
        ("payment", "PaymentFailed", "inventory"),
        ("inventory", "StockReleased", "order"),
    ]
    assert stock() == {"BOOK": 10, "PEN": 3}  # the reservation was undone
    assert status("o2")["status"] == "CANCELLED"
    assert "限度額" in status("o2")["reason"]


def test_an_order_beyond_the_stock_reserves_nothing_at_all(runtime):
    choreography.place_order(order("o3", 500, BOOK=1, PEN=9))  # books are there, pens are not
    runtime.run_until_quiet()
    assert chain("o3") == [("order", "OrderPlaced", "inventory"), ("inventory", "StockUnavailable", "order")]
    assert stock() == {"BOOK": 10, "PEN": 3}  # one transaction: not even the book was taken
    assert status("o3") == {"order_id": "o3", "status": "CANCELLED", "reason": "在庫不足"}


def test_services_receive_eventbridge_events_lambda_would_accept(runtime):
    choreography.place_order(order("o4", 3000, BOOK=1))
    runtime.run_until_quiet()
    assert len(lesson05.choreography_deliveries) == 4
    for _, event, ok in lesson05.choreography_deliveries:
        assert ok
        EventBridgeModel.model_validate(event)
        assert event["detail"]["items"] == [{"sku": "BOOK", "quantity": 1}]  # the whole order travels


def test_an_event_a_service_does_not_handle_is_an_error_not_silence():
    with pytest.raises(ValueError, match="inventory サービスは 'OrderShipped' を処理しません"):
        choreography.inventory_service(lesson05.example_event("OrderShipped", order("x", 1)), LambdaContext("t"))


def test_a_handler_that_raises_is_retried_by_the_runtime_and_then_parked(runtime):
    def broken_shipping(event, context):
        raise RuntimeError("配送システム停止中")

    lesson05.wire_choreography(runtime, {"shipping": broken_shipping})
    choreography.place_order(order("o5", 3000, BOOK=1))
    runtime.run_until_quiet()
    failures = [ok for service, _, ok in lesson05.choreography_deliveries if service == "shipping"]
    assert failures == [False, False, False]  # first try + Lambda's two async retries
    assert status("o5")["status"] == "PLACED"  # nothing shipped, nothing pretended


def test_the_bus_comes_from_the_environment_as_on_lambda(monkeypatch):
    from labs.sandbox import provision

    provision.ensure_bus("other-bus")
    queue = provision.ensure_queue("other-bus-capture")
    provision.ensure_rule("other-bus", "everything", event_pattern={"version": ["0"]}, queue_url=queue)
    monkeypatch.setenv("EVENT_BUS_NAME", "other-bus")
    choreography.payment_service(lesson05.example_event("StockReserved", order("o6", 10), "inventory"),
                                 LambdaContext("payment_service"))
    from labs import sandbox

    messages = sandbox.client("sqs").receive_message(QueueUrl=queue, MaxNumberOfMessages=10)["Messages"]
    assert len(messages) == 1 and '"PaymentCompleted"' in messages[0]["Body"]
