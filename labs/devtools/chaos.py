"""A soak test: thousands of orders through SNS -> SQS -> handler while things go wrong.

``python -m labs.devtools.chaos`` (``make chaos``) runs the same pipeline many times, each run
with its own seed and handler failure rate (0 to 50 %), plus poison messages, crashes
after a partial side effect, handlers slower than the visibility timeout, and SQS's
own duplicates and reordering (labs.runtime.delivery). After each run the ledger (labs.observe.ledger)
must balance: every published order processed exactly once or parked in the DLQ,
none lost, no side effect applied twice. The last line reads::

    runs=N published=P processed=Q dlq=D lost=0 double_effects=0

and the exit status is 0 only then. Just before it, the soak's wall time, and the same soak
run again on bare moto (without the SQS depth mend, in a subprocess) for comparison::

    wall=W s bare_wall=B s bare/mended=R

(``--no-compare`` leaves the second soak out; ``--bare`` runs only on bare moto.)
"""
from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from pathlib import Path
from datetime import datetime, timezone

import boto3
from botocore.exceptions import ClientError

from labs import sandbox
from labs.course.consumers.batch import partial_batch_response
from labs.course.envelopes import sns_message
from labs.observe import ledger
from labs.sandbox import provision
from labs.runtime.delivery import RealisticDelivery
from labs.runtime.faults import Faults
from labs.observe import recorder
from labs.runtime import LocalRuntime

TOPIC = "chaos-orders"
QUEUE = "chaos-inventory-queue"
DEAD_LETTER_QUEUE = "chaos-inventory-dlq"
TABLE = "chaos-inventory"  # one item per order: the idempotency record and the effect counter
VISIBILITY_TIMEOUT = 30
MAX_RECEIVE_COUNT = 3

FAILURE_RATES = (0.0, 0.1, 0.2, 0.3, 0.5)


# --- the consumer under test: plain boto3, as it would run on Lambda ----------------------

def make_handler(table_name: str, faults: Faults, idempotent: bool = True):
    """An SQS handler (SNS envelopes) that reserves stock for each order, once per order."""
    table = boto3.resource("dynamodb").Table(table_name)

    def process_message(order: dict) -> None:
        order_id = order["order_id"]
        faults.start(order_id)
        # First side effect: mark stock as reserved. Setting a value is safe to repeat.
        table.update_item(Key={"order_id": order_id}, UpdateExpression="SET reserved = :yes",
                          ExpressionAttributeValues={":yes": True})
        faults.crash_point(order_id)
        # The effect that must happen once: a conditional write keyed by the order id.
        # A duplicate delivery (or a retry after a crash) finds processed_at set and stops.
        update = {
            "Key": {"order_id": order_id},
            "UpdateExpression": "SET processed_at = :now ADD applied :one",
            "ExpressionAttributeValues": {":now": datetime.now(timezone.utc).isoformat(), ":one": 1},
        }
        if idempotent:
            update["ConditionExpression"] = "attribute_not_exists(processed_at)"
        try:
            table.update_item(**update)
        except ClientError as error:
            if error.response["Error"]["Code"] != "ConditionalCheckFailedException":
                raise
            # Already processed: the duplicate is absorbed, and the message counts as done.

    def lambda_handler(event, context):
        return partial_batch_response(event, lambda record: process_message(sns_message(record["body"])),
                                      on_failure=_expected)  # thousands of injected failures: not printed

    return lambda_handler


def _expected(record, error) -> None:
    """The soak injects its failures; the ledger, not a log line, says whether any was lost."""


# --- one run ------------------------------------------------------------------------------

def build_world() -> tuple[str, str]:
    """The soak's world; returns (topic ARN, queue URL)."""
    topic = provision.ensure_topic(TOPIC)
    queue = provision.ensure_queue(QUEUE, visibility_timeout=VISIBILITY_TIMEOUT,
                                   dead_letter_queue=DEAD_LETTER_QUEUE, max_receive_count=MAX_RECEIVE_COUNT)
    provision.ensure_subscription(topic, queue)
    provision.ensure_table(TABLE, "order_id")
    return topic, queue


def publish_orders(topic_arn: str, first: int, count: int) -> None:
    sns = sandbox.client("sns")
    for start in range(first, first + count, 10):
        entries = [
            {"Id": str(i), "Message": json.dumps({"order_id": f"order-{i:06d}", "quantity": 1 + i % 3})}
            for i in range(start, min(start + 10, first + count))
        ]
        sns.publish_batch(TopicArn=topic_arn, PublishBatchRequestEntries=entries)


def run(seed: int, messages: int, failure_rate: float, *, duplicate_rate: float = 0.05, poison_rate: float = 0.005,
        crash_rate: float = 0.05, slow_rate: float = 0.01, round_size: int = 50, idempotent: bool = True,
        progress=None) -> tuple[ledger.Ledger, Faults]:
    """Publish ``messages`` orders in rounds of ``round_size`` and drain each round; return the ledger."""
    sandbox.start()
    sandbox.reset()
    recorder.clear()
    topic, queue = build_world()
    faults = Faults(seed=seed, failure_rate=failure_rate, poison_rate=poison_rate, crash_rate=crash_rate,
                    slow_rate=slow_rate, slow_seconds=2 * VISIBILITY_TIMEOUT)
    runtime = LocalRuntime(delivery=RealisticDelivery(seed=seed, duplicate_rate=duplicate_rate))
    runtime.on_queue(queue, make_handler(TABLE, faults, idempotent), function_name="inventory")
    for first in range(0, messages, round_size):
        count = min(round_size, messages - first)
        publish_orders(topic, first, count)
        runtime.run_until_quiet()
        if progress is not None:
            progress.update(count)
    return ledger.take(published_to=TOPIC, queue_url=queue, effects_table=TABLE), faults


# --- the command ----------------------------------------------------------------------------

def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.devtools.chaos", description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, default=5, help="seeds 1..N (default 5)")
    parser.add_argument("--messages", type=int, default=240, help="orders per run (default 240)")
    parser.add_argument("--rates", type=float, nargs="+", default=list(FAILURE_RATES), help="handler failure rates")
    parser.add_argument("--duplicate-rate", type=float, default=0.05)
    parser.add_argument("--round-size", type=int, default=50, help="orders published before each drain")
    parser.add_argument("--quick", action="store_true",
                        help="a short soak for tests (2 seeds x 2 rates x 40 orders, no comparison)")
    parser.add_argument("--bare", action="store_true", help="run on bare moto, without the SQS depth mend")
    parser.add_argument("--no-compare", action="store_true", help="skip the same soak on bare moto")
    args = parser.parse_args(argv)
    if args.quick:
        args.seeds, args.messages, args.rates, args.no_compare = 2, 40, [0.0, 0.5], True
    if args.bare:
        from labs.sandbox.mends import sqs_queue_depth

        sandbox.start()
        sqs_queue_depth.undo()

    from tqdm import tqdm

    plan = [(seed, rate) for seed in range(1, args.seeds + 1) for rate in args.rates]
    if not plan or args.messages < 1:
        parser.error("--seeds と --messages は 1 以上にしてください")
    total = None
    started = time.monotonic()
    with tqdm(total=len(plan) * args.messages, unit="msg", file=sys.stderr, leave=False, mininterval=0.5) as bar:
        for seed, rate in plan:
            run_started = time.monotonic()
            result, faults = run(seed, args.messages, rate, duplicate_rate=args.duplicate_rate,
                                 round_size=args.round_size, progress=bar)
            total = result if total is None else total + result
            verdict = "ok" if result.ok and not result.in_flight else "NG"
            tqdm.write(f"seed={seed} failure_rate={rate:.2f} {result.line()} faults: {faults.summary()} "
                       f"{time.monotonic() - run_started:.1f}s {verdict}", file=sys.stdout)
    wall = time.monotonic() - started
    passed = total.ok and total.in_flight == 0
    if total.in_flight:
        print(f"未完了のメッセージが {total.in_flight} 件残っています", file=sys.stderr)
    print(f"wall={wall:.1f}s" if args.no_compare or args.bare else _compare_with_bare(wall, args), flush=True)
    print(f"runs={len(plan)} published={total.published} processed={total.processed} dlq={total.dlq} "
          f"lost={total.lost} double_effects={total.double_effects}")
    return 0 if passed else 1


def _compare_with_bare(wall: float, args) -> str:
    """The same soak on bare moto, in a fresh process (the mend is per process); its wall time beside ours."""
    command = [sys.executable, "-m", "labs.devtools.chaos", "--bare", "--no-compare", "--seeds", str(args.seeds),
               "--messages", str(args.messages), "--duplicate-rate", str(args.duplicate_rate),
               "--round-size", str(args.round_size), "--rates", *map(str, args.rates)]
    print("同じソークを moto そのもの (SQS の深さの修正なし) で実行しています...", file=sys.stderr, flush=True)
    bare = subprocess.run(command, capture_output=True, text=True, cwd=Path(__file__).resolve().parents[2])
    lines = bare.stdout.strip().splitlines()
    found = re.fullmatch(r"wall=([\d.]+)s", lines[-2]) if len(lines) >= 2 else None
    if bare.returncode != 0 or not found:
        return f"wall={wall:.1f}s bare=failed ({(lines or [bare.stderr.strip()[-200:]])[-1]})"
    bare_wall = float(found.group(1))
    return f"wall={wall:.1f}s bare_wall={bare_wall:.1f}s bare/mended={bare_wall / wall:.2f}"


if __name__ == "__main__":
    sys.exit(main())
