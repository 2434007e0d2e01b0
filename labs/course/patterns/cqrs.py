"""CQRS: orders are written to one table and read from another, shaped for reading.

    place_order / cancel_order --> orders (write model) --DynamoDB Streams--> project_order
                                                                                  |
    "how much has this customer ordered?" <-- customer-summary (read model) <-----+

The write side only records facts about single orders. The projector, fed by the
table's stream, keeps a per-customer summary up to date, so a question about a
customer is one ``get_item`` instead of a scan over every order. The price is
eventual consistency: between a write and its projection the read model is behind.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass

from labs.course import aws
from labs.course.patterns import recreate_table, table_rows

ORDERS_TABLE = "orders"
SUMMARY_TABLE = "customer-summary"
SUMMARY_COLUMNS = ["customer_id", "order_count", "total_amount", "cancelled_count"]


# --- the write side (commands) ---------------------------------------------------------

def place_order(order_id: str, customer_id: str, amount: int, *, table: str = ORDERS_TABLE) -> None:
    """Record a new order; an order id can be placed only once."""
    aws.client("dynamodb").put_item(
        TableName=table,
        Item={"order_id": {"S": order_id}, "customer_id": {"S": customer_id},
              "amount": {"N": str(amount)}, "status": {"S": "PLACED"}},
        ConditionExpression="attribute_not_exists(order_id)",
    )


def cancel_order(order_id: str, *, table: str = ORDERS_TABLE) -> None:
    """Cancel a placed order (a cancelled one stays cancelled)."""
    aws.client("dynamodb").update_item(
        TableName=table, Key={"order_id": {"S": order_id}},
        UpdateExpression="SET #status = :cancelled",
        ConditionExpression="#status = :placed",
        ExpressionAttributeNames={"#status": "status"},
        ExpressionAttributeValues={":cancelled": {"S": "CANCELLED"}, ":placed": {"S": "PLACED"}},
    )


# --- the projector (a DynamoDB Streams handler) -------------------------------------------

def _active(image: dict | None) -> tuple[int, int]:
    """(orders, amount) an order image counts for in the summary: only placed orders count."""
    if not image or image["status"]["S"] != "PLACED":
        return 0, 0
    return 1, int(image["amount"]["N"])


def summary_change(record: dict) -> dict | None:
    """How one stream record changes its customer's summary (None: it does not).

    Works from the difference between the old and the new image, so INSERT, MODIFY
    and REMOVE are all the same calculation.
    """
    old, new = record["dynamodb"].get("OldImage"), record["dynamodb"].get("NewImage")
    (orders_before, amount_before), (orders_after, amount_after) = _active(old), _active(new)
    became_cancelled = bool(new) and new["status"]["S"] == "CANCELLED" and (not old or old["status"]["S"] != "CANCELLED")
    change = {"order_count": orders_after - orders_before, "total_amount": amount_after - amount_before,
              "cancelled_count": int(became_cancelled)}
    if not any(change.values()):
        return None
    return {"customer_id": (new or old)["customer_id"]["S"], **change}


def project_order(event, context):
    """Apply each order change to the customer's summary (ADD: no read, no race)."""
    ddb = aws.client("dynamodb")
    for record in event["Records"]:
        change = summary_change(record)
        if change is None:
            continue
        ddb.update_item(
            TableName=SUMMARY_TABLE, Key={"customer_id": {"S": change["customer_id"]}},
            UpdateExpression="ADD order_count :orders, total_amount :amount, cancelled_count :cancelled",
            ExpressionAttributeValues={
                ":orders": {"N": str(change["order_count"])},
                ":amount": {"N": str(change["total_amount"])},
                ":cancelled": {"N": str(change["cancelled_count"])},
            },
        )


# --- the read side (queries) -------------------------------------------------------------

def customer_summary(customer_id: str) -> dict | None:
    """One customer's summary: a single key lookup."""
    item = aws.client("dynamodb").get_item(TableName=SUMMARY_TABLE, Key={"customer_id": {"S": customer_id}}).get("Item")
    if item is None:
        return None
    return {name: (value.get("S") or int(value["N"])) for name, value in item.items()}


def read_model() -> list[dict]:
    return [{c: row.get(c, 0) for c in SUMMARY_COLUMNS} for row in table_rows(SUMMARY_TABLE, "customer_id")]


def write_model() -> list[dict]:
    return table_rows(ORDERS_TABLE, "order_id")


def setup() -> None:
    """Both tables, empty: the orders table with a stream carrying old and new images."""
    recreate_table(ORDERS_TABLE, "order_id", stream="NEW_AND_OLD_IMAGES")
    recreate_table(SUMMARY_TABLE, "customer_id")


# --- measuring the lag -------------------------------------------------------------------------

@dataclass
class LagSample:
    order_id: str
    written_at: float  # seconds since the measurement started
    projected_at: float

    @property
    def lag(self) -> float:
        return self.projected_at - self.written_at


def measure_lag(runtime_class, *, orders: int = 20, spacing: float = 0.03, poll_interval: float = 0.25,
                projector=project_order, timeout: float = 20.0) -> list[LagSample]:
    """Write ``orders`` orders while the projector runs in the background; return each one's lag.

    ``poll_interval`` is how often the stream mapping polls (Lambda polls a shard about
    four times a second). Starts from empty tables.
    """
    setup()
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

    runtime = runtime_class()
    runtime.on_stream(ORDERS_TABLE, timed_projector, function_name="project_order")
    with runtime.running(poll_interval=poll_interval):
        for n in range(orders):
            order_id = f"lag-{n:03d}"
            place_order(order_id, f"customer-{n % 3}", 1000 + n)
            written[order_id] = time.monotonic() - started
            time.sleep(spacing)
        deadline = time.monotonic() + timeout
        while len(projected) < orders and time.monotonic() < deadline:
            time.sleep(0.02)
    missing = sorted(set(written) - set(projected))
    if missing:
        raise TimeoutError(f"{timeout} 秒待っても読み取りモデルに反映されない注文があります: {missing[:5]}")
    return [LagSample(o, written[o], projected[o]) for o in sorted(written)]


def plot_lag(samples: list[LagSample], title: str = "書き込みから読み取りモデルへの反映まで"):
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
