"""EventBridge: PutEvents refuses what AWS refuses (MOTO_GAPS: "Detail that is not a JSON object",
"entry size not limited").

* ``Detail`` must be a JSON *object*. moto accepts a JSON string, ``null`` or an array (and a
  rule matching on ``detail`` may then fail inside moto); AWS fails that entry alone with
  ``MalformedDetail`` / "Detail is malformed." (LocalStack's snapshot recorded against AWS,
  tests/aws/services/events/test_events.snapshot.json, ``test_put_event_malformed_detail``
  [STRING, ARRAY, SERIALIZED_STRING]).
* Entries adding up to more than ``EVENTBRIDGE_MAX_REQUEST_BYTES`` (measured as AWS measures
  them): AWS refuses the whole call with ``ValidationException`` / "Total size of the entries
  in the request is over the limit." (same snapshot, ``test_put_event_with_too_big_detail``).
"""
from __future__ import annotations

import json

from labs.course.limits import EVENTBRIDGE_MAX_ENTRIES, EVENTBRIDGE_MAX_REQUEST_BYTES, eventbridge_entry_size

MALFORMED = {"ErrorCode": "MalformedDetail", "ErrorMessage": "Detail is malformed."}


def detail_is_malformed(entry: dict) -> bool:
    """A Detail that is present but not a JSON object (moto answers missing and unparsable ones)."""
    detail = entry.get("Detail")
    if not detail:
        return False
    try:
        return not isinstance(json.loads(detail), dict)
    except ValueError:
        return False  # moto's own MalformedDetail


def too_large(entries: list[dict]) -> bool:
    return sum(eventbridge_entry_size(e) for e in entries) > EVENTBRIDGE_MAX_REQUEST_BYTES


def apply() -> None:
    from moto.events.exceptions import ValidationException
    from moto.events.models import EventsBackend

    original = EventsBackend.put_events

    def put_events(self, events):
        if len(events) > EVENTBRIDGE_MAX_ENTRIES:
            return original(self, events)  # moto refuses the whole call, as AWS does
        if too_large(events):
            raise ValidationException("Total size of the entries in the request is over the limit.")
        malformed = [detail_is_malformed(e) for e in events]
        results = iter(original(self, [e for e, bad in zip(events, malformed) if not bad]))
        # Entries[] answers the request's entries one for one, in order.
        return [dict(MALFORMED) if bad else next(results) for bad in malformed]

    EventsBackend.put_events = put_events
