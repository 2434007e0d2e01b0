"""Lesson 05: setting up, wiring, running and drawing the three patterns.

The patterns themselves are course code (``labs.course.patterns``: handlers, workers and the
saga's state machine definition), exactly what would be deployed. What a deployment tool
and the AWS console would do around them is here: the tables and the stock on the shelves,
the rules and mappings that connect the handlers (to the local runtime), a driver that runs
an execution to its end, and the pictures.
"""
from __future__ import annotations

import json
import threading
import time
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timezone

from labs import sandbox
from labs.course.names import REGION
from labs.course.patterns import choreography, cqrs, saga
from labs.observe.items import table_rows
from labs.runtime import LocalRuntime, shapes
from labs.sandbox import provision
from labs.sandbox.clock import clock

STOCK_TABLE = "stock"  # sku -> available: the inventory service's table, and the saga's


def fill_stock(stock: dict[str, int]) -> None:
    """Put ``stock`` (sku -> units) on the shelves of the ``stock`` table."""
    for sku, units in stock.items():
        sandbox.client("dynamodb").put_item(TableName=STOCK_TABLE,
                                            Item={"sku": {"S": sku}, "available": {"N": str(units)}})


# --- choreography ----------------------------------------------------------------------

# What each service received, in order: (service, event, handled without error).
choreography_deliveries: list[tuple[str, dict, bool]] = []


def setup_choreography(stock: dict[str, int]) -> None:
    """Fresh service tables, with ``stock`` on the shelves, and the bus."""
    provision.ensure_bus(choreography.bus_name())
    choreography_deliveries.clear()
    provision.recreate_table(choreography.ORDER_STATUS_TABLE, "order_id")
    provision.recreate_table(choreography.STOCK_TABLE, "sku")
    fill_stock(stock)


def _noting_deliveries(service: str, handler):
    """The handler as wired: notes each event it receives, then runs it unchanged."""

    def noted(event, context):
        try:
            result = handler(event, context)
        except Exception:
            choreography_deliveries.append((service, event, False))
            raise
        choreography_deliveries.append((service, event, True))
        return result

    return noted


def wire_choreography(runtime, handlers: dict | None = None) -> None:
    """One EventBridge rule per service, each targeting that service's handler
    (``handlers`` replaces some, e.g. the exercise's payment service)."""
    handlers = {**choreography.HANDLERS, **(handlers or {})}
    bus = choreography.bus_name()
    for service in choreography.SUBSCRIPTIONS:
        rule = f"{service}-service"
        provision.ensure_rule(bus, rule, event_pattern=choreography.rule_pattern(service))
        runtime.on_rule(bus, rule, _noting_deliveries(service, handlers[service]), function_name=f"{service}_service")


def example_event(detail_type: str, detail: dict, service: str = "order") -> dict:
    """An EventBridge event of ``service`` as a rule's target receives it (for reading and for checks)."""
    return shapes.rule_target_event(detail_type, detail, source=choreography.SOURCES[service],
                                    account=sandbox.ACCOUNT_ID, region=REGION,
                                    time=datetime(2026, 1, 15, 9, 0, tzinfo=timezone.utc))


def event_chain(order_id: str) -> list[dict]:
    """One order's chain of events: each event (by id) once, with every service that received it.

    Only the latest time the order was placed: a cell run again places it again, and the
    chain it shows is that run's, not every run's.
    """
    by_source = {source: service for service, source in choreography.SOURCES.items()}
    steps: dict[str, dict] = {}
    for service, event, ok in choreography_deliveries:
        if event.get("detail", {}).get("order_id") != order_id:
            continue
        if event["detail-type"] == "OrderPlaced" and event["id"] not in steps:
            steps.clear()  # placed again: a new chain starts
        step = steps.setdefault(event["id"], {
            "順番": len(steps) + 1, "イベント": event["detail-type"],
            "発行元": by_source.get(event["source"], event["source"]), "受信": [],
        })
        step["受信"].append(service + ("" if ok else " (失敗)"))
    return [{**s, "受信": ", ".join(s["受信"])} for s in steps.values()]


def choreography_tables(order_id: str | None = None) -> dict[str, list[dict]]:
    """The services' own tables, as they are now."""
    orders = table_rows(choreography.ORDER_STATUS_TABLE, "order_id")
    if order_id:
        orders = [o for o in orders if o["order_id"] == order_id]
    return {"order-status": orders, "stock": table_rows(choreography.STOCK_TABLE, "sku")}


def plot_event_chain(steps: list[dict], title: str = "1 件の注文のイベントの連鎖", ax=None):
    """Services as lanes, events as arrows from the emitting service to each receiver."""
    import matplotlib.pyplot as plt

    import labs.observe.plots  # noqa: F401  (Japanese fonts)

    lanes = ["order", "inventory", "payment", "shipping"]
    if ax is None:
        _, ax = plt.subplots(figsize=(10, 3.4))
    for x, step in enumerate(steps):
        start = lanes.index(step["発行元"])
        failed = "PaymentFailed" in step["イベント"] or "Unavailable" in step["イベント"]
        colour = "tab:red" if failed else ("tab:orange" if step["イベント"] == "StockReleased" else "tab:blue")
        receivers = [r.split(" ")[0] for r in step["受信"].split(", ") if r]
        for receiver in receivers:
            ax.annotate("", xy=(x + 0.9, lanes.index(receiver)), xytext=(x, start),
                        arrowprops={"arrowstyle": "->", "color": colour, "lw": 1.6})
        ax.scatter([x], [start], color=colour, s=50, zorder=3)
        ax.annotate(step["イベント"], (x, start), textcoords="offset points", xytext=(4, 7), fontsize=8, color=colour)
    ax.set_yticks(range(len(lanes)), [f"{lane} サービス" for lane in lanes])
    ax.set_xticks(range(len(steps) + 1))
    ax.set_xlim(-0.3, len(steps) + 0.3)
    ax.set_ylim(len(lanes) - 0.5, -0.7)
    ax.set_xlabel("イベントの順番 (矢印: 発行したサービス → 受け取ったサービス)")
    ax.set_title(title)
    ax.grid(axis="x", alpha=0.3)
    ax.figure.tight_layout()
    return ax


# --- saga (Step Functions) ------------------------------------------------------------------

SAGA_TABLES = ((saga.STOCK_TABLE, "sku"), (saga.PAYMENTS_TABLE, "order_id"), (saga.SHIPMENTS_TABLE, "order_id"))
SAGA_ROLE = "order-saga"  # moto does not check the role; AWS needs one Step Functions may assume


def deploy_saga(stock: dict[str, int]) -> str:
    """Fresh tables (``stock`` on the shelves), the worker queues and the state machine.

    Returns the state machine's ARN. Safe to run again: tables start over.
    """
    restock_saga(stock)
    return provision_saga()


def restock_saga(stock: dict[str, int]) -> None:
    """The saga's tables empty again, with ``stock`` on the shelves: a cell that runs orders
    starts from here, so running it again tells the same story."""
    for table, key in SAGA_TABLES:
        provision.recreate_table(table, key)
    fill_stock(stock)


def provision_saga() -> str:
    """Tables (kept if present), worker queues and the state machine (updated in place)."""
    for table, key in SAGA_TABLES:
        provision.ensure_table(table, key)
    urls = {name: _worker_queue(name) for name in saga.WORKERS}
    body = json.dumps(saga.definition(urls), ensure_ascii=False)
    sfn = sandbox.client("stepfunctions")
    account = sandbox.client("sts").get_caller_identity()["Account"]
    role_arn = f"arn:aws:iam::{account}:role/{SAGA_ROLE}"
    existing = [m["stateMachineArn"] for m in sfn.list_state_machines()["stateMachines"]
                if m["name"] == saga.STATE_MACHINE]
    if existing:
        sfn.update_state_machine(stateMachineArn=existing[0], definition=body, roleArn=role_arn)
        return existing[0]
    return sfn.create_state_machine(name=saga.STATE_MACHINE, definition=body, roleArn=role_arn)["stateMachineArn"]


def wire_saga_workers(runtime, workers: dict | None = None) -> None:
    """Each worker on its queue's SQS mapping (``workers`` replaces some, e.g. an exercise's)."""
    for queue, worker in {**saga.WORKERS, **(workers or {})}.items():
        runtime.on_queue(_worker_queue(queue), worker, function_name=queue.replace("-requests", "_worker"), batch_size=1)


def _worker_queue(name: str) -> str:
    """A worker's queue: a crashing worker's message is tried 3 times, then parked in its DLQ."""
    return provision.ensure_queue(name, visibility_timeout=30, dead_letter_queue=f"{name}-dlq", max_receive_count=3)


class SagaTimeout(RuntimeError):
    """The execution did not finish in time (a worker never answered its task token)."""


@dataclass
class SagaExecution:
    arn: str
    status: str  # SUCCEEDED | FAILED | ...
    output: dict | None
    error: str | None
    cause: str | None
    history: list[dict]
    worker_errors: list = field(default_factory=list)  # invocations of a worker that raised

    @property
    def states(self) -> list[str]:
        """The states entered, in order."""
        return [row["ステート"] for row in self.history if row["イベント"].endswith("StateEntered")]

    @property
    def compensations(self) -> list[str]:
        return [name for name in self.states if name in saga.COMPENSATIONS]


def run_saga(runtime, state_machine_arn: str, order: dict, *, timeout: float = 10.0) -> SagaExecution:
    """Start an execution for ``order`` and drive the workers until it ends.

    Step Functions runs in moto's background thread; this loop hands the messages it
    sends to the workers (``runtime.deliver_due``) and polls ``describe_execution``.
    A worker that raises is treated as on AWS: its message comes back after the visibility
    timeout and is retried (3 times, then the queue's DLQ), nobody answers the task token, and
    after the step's ``TimeoutSeconds`` ``States.Timeout`` goes through its ``Catch``. Those
    minutes pass at once on the sandbox clock. ``timeout`` (real seconds) is for a worker that
    returns without answering: then ``SagaTimeout`` says so at once.
    """
    sfn = sandbox.client("stepfunctions")
    # moto names an unnamed execution "None" (AWS makes a UUID), so always name it.
    name = f"{order['order_id']}-{uuid.uuid4()}"
    seen = len(runtime.invocations())
    arn = sfn.start_execution(stateMachineArn=state_machine_arn, name=name, input=json.dumps(order))["executionArn"]
    deadline, crashed_at = time.monotonic() + timeout, None
    while True:
        made = runtime.deliver_due()
        described = sfn.describe_execution(executionArn=arn)
        if described["status"] != "RUNNING":
            break
        if crashed_at is None and any(not call.ok for call in runtime.invocations()[seen:]):
            crashed_at, deadline = clock.now(), time.monotonic() + timeout
        if crashed_at is not None and not made:  # let AWS's waits pass: the next retry, or the step's timeout
            due = [d for source in runtime.sources for d in [source.next_due()] if d is not None]
            clock.skip_to(min(due + [crashed_at + saga.WORKER_TIMEOUT_SECONDS]))
        if time.monotonic() > deadline:
            sfn.stop_execution(executionArn=arn, error="SagaTimeout", cause="ワーカーが応答しませんでした")
            waiting = [row["ステート"] for row in execution_history(arn) if row["イベント"] == "TaskStateEntered"][-1:]
            raise SagaTimeout(
                f"実行 {name} が {timeout} 秒以内に終わりませんでした (待っていたステート: {', '.join(waiting) or '?'})。"
                "ワーカーが send_task_success / send_task_failure を呼んでいるか確認してください。"
            )
        time.sleep(0.005)
    output = described.get("output")
    return SagaExecution(arn, described["status"], json.loads(output) if output else None,
                         described.get("error"), described.get("cause"), execution_history(arn),
                         [call for call in runtime.invocations()[seen:] if not call.ok])


_DETAIL_KEYS = {"stateEnteredEventDetails", "stateExitedEventDetails"}


def execution_history(execution_arn: str) -> list[dict]:
    """The execution's history as rows: elapsed time, event, state, error."""
    events = []
    pages = sandbox.client("stepfunctions").get_paginator("get_execution_history").paginate(executionArn=execution_arn)
    for page in pages:
        events += page["events"]
    start: datetime | None = events[0]["timestamp"] if events else None
    rows, state = [], ""
    for event in events:
        details = next((v for k, v in event.items() if k.endswith("EventDetails")), {})
        if any(k in event for k in _DETAIL_KEYS):
            state = details.get("name", state)
        rows.append({
            "#": event["id"],
            "経過": f"+{(event['timestamp'] - start).total_seconds():.3f}s",
            "イベント": event["type"],
            "ステート": state if not event["type"].startswith("Execution") else "",
            "エラー": " ".join(x for x in (details.get("error"), _short(details.get("cause"))) if x),
        })
    return rows


def _short(cause: str | None) -> str | None:
    """A service error's cause without its request id (different on every run)."""
    return cause.split(" (Service:")[0] if cause else cause


def compact_history(rows: list[dict]) -> list[dict]:
    """Only what a reader needs: states entered, tasks that failed, how the execution ended."""
    keep = ("StateEntered", "TaskFailed", "ExecutionSucceeded", "ExecutionFailed", "ExecutionStarted")
    return [row for row in rows if row["イベント"].endswith(keep)]


def saga_tables(order_id: str | None = None) -> dict[str, list[dict]]:
    """The saga's tables now (payments and shipments of ``order_id`` only, if given)."""
    def mine(rows):
        return [r for r in rows if order_id is None or r["order_id"] == order_id]

    return {
        saga.STOCK_TABLE: table_rows(saga.STOCK_TABLE, "sku"),
        saga.PAYMENTS_TABLE: mine(table_rows(saga.PAYMENTS_TABLE, "order_id")),
        saga.SHIPMENTS_TABLE: mine(table_rows(saga.SHIPMENTS_TABLE, "order_id")),
    }


def plot_saga(execution: SagaExecution, title: str = "", ax=None):
    """A Gantt chart of the states: when each was entered and left; compensations in orange."""
    import matplotlib.pyplot as plt

    import labs.observe.plots  # noqa: F401  (Japanese fonts)

    spans: list[list] = []  # [state, start, end, failed]
    for row in execution.history:
        t = float(row["経過"][1:-1])
        if row["イベント"].endswith("StateEntered"):
            spans.append([row["ステート"], t, t, False])
        elif spans and row["ステート"] == spans[-1][0]:
            spans[-1][2] = t
            spans[-1][3] = spans[-1][3] or row["イベント"] == "TaskFailed"
    if ax is None:
        _, ax = plt.subplots(figsize=(8, 0.45 * len(spans) + 1.4))
    for lane, (name, start, end, failed) in enumerate(spans):
        colour = "tab:red" if failed or name == "OrderFailed" else (
            "tab:orange" if name in saga.COMPENSATIONS else "tab:green")
        ax.barh(lane, max(end - start, 0.002), left=start, color=colour)
        ax.annotate(f"{(end - start) * 1000:.0f} ms", (end, lane), xytext=(4, -3),
                    textcoords="offset points", fontsize=8)
    ax.set_yticks(range(len(spans)), [s[0] for s in spans])
    ax.invert_yaxis()
    last = max((end for _, _, end, _ in spans), default=0.0)
    ax.set_xlim(0, last * 1.2 or 1.0)  # room right of the last bar for its "NN ms"
    ax.set_xlabel("実行開始からの経過 (秒)")
    ax.set_title(title or f"Saga の実行 ({execution.status})")
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in ("tab:green", "tab:orange", "tab:red")]
    ax.legend(handles, ["正常なステップ", "補償", "失敗"], loc="upper right", fontsize=8)
    ax.figure.tight_layout()
    return ax


# --- CQRS (DynamoDB Streams) ------------------------------------------------------------------

SUMMARY_COLUMNS = ["customer_id", "order_count", "total_amount", "cancelled_count"]


def setup_cqrs() -> None:
    """Both tables, empty: the orders table with a stream carrying old and new images."""
    provision.recreate_table(cqrs.ORDERS_TABLE, "order_id", stream="NEW_AND_OLD_IMAGES")
    provision.recreate_table(cqrs.SUMMARY_TABLE, "customer_id")


CQRS_ORDERS = (("o1", "alice", 1000), ("o2", "alice", 2500), ("o3", "bob", 700))


def start_cqrs(projector) -> LocalRuntime:
    """Fresh tables, ``projector`` on the orders stream of a new runtime, and the three orders
    (``CQRS_ORDERS``) written and projected: where a cell that changes an order starts from."""
    setup_cqrs()
    runtime = LocalRuntime()
    runtime.on_stream(cqrs.ORDERS_TABLE, projector, function_name="project_order")
    for order_id, customer_id, amount in CQRS_ORDERS:
        cqrs.place_order(order_id, customer_id, amount)
    runtime.run_until_quiet()
    return runtime


def read_model() -> list[dict]:
    """The read model (customer-summary), every row, every column."""
    return [{c: row.get(c, 0) for c in SUMMARY_COLUMNS} for row in table_rows(cqrs.SUMMARY_TABLE, "customer_id")]


def write_model() -> list[dict]:
    """The write model (orders), every row."""
    return table_rows(cqrs.ORDERS_TABLE, "order_id")


@dataclass
class LagSample:
    order_id: str
    written_at: float  # seconds since the measurement started
    projected_at: float

    @property
    def lag(self) -> float:
        return self.projected_at - self.written_at


def measure_projection_lag(*, orders: int = 20, spacing: float = 0.03, poll_interval: float = 0.25,
                           projector=cqrs.project_order, timeout: float = 20.0) -> list[LagSample]:
    """Write ``orders`` orders while the projector runs in the background; return each one's lag.

    ``poll_interval`` is how often the stream mapping polls (Lambda polls a shard about
    four times a second). Starts from empty tables.
    """
    setup_cqrs()
    started = time.monotonic()
    written: dict[str, float] = {}
    projected: dict[str, float] = {}
    lock = threading.Lock()

    def timed_projector(event, context):  # the projector, plus a note of when each order got through
        result = projector(event, context)
        now = time.monotonic() - started
        with lock:
            for record in event["Records"]:
                image = record["dynamodb"].get("NewImage") or record["dynamodb"]["OldImage"]
                projected.setdefault(image["order_id"]["S"], now)
        return result

    runtime = LocalRuntime()
    runtime.on_stream(cqrs.ORDERS_TABLE, timed_projector, function_name="project_order")
    with runtime.running(poll_interval=poll_interval):
        for n in range(orders):
            order_id = f"lag-{n:03d}"
            cqrs.place_order(order_id, f"customer-{n % 3}", 1000 + n)
            written[order_id] = time.monotonic() - started
            time.sleep(spacing)
        deadline = time.monotonic() + timeout
        while len(projected) < orders and time.monotonic() < deadline:
            time.sleep(0.02)
    missing = sorted(set(written) - set(projected))
    if missing:
        raise TimeoutError(f"{timeout} 秒待っても読み取りモデルに反映されない注文があります: {missing[:5]}")
    return [LagSample(o, written[o], projected[o]) for o in sorted(written)]


def plot_projection_lag(samples: list[LagSample], title: str = "書き込みから読み取りモデルへの反映まで"):
    """Left: orders written vs projected over time. Right: each order's lag."""
    import matplotlib.pyplot as plt

    import labs.observe.plots  # noqa: F401  (Japanese fonts)

    fig, (left, right) = plt.subplots(1, 2, figsize=(11, 3.6))
    writes = sorted(s.written_at for s in samples)
    projections = sorted(s.projected_at for s in samples)
    left.step(writes, range(1, len(writes) + 1), where="post", label="書き込み済み (orders)")
    left.step(projections, range(1, len(projections) + 1), where="post", label="反映済み (customer-summary)")
    left.set_xlabel("経過 (秒)")
    left.set_ylabel("注文の件数 (累計)")
    left.set_title("読み取りモデルは遅れて追いつく")
    left.legend(fontsize=8)
    lags_ms = [s.lag * 1000 for s in samples]
    right.bar(range(len(samples)), lags_ms, color="tab:orange")
    right.axhline(sum(lags_ms) / len(lags_ms), color="black", linestyle="--", label="平均")
    right.set_xlabel("注文 (書き込み順)")
    right.set_ylabel("遅延 (ミリ秒)")
    right.set_title("注文ごとの反映遅延")
    right.legend(fontsize=8)
    fig.suptitle(title)
    fig.tight_layout()
    return fig
