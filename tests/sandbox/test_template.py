"""template.yaml: linted and transformed offline, built into the sandbox, and in step with the lessons.

The agreement tests provision what the lessons provision (the same functions they call), read
the sandbox back, then build the template in a fresh sandbox and read it back the same way: a
change to one side without the other fails here.
"""
import copy
import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from labs import sandbox
from labs.course.consumers import dlq, idempotent, orders
from labs.course.envelopes import sns_message
from labs.course.names import ORDER_SOURCE
from labs.runtime.sources import SqsSource
from labs.course.patterns import cqrs, saga
from labs.observe import recorder
from labs.runtime import LocalRuntime
from labs.sandbox import provision, template
from labs.workbook.exercises import lesson02, lesson03
from labs.workbook.lessons import lesson01, lesson05

ROOT = Path(__file__).resolve().parents[2]
CFN_LINT = str(Path(sys.executable).with_name("cfn-lint"))  # the venv's console script


@pytest.fixture(scope="module")
def sam():
    return template.load()


@pytest.fixture(scope="module")
def cfn(sam):
    return template.transform(sam)


def notebook_source(name: str) -> str:
    cells = json.loads((ROOT / "solutions" / name).read_text(encoding="utf-8"))["cells"]
    return "\n".join("".join(c["source"]) for c in cells if c["cell_type"] == "code")


# --- offline: lint and transform ------------------------------------------------------------

def test_cfn_lint_reports_nothing_on_the_template_without_a_network():
    # unshare -n: no network at all, so cfn-lint's bundled schemas are all it has.
    command = [CFN_LINT, str(ROOT / "template.yaml")]
    offline = ["unshare", "-rn", *command] if subprocess.run(["unshare", "-rn", "true"], capture_output=True).returncode == 0 else command
    result = subprocess.run(offline, capture_output=True, text=True, timeout=300)
    assert result.returncode == 0, result.stdout + result.stderr


def test_cfn_lint_catches_a_misspelt_redrive_policy(tmp_path):
    broken = tmp_path / "template.yaml"
    broken.write_text((ROOT / "template.yaml").read_text(encoding="utf-8").replace("maxReceiveCount: 3", "maxReceiveCounts: 3"),
                      encoding="utf-8")
    result = subprocess.run([CFN_LINT, str(broken)], capture_output=True, text=True, timeout=300)
    assert result.returncode != 0 and "maxReceiveCounts" in result.stdout


def test_the_transform_runs_offline_and_yields_plain_cloudformation(cfn):
    types = {r["Type"] for r in cfn["Resources"].values()}
    assert not [t for t in types if t.startswith("AWS::Serverless::")]
    assert {"AWS::Lambda::EventSourceMapping", "AWS::Lambda::EventInvokeConfig", "AWS::IAM::Role",
            "AWS::StepFunctions::StateMachine"} <= types


def test_every_function_role_names_its_resources_and_no_wildcard_resource(cfn):
    for logical, resource in cfn["Resources"].items():
        if resource["Type"] != "AWS::IAM::Role":
            continue
        for policy in resource["Properties"].get("Policies", []):
            for statement in policy["PolicyDocument"]["Statement"]:
                resources = statement["Resource"] if isinstance(statement["Resource"], list) else [statement["Resource"]]
                assert "*" not in resources, f"{logical}: {statement}"
                actions = statement["Action"] if isinstance(statement["Action"], list) else [statement["Action"]]
                assert not [a for a in actions if a == "*" or a.endswith(":*")], f"{logical}: {statement}"


def test_a_broken_template_is_a_clear_error(sam):
    broken = copy.deepcopy(sam)
    broken["Resources"]["InventoryFunction"]["Properties"]["Events"]["Orders"]["Properties"]["ReportBatchItemFailures"] = True
    with pytest.raises(template.TemplateError, match="SAM の変換に失敗しました"):
        template.transform(broken)
    with pytest.raises(template.TemplateError, match="読めません"):
        template.load(ROOT / "no-such-template.yaml")


def test_every_handler_is_course_code_that_imports(cfn):
    handlers = {r["Properties"]["Handler"] for r in cfn["Resources"].values() if r["Type"] == "AWS::Lambda::Function"}
    for path in handlers:
        assert path.startswith("labs.course.") and callable(template.handler_of(path)), path


# --- building the sandbox from it -------------------------------------------------------------

def test_build_is_idempotent_and_wires_every_function(sam):
    first = template.build(sam)
    again = template.build(sam)
    assert {k: v.get("Ref") for k, v in first.physical.items()} == {k: v.get("Ref") for k, v in again.physical.items()}
    runtime = LocalRuntime()
    template.wire(runtime, again)
    wired = {source.function_name for source in runtime.sources}
    functions = set(again.functions())
    assert functions <= wired
    # FilterCriteria reach the runtime's mapping (the points function's), not a "skipped" note
    assert any(getattr(source, "filter_criteria", None) for source in runtime.sources)
    assert not any("FilterCriteria" in note for note in again.skipped)


def test_an_order_flows_through_the_built_system_and_a_poison_message_ends_in_alerts(sam):
    from labs.course.producers.eventbridge import publish_order_event

    stack = template.build(sam)
    runtime = LocalRuntime()
    template.wire(runtime, stack)
    lesson01.restock({"SKU-A": 5})
    alerts_inbox = provision.ensure_queue("test-alerts-inbox")
    provision.ensure_subscription(stack.ref("AlertsTopic"), alerts_inbox, raw=True)
    publish_order_event({"order_id": "ORD-T1", "customer_id": "C-1", "amount": 12000,
                         "items": [{"productId": "SKU-A", "quantity": 2}]}, "OrderCreated")
    publish_order_event({"order_id": "ORD-T2", "customer_id": "C-2", "amount": -500}, "OrderCreated")  # poison for points
    runtime.run_until_quiet()

    assert lesson01.inventory(["SKU-A"]) == {"SKU-A": {"available": 3, "reserved": 2}}  # bus -> order-service
    assert idempotent.points_of("C-1") == 120  # bus -> SNS fan-out -> points-queue -> points
    large = sandbox.client("sqs").receive_message(QueueUrl=stack.ref("LargeOrdersQueue"), MaxNumberOfMessages=10)
    assert [sns_message(m["Body"])["order"]["order_id"] for m in large.get("Messages", [])] == ["ORD-T1"]  # SNS envelope
    moved = recorder.select(kind="dlq", target="points-dlq")
    assert len(moved) == 1
    alert = sandbox.client("sqs").receive_message(QueueUrl=alerts_inbox)["Messages"]
    assert "ORD-T2" in json.loads(alert[0]["Body"])["body_preview"]
    rows = sandbox.resource("dynamodb").Table("failed-messages").scan()["Items"]
    assert [r["status"] for r in rows] == ["pending_review"]


def test_without_report_batch_item_failures_the_poison_message_is_lost(sam):
    # https://docs.aws.amazon.com/lambda/latest/dg/services-sqs-errorhandling.html: the batch response
    # is read only with ReportBatchItemFailures; a function that returns normally has its batch deleted.
    edited = copy.deepcopy(sam)
    del edited["Resources"]["PointsFunction"]["Properties"]["Events"]["Orders"]["Properties"]["FunctionResponseTypes"]
    stack = template.build(edited)
    runtime = LocalRuntime()
    template.wire(runtime, stack)
    sqs = sandbox.client("sqs")
    for body in ({"event_id": "e1", "customer_id": "C-9", "amount": 100}, {"event_id": "e2", "customer_id": "C-9", "amount": -1}):
        sqs.send_message(QueueUrl=stack.ref("PointsQueue"), MessageBody=json.dumps({"event_type": "OrderCreated", **body}))
    runtime.run_until_quiet()
    assert not recorder.select(kind="dlq")
    assert int(sqs.get_queue_attributes(QueueUrl=stack.ref("PointsDlq"), AttributeNames=["ApproximateNumberOfMessages"])
               ["Attributes"]["ApproximateNumberOfMessages"]) == 0


# --- agreement with the lessons ----------------------------------------------------------------

QUEUES = ["inventory-queue", "shipping-queue", "points-queue", "payment-requests", "shipping-requests", "refund-requests"]
TABLES = ["failed-messages", "inventory", "orders", "refunds", "stock", "payments", "shipments", "customer-summary",
          "customer-points", "processed-events"]


def read_back(queues=QUEUES, tables=TABLES) -> dict:
    """What the sandbox holds, in comparable form (names instead of URLs and ARNs)."""
    sqs, sns, ddb = sandbox.client("sqs"), sandbox.client("sns"), sandbox.client("dynamodb")
    out = {}
    existing = {u.rsplit("/", 1)[-1]: u for u in sqs.list_queues().get("QueueUrls", [])}
    for name in queues:
        if name in existing:
            attributes = sqs.get_queue_attributes(QueueUrl=existing[name], AttributeNames=["All"])["Attributes"]
            redrive = json.loads(attributes.get("RedrivePolicy", "{}"))
            out[f"queue {name}"] = {"VisibilityTimeout": attributes["VisibilityTimeout"],
                                    "dlq": redrive.get("deadLetterTargetArn", "").rsplit(":", 1)[-1],
                                    "maxReceiveCount": int(redrive.get("maxReceiveCount", 0))}
    for topic in sns.list_topics()["Topics"]:
        arn = topic["TopicArn"]
        for sub in sns.list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]:
            attributes = sns.get_subscription_attributes(SubscriptionArn=sub["SubscriptionArn"])["Attributes"]
            out[f"subscription {arn.rsplit(':', 1)[-1]} -> {sub['Endpoint'].rsplit(':', 1)[-1]}"] = {
                "raw": attributes.get("RawMessageDelivery", "false"),
                "filter": json.loads(attributes.get("FilterPolicy") or "null"),
                "scope": attributes.get("FilterPolicyScope", "MessageAttributes") if attributes.get("FilterPolicy") else None}
    for name in tables:
        try:
            table = ddb.describe_table(TableName=name)["Table"]
        except ddb.exceptions.ResourceNotFoundException:
            continue
        out[f"table {name}"] = {"key": [(k["AttributeName"], k["KeyType"]) for k in table["KeySchema"]],
                                "stream": table.get("StreamSpecification", {}).get("StreamViewType")}
    return out


def lessons_provision() -> tuple[dict, dict]:
    """Everything the lessons' own code provisions; returns the sandbox read back and the saga's runtime."""
    seed = provision.provision_seed()  # lesson 02: inventory/shipping queues, DLQs, alerts, failed-messages
    points = lesson03.create_queue_with_dlq("points-queue", "points-dlq", 3)  # lesson 03's exercise (reference)
    provision.ensure_subscription(seed.order_events_topic_arn, points, raw=True)
    large = provision.ensure_queue("large-orders-queue")  # lesson 02, section on body filter policies
    provision.ensure_subscription(seed.order_events_topic_arn, large, filter_policy=lesson02.large_order_policy(),
                                  filter_on_body=True)
    lesson01.ensure_order_tables()  # lesson 01
    lesson05.setup_cqrs()  # lesson 05: orders with a stream, customer-summary
    lesson05.provision_saga()  # lesson 05: stock/payments/shipments, worker queues, the state machine
    for name, key in idempotent.TABLES.items():  # lesson 06
        if name != idempotent.IDEMPOTENCY_TABLE:  # Powertools' table: the template's points function does not use it
            provision.ensure_table(name, key)
    runtime = LocalRuntime()
    lesson05.wire_saga_workers(runtime)
    return read_back(), runtime


def template_build(sam) -> tuple[dict, dict, template.Stack]:
    stack = template.build(sam)
    runtime = LocalRuntime()
    template.wire(runtime, stack)
    return read_back(), runtime, stack


def differences(lessons: dict, built: dict) -> list[str]:
    return [f"{key}: lessons {value} / template {built.get(key)}" for key, value in lessons.items() if built.get(key) != value]


def test_the_template_declares_what_the_lessons_provision(sam):
    lessons, lesson_runtime = lessons_provision()
    sandbox.reset()
    built, built_runtime, stack = template_build(sam)
    assert len(lessons) >= 20  # queues, subscriptions and tables were all read back
    assert differences(lessons, built) == []
    # The saga's workers take one message at a time in both.
    batch = lambda runtime: {s.function_name: s.batch_size for s in runtime.sources if isinstance(s, SqsSource)}  # noqa: E731
    assert {k: v for k, v in batch(built_runtime).items() if k in batch(lesson_runtime)} == batch(lesson_runtime)


def test_a_change_on_one_side_only_is_caught(sam):
    edited = copy.deepcopy(sam)
    edited["Resources"]["InventoryQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] = 5
    edited["Resources"]["LargeOrdersSubscription"]["Properties"]["FilterPolicy"]["order"]["amount"] = [{"numeric": [">", 10000]}]
    lessons, _ = lessons_provision()
    sandbox.reset()
    built, _, _ = template_build(edited)
    found = differences(lessons, built)
    assert any(d.startswith("queue inventory-queue") for d in found)
    assert any(d.startswith("subscription order-events -> large-orders-queue") for d in found)


def test_the_saga_definition_is_the_course_code_s_word_for_word(sam):
    stack = template.build(sam)
    described = sandbox.client("stepfunctions").describe_state_machine(stateMachineArn=stack.ref("OrderSaga"))
    urls = {name: sandbox.client("sqs").get_queue_url(QueueName=name)["QueueUrl"] for name in saga.WORKERS}
    assert json.loads(described["definition"]) == saga.definition(urls)


def test_names_and_environment_match_the_course_code(cfn):
    functions = {r["Properties"]["FunctionName"]: r["Properties"] for r in cfn["Resources"].values()
                 if r["Type"] == "AWS::Lambda::Function"}
    # The lessons' function names (runtime.on_queue(..., function_name=...) in the solutions and lesson05.wire_saga_workers).
    assert {"order-service", "inventory", "points", "dlq-handler", "project_order"} <= set(functions)
    assert {q.replace("-requests", "_worker") for q in saga.WORKERS} <= set(functions)
    tables = {logical: r["Properties"]["TableName"] for logical, r in cfn["Resources"].items()
              if r["Type"] == "AWS::DynamoDB::Table"}
    env = lambda name: {k: tables.get(v.get("Ref"), v) if isinstance(v, dict) else v  # noqa: E731
                        for k, v in functions[name]["Environment"]["Variables"].items()}
    assert env("order-service") == {"INVENTORY_TABLE": orders.INVENTORY_TABLE, "ORDERS_TABLE": orders.ORDERS_TABLE,
                                    "REFUNDS_TABLE": orders.REFUNDS_TABLE}
    assert env("dlq-handler")["FAILED_MESSAGES_TABLE"] == dlq.FAILED_MESSAGES_TABLE


@pytest.mark.parametrize("notebook, snippet", [
    # What lesson 01 wires the order service with, and lesson 02/03 the consumers: read from the solutions.
    ("01_eventbridge.ipynb", 'ensure_rule(ORDERS_BUS, "order-service", event_pattern={"source": [ORDER_SOURCE]})'),
    ("01_eventbridge.ipynb", 'failures = ensure_queue("order-service-failed")'),
    ("01_eventbridge.ipynb", 'runtime.on_rule(ORDERS_BUS, "order-service", lambda_handler, function_name="order-service",\n'
                             '                          on_failure=failures)'),
    ("02_fanout.ipynb", 'runtime.on_queue(inventory_url, inventory_handler, function_name="inventory", batch_size=10)'),
    ("03_dlq.ipynb", 'provision.ensure_subscription(order_events, points_url, raw=True)'),
    ("03_dlq.ipynb", 'runtime.on_queue(dlq_url, dlq_handler, function_name="dlq-handler")'),
])
def test_the_lessons_still_wire_what_the_template_declares(notebook, snippet):
    assert snippet in notebook_source(notebook), f"{notebook} no longer says {snippet}: update template.yaml with it"


def test_the_template_matches_those_lesson_settings(sam):
    resources = sam["Resources"]
    rule = resources["OrderServiceFunction"]["Properties"]["Events"]["OrderEvents"]["Properties"]
    assert (rule["RuleName"], rule["Pattern"]) == ("order-service", {"source": [ORDER_SOURCE]})
    on_failure = resources["OrderServiceFunction"]["Properties"]["EventInvokeConfig"]["DestinationConfig"]["OnFailure"]
    assert on_failure["Destination"] == {"Fn::GetAtt": ["OrderServiceFailedQueue", "Arn"]}
    assert resources["OrderServiceFailedQueue"]["Properties"]["QueueName"] == "order-service-failed"
    inventory = resources["InventoryFunction"]["Properties"]["Events"]["Orders"]["Properties"]
    assert inventory["BatchSize"] == 10 and inventory["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    assert resources["PointsSubscription"]["Properties"]["RawMessageDelivery"] is True
    assert re.fullmatch(r"labs\.course\.consumers\.dlq\.lambda_handler", resources["DlqHandlerFunction"]["Properties"]["Handler"])
