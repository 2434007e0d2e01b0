"""Publishing order events to EventBridge: the course text's producer (演習1), done right.

What the course text's version gets wrong, and what this module does instead:

* ``datetime.utcnow()`` is deprecated (Python 3.12) and *naive*: nothing says it is UTC.
  We write ``datetime.now(timezone.utc)``, whose ISO form ends in ``+00:00``.
* ``put_events`` answers HTTP 200 even when entries fail. Each failure is told per entry
  (``Entries[i].ErrorCode``), so we read them, retry only the entries that failed for a
  transient reason, and raise :class:`EventPublishError` naming every entry that did not
  make it. Nothing is dropped silently.
* One ``put_events`` call takes at most 10 entries and 1 MB (``labs.course.limits``): the batch helper splits.
* An unknown ``event_type`` is refused before anything is sent.

The client is created on first use (not at import), so importing this module never
reaches AWS, and tests or a notebook can pass their own client as ``events=``.
"""
from __future__ import annotations

import json
import random
import time
from datetime import datetime, timezone
from typing import Callable

from labs.course import aws
from labs.course.limits import EVENTBRIDGE_MAX_ENTRIES as MAX_ENTRIES_PER_CALL  # an 11th: ValidationException
from labs.course.limits import EVENTBRIDGE_MAX_REQUEST_BYTES as MAX_REQUEST_BYTES  # one request, entries added up
from labs.course.limits import eventbridge_entry_size as _entry_size
from labs.course.names import ORDERS_BUS, ORDER_EVENT_TYPES, ORDER_SOURCE

# Entry failures worth retrying: the service was busy or failed on its side. Others
# (InvalidArgument, MalformedDetail, AccessDenied...) fail the same way every time.
RETRYABLE_ERROR_CODES = frozenset({"ThrottlingException", "InternalFailure", "InternalException",
                                   "ServiceUnavailable", "ServiceUnavailableException"})


class EventPublishError(Exception):
    """Some entries could not be published; ``failures`` says which and why.

    Each failure is ``{"entry": <the entry>, "ErrorCode": ..., "ErrorMessage": ...}``;
    ``event_ids`` holds the ids of the entries that did get through (None for the failed).
    """

    def __init__(self, failures: list[dict], event_ids: list[str | None] | None = None):
        self.failures = failures
        self.event_ids = event_ids or []
        codes = ", ".join(sorted({f["ErrorCode"] for f in failures}))
        first = failures[0]
        super().__init__(
            f"イベント {len(failures)} 件を発行できませんでした ({codes}): "
            f"{first['ErrorCode']}: {first.get('ErrorMessage', '')}"
        )


def order_event_entry(order: dict, event_type: str, *, bus: str = ORDERS_BUS) -> dict:
    """The ``put_events`` entry for one order event (checked before anything is sent)."""
    if event_type not in ORDER_EVENT_TYPES:
        raise ValueError(f"event_type は {', '.join(ORDER_EVENT_TYPES)} のどれかです (指定値: {event_type!r})")
    missing = [k for k in ("order_id", "customer_id", "amount") if k not in order]
    if missing:
        raise ValueError(f"注文に {', '.join(missing)} がありません: {order!r}")
    detail = {
        "orderId": order["order_id"],
        "customerId": order["customer_id"],
        "amount": order["amount"],
        # Aware and explicit: "2024-01-01T12:00:00.123456+00:00", never a naive utcnow().
        "timestamp": datetime.now(timezone.utc).isoformat(),
    }
    for key, name in (("items", "items"), ("tracking_number", "trackingNumber"), ("reason", "reason")):
        if key in order:
            detail[name] = order[key]
    return {"Source": ORDER_SOURCE, "DetailType": event_type, "Detail": json.dumps(detail, ensure_ascii=False),
            "EventBusName": bus}


def publish_order_event(order: dict, event_type: str, *, events=None) -> str:
    """Publish one order event to ``orders-bus``; return its EventId.

    event_type: 'OrderCreated', 'OrderShipped' or 'OrderCancelled'.
    Raises EventPublishError (with the entry's ErrorCode) when the entry is not accepted.
    """
    return put_events_in_batches([order_event_entry(order, event_type)], events=events)[0]


def batches(entries: list[dict]) -> list[list[int]]:
    """Indexes of ``entries`` grouped into calls of <= 10 entries and <= MAX_REQUEST_BYTES each."""
    groups: list[list[int]] = []
    size = 0
    for index, entry in enumerate(entries):
        entry_size = _entry_size(entry)
        if not groups or len(groups[-1]) == MAX_ENTRIES_PER_CALL or size + entry_size > MAX_REQUEST_BYTES:
            groups.append([])
            size = 0
        groups[-1].append(index)
        size += entry_size
    return groups


def put_events_in_batches(
    entries: list[dict],
    *,
    events=None,
    max_attempts: int = 3,
    base_delay: float = 0.1,
    sleep: Callable[[float], None] = time.sleep,
) -> list[str]:
    """Send every entry, <= 10 per call, retrying only the entries that failed transiently.

    Returns the EventIds in the order of ``entries``. When some entries still failed
    (a permanent ErrorCode, or ``max_attempts`` used up), every other entry has been
    sent and EventPublishError lists the failed ones with their ErrorCode.
    """
    events = events or aws.client("events")
    event_ids: list[str | None] = [None] * len(entries)
    failures: dict[int, dict] = {}
    for index, entry in enumerate(entries):
        if _entry_size(entry) > MAX_REQUEST_BYTES:  # AWS would refuse the whole call for it
            failures[index] = {"entry": entry, "ErrorCode": "EntryTooLarge",
                               "ErrorMessage": f"エントリが {MAX_REQUEST_BYTES} バイトを超えています ({_entry_size(entry)} バイト)"}
    pending = [i for i in range(len(entries)) if i not in failures]
    for attempt in range(1, max_attempts + 1):
        retry: list[int] = []
        for group in batches([entries[i] for i in pending]):
            indexes = [pending[g] for g in group]
            response = events.put_events(Entries=[entries[i] for i in indexes])
            # Entries[] answers the request's entries one for one, in the same order.
            for index, result in zip(indexes, response["Entries"]):
                if "EventId" in result and not result.get("ErrorCode"):
                    event_ids[index] = result["EventId"]
                    failures.pop(index, None)
                    continue
                failures[index] = {"entry": entries[index], "ErrorCode": result.get("ErrorCode", "Unknown"),
                                   "ErrorMessage": result.get("ErrorMessage", "")}
                if result.get("ErrorCode") in RETRYABLE_ERROR_CODES:
                    retry.append(index)
        if not retry or attempt == max_attempts:
            break
        # Exponential backoff with full jitter, so many producers do not retry in step.
        sleep(random.uniform(0, base_delay * 2 ** (attempt - 1)))
        pending = retry
    if failures:
        raise EventPublishError([failures[i] for i in sorted(failures)], event_ids)
    return event_ids  # type: ignore[return-value]
