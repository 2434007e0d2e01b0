"""The order saga, executed for real by moto's Step Functions, with task-token workers."""
import json
import time

import pytest
from aws_lambda_powertools.utilities.parser.models import SqsModel

from labs.course import aws
from labs.course.patterns import saga
from labs.runtime import LocalRuntime
from labs.sandbox.clock import clock
from labs.workbook.lessons import lesson05


@pytest.fixture
def machine():
    arn = lesson05.deploy_saga(stock={"BOOK": 10})
    runtime = LocalRuntime()
    lesson05.wire_saga_workers(runtime)
    return runtime, arn


def order(order_id, quantity=2, amount=3000, ship_to="東京"):
    return {"order_id": order_id, "sku": "BOOK", "quantity": quantity, "amount": amount, "ship_to": ship_to}


def tables():
    state = lesson05.saga_tables()
    return ({r["sku"]: r["available"] for r in state["stock"]},
            {r["order_id"]: r["status"] for r in state["payments"]},
            [r["order_id"] for r in state["shipments"]])


def test_happy_path_reserves_charges_and_ships(machine):
    execution = lesson05.run_saga(*machine, order("s1"))
    assert execution.status == "SUCCEEDED"
    assert execution.states == ["ReserveStock", "ChargePayment", "ShipOrder", "OrderCompleted"]
    assert execution.compensations == []
    assert execution.output["payment"] == {"payment_id": "pay-s1"}
    assert execution.output["shipment"] == {"tracking_number": "TRK-s1"}
    assert tables() == ({"BOOK": 8}, {"s1": "CHARGED"}, ["s1"])


def test_a_failed_shipment_refunds_then_releases_the_stock(machine):
    execution = lesson05.run_saga(*machine, order("s2", quantity=3, ship_to="札幌"))
    assert execution.status == "FAILED"
    assert (execution.error, execution.cause) == ("OrderFailed", "注文を完了できず、補償しました")
    assert execution.compensations == ["RefundPayment", "ReleaseStock"]  # newest step undone first
    failed = [row for row in execution.history if row["イベント"] == "TaskFailed"]
    assert [(row["ステート"], row["エラー"]) for row in failed] == [("ShipOrder", "ShippingUnavailable")]
    assert tables() == ({"BOOK": 10}, {"s2": "REFUNDED"}, [])  # the payment is kept, marked refunded


def test_a_declined_payment_only_releases_the_stock(machine):
    execution = lesson05.run_saga(*machine, order("s3", amount=saga.PAYMENT_LIMIT + 1))
    assert execution.status == "FAILED"
    assert execution.states == ["ReserveStock", "ChargePayment", "ReleaseStock", "OrderFailed"]
    assert execution.compensations == ["ReleaseStock"]
    assert tables() == ({"BOOK": 10}, {}, [])


def test_missing_stock_fails_at_the_first_step_with_nothing_to_undo(machine):
    execution = lesson05.run_saga(*machine, order("s4", quantity=11))
    assert execution.states == ["ReserveStock", "OrderFailed"]
    assert execution.compensations == []
    failed = [row["エラー"] for row in execution.history if row["イベント"] == "TaskFailed"]
    assert failed == ["DynamoDB.ConditionalCheckFailedException The conditional request failed"]
    assert tables() == ({"BOOK": 10}, {}, [])


def test_paths_in_a_row_leave_consistent_tables(machine):
    for o in (order("a"), order("b", ship_to="札幌"), order("c", amount=10**6), order("d", quantity=99)):
        lesson05.run_saga(*machine, o)
    assert tables() == ({"BOOK": 8}, {"a": "CHARGED", "b": "REFUNDED"}, ["a"])


def test_workers_receive_sqs_events_with_the_order_and_a_task_token(machine):
    runtime, arn = machine
    seen = []

    def spying_payment_worker(event, context):
        seen.append(event)
        return saga.payment_worker(event, context)

    lesson05.wire_saga_workers(runtime, {saga.PAYMENT_QUEUE: spying_payment_worker})
    lesson05.run_saga(runtime, arn, order("s5"))
    (event,) = seen
    SqsModel.model_validate(event)
    body = json.loads(event["Records"][0]["body"])
    assert body["order"] == order("s5") and body["task_token"]


def test_a_crashing_worker_times_out_and_the_catch_compensates(machine):
    # AWS: a task-token step nobody answers ends with a TaskTimedOut history entry
    # (https://docs.aws.amazon.com/step-functions/latest/apireference/API_SendTaskHeartbeat.html: "if the task
    # times out, the execution history contains ... a TaskTimedOut entry for tasks using the job run or callback
    # pattern") after its TimeoutSeconds (https://docs.aws.amazon.com/step-functions/latest/dg/sfn-stuck-execution.html);
    # the error is States.Timeout, which a Catch on States.ALL handles (error-handling.html).
    runtime, arn = machine

    def broken(event, context):
        raise RuntimeError("配送業者の API が停止")

    lesson05.wire_saga_workers(runtime, {saga.SHIPPING_QUEUE: broken})
    started_clock, started = clock.now(), time.monotonic()
    execution = lesson05.run_saga(runtime, arn, order("s6"), timeout=10)
    assert execution.status == "FAILED" and execution.error == "OrderFailed"
    assert execution.compensations == ["RefundPayment", "ReleaseStock"]
    assert ("TaskTimedOut", "ShipOrder", "States.Timeout") in {
        (r["イベント"], r["ステート"], r["エラー"].split(" ")[0]) for r in execution.history}
    assert [call.function_name for call in execution.worker_errors] == ["shipping_worker"] * 3  # then the DLQ
    assert clock.now() - started_clock >= saga.WORKER_TIMEOUT_SECONDS  # five minutes, on the sandbox clock
    assert time.monotonic() - started < 5
    assert lesson05.saga_tables("s6")[saga.PAYMENTS_TABLE][0]["status"] == "REFUNDED"


def test_a_worker_that_never_answers_times_out_with_a_hint(machine):
    runtime, arn = machine
    lesson05.wire_saga_workers(runtime, {saga.SHIPPING_QUEUE: lambda event, context: None})
    with pytest.raises(lesson05.SagaTimeout, match="待っていたステート: ShipOrder.*send_task_success"):
        lesson05.run_saga(runtime, arn, order("s7"), timeout=1)


def test_history_rows_and_the_compact_view(machine):
    execution = lesson05.run_saga(*machine, order("s8"))
    rows = execution.history
    assert rows[0]["イベント"] == "ExecutionStarted" and rows[0]["経過"] == "+0.000s"
    assert [r["#"] for r in rows] == list(range(1, len(rows) + 1))
    compact = [r["イベント"] for r in lesson05.compact_history(rows)]
    assert compact == ["ExecutionStarted", "TaskStateEntered", "TaskStateEntered", "TaskStateEntered",
                       "SucceedStateEntered", "ExecutionSucceeded"]


def test_setup_again_starts_the_tables_over_and_keeps_one_state_machine(machine):
    runtime, arn = machine
    lesson05.run_saga(runtime, arn, order("s9"))
    assert lesson05.deploy_saga(stock={"BOOK": 1}) == arn
    assert tables() == ({"BOOK": 1}, {}, [])
    names = [m["name"] for m in aws.client("stepfunctions").list_state_machines()["stateMachines"]]
    assert names.count(saga.STATE_MACHINE) == 1


def test_the_role_is_in_the_account_the_sandbox_answers_for(machine):
    _, arn = machine
    account = aws.client("sts").get_caller_identity()["Account"]
    role = aws.client("stepfunctions").describe_state_machine(stateMachineArn=arn)["roleArn"]
    assert role == f"arn:aws:iam::{account}:role/{lesson05.SAGA_ROLE}"
