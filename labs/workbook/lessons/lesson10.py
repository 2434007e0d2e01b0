"""Lesson 10: the outage the template's safety nets are for, staged the same way every time.

Section 4 of the notebook runs orders while the points DB is gone, looks at the alerts, then
repairs the DB and redrives. A redrive resolves what it replays, so the cell that redrives can
only tell its story again from the outage: ``stage_points_outage`` sets that scene from an
empty sandbox, and ``points_db_is_down`` says whether it is still set.
"""
from __future__ import annotations

import contextlib
import io
from typing import NamedTuple

from labs import sandbox
from labs.course.consumers import idempotent
from labs.course.producers.eventbridge import publish_order_event
from labs.observe import recorder
from labs.runtime import LocalRuntime
from labs.sandbox import provision, template
from labs.workbook.lessons.lesson01 import restock

ALERTS_INBOX = "alerts-inbox"  # stands in for the operators' mail or chat


class PointsOutage(NamedTuple):
    stack: template.Stack
    runtime: LocalRuntime
    inbox: str  # URL of the queue subscribed to the alerts topic
    logs: list[str]  # what the handlers printed (CloudWatch Logs on AWS)


def stage_points_outage(sam: dict, orders: list[dict], stock: dict[str, int]) -> PointsOutage:
    """Build the sandbox afresh from ``sam``, with ``stock`` on the shelves and an inbox on the
    alerts topic; drop the points DB (the outage); publish ``orders`` as OrderCreated and run
    until quiet. Every points message then fails three times, moves to points-dlq, and the DLQ
    handler archives it in failed-messages and sends an alert.

    Starts from an empty sandbox, so calling it again sets the same scene. The handlers' output
    is kept in ``logs``, not shown: the cell that shows the outage prints it.
    """
    sandbox.reset()
    stack = template.build(sam)
    runtime = LocalRuntime()
    template.wire(runtime, stack)
    restock(stock)
    inbox = provision.ensure_queue(ALERTS_INBOX)
    provision.ensure_subscription(stack.ref("AlertsTopic"), inbox, raw=True)
    sandbox.client("dynamodb").delete_table(TableName=idempotent.POINTS_TABLE)
    recorder.clear()
    printed = io.StringIO()
    with contextlib.redirect_stdout(printed):  # the handlers run in threads: sys.stdout is what they see
        for order in orders:
            publish_order_event(order, "OrderCreated")
        runtime.run_until_quiet()
    return PointsOutage(stack, runtime, inbox, printed.getvalue().splitlines())


def points_db_is_down() -> bool:
    """Whether the points DB (customer-points) is still gone: the outage has not been repaired."""
    ddb = sandbox.client("dynamodb")
    try:
        ddb.describe_table(TableName=idempotent.POINTS_TABLE)
    except ddb.exceptions.ResourceNotFoundException:
        return True
    return False
