"""EventBridge event patterns validated and matched as AWS does (MOTO_GAPS: "EventBridge event patterns").

moto stores patterns AWS rejects (``{"amount": {"numeric": [">=", 10000]}}``, a prefix that is a
number, a malformed numeric range...), some of which then make every ``put_events`` on the bus
raise; it does not match fields inside arrays of objects; and its ``TestEventPattern`` answers
nothing. Here one compiler (``content_filter``, Event Ruler's grammar and wording) serves
``PutRule``, archives, every delivery (``put_events`` and replays) and ``TestEventPattern``:

* a pattern AWS rejects raises ``InvalidEventPatternException`` before anything is stored;
* matching never raises: a rule that cannot be evaluated matches nothing, and the other rules
  on the bus still deliver;
* a rule with only a schedule matches no event, as on AWS.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone

from labs.sandbox.mends.content_filter import CompiledPattern, Dialect, PatternError, compile_pattern

EVENTBRIDGE = Dialect(
    match_types=frozenset({"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric",
                           "exists", "cidr", "wildcard", "exactly"}),
    anything_but_nested=frozenset({"prefix", "suffix", "wildcard", "equals-ignore-case"}),
    empty_object_allowed=True,  # recorded on AWS: {"detail": {"automations": {}}} matches
)
# API_TestEventPattern.html lists these (and resources, which AWS does not insist on: recorded
# by LocalStack's snapshot tests against AWS).
EVENT_FIELDS = {"id", "account", "source", "time", "region", "detail-type"}


def compile_event_pattern(text: str) -> CompiledPattern:
    """Parse and validate a pattern as PutRule does; raises PatternError with AWS's reason."""
    try:
        pattern = json.loads(text)
    except json.JSONDecodeError as error:
        raise PatternError(_json_reason(error)) from None
    _refuse_unwrapped_numeric(pattern)
    return compile_pattern(pattern, EVENTBRIDGE)


def _refuse_unwrapped_numeric(node, field: str = "") -> None:
    """``{"amount": {"numeric": [">=", 10000]}}``: a numeric condition written without its array.

    Event Ruler's grammar alone would read ``numeric`` as a nested field name; the issue's
    recordings against EventBridge show PutRule refusing this natural mistake, so it is refused
    here, before the grammar would quietly turn it into a rule that never matches.
    """
    if not isinstance(node, dict):
        return
    for name, value in node.items():
        if (name == "numeric" and field and isinstance(value, list) and value
                and isinstance(value[0], str) and value[0] in ("=", "<", "<=", ">", ">=")):
            raise PatternError(f'"{field}" must be an object or an array: the numeric condition '
                               f'must be inside an array ("{field}": [{{"numeric": [...]}}])')
        _refuse_unwrapped_numeric(value, name)


def _json_reason(error: json.JSONDecodeError) -> str:
    """The two mistakes learners make most, in the words of AWS's JSON parser (Jackson)."""
    rest = error.doc[error.pos:]
    token = re.match(r"[A-Za-z_][A-Za-z0-9_]*", rest)
    if token:
        return (f"Unrecognized token '{token.group(0)}': was expecting (JSON String, Number, Array, Object "
                "or token 'null', 'true' or 'false')")
    if rest[:1] == "'" and error.msg.startswith("Expecting property name"):
        return "Unexpected character (''' (code 39)): was expecting double-quote to start field name"
    return f"Filter is not valid JSON: {error.msg}"


def as_delivered(event: dict) -> dict:
    """The event as a rule sees it on AWS: ``time`` as ISO-8601 text, no moto bookkeeping keys."""
    shown = {k: v for k, v in event.items() if k != "ingestion-time"}
    if isinstance(shown.get("time"), (int, float)):
        shown["time"] = datetime.fromtimestamp(shown["time"], timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    return shown


def apply() -> None:
    from moto.events import models, responses
    from moto.events.exceptions import InvalidEventPatternException, ValidationException

    def load(cls, raw_pattern: str | None):
        compiled = None
        if raw_pattern:
            try:
                compiled = compile_event_pattern(raw_pattern)
            except PatternError as error:
                raise InvalidEventPatternException(reason=error.reason) from None
        instance = cls(raw_pattern, json.loads(raw_pattern) if raw_pattern else {})
        instance.compiled = compiled
        return instance

    def matches_event(self, event: dict) -> bool:
        try:
            compiled = getattr(self, "compiled", None)
            if compiled is None:  # stored before this mend, or a schedule-only rule
                compiled = compile_event_pattern(self._raw_pattern) if self._raw_pattern else None
            return compiled is not None and compiled.matches(as_delivered(event))
        except Exception:  # noqa: BLE001 - one rule that cannot be evaluated must not break the bus
            return False

    def test_event_pattern(self, event_pattern: str, event: str) -> bool:
        try:
            document = json.loads(event)
        except (TypeError, ValueError):
            document = None
        if not isinstance(document, dict) or not EVENT_FIELDS <= document.keys():
            raise ValidationException("Parameter Event is not valid.")
        try:
            compiled = compile_event_pattern(event_pattern)
        except PatternError as error:
            raise InvalidEventPatternException(reason=error.reason) from None
        return compiled.matches(document)

    def test_event_pattern_response(self) -> str:
        result = self.events_backend.test_event_pattern(self._get_param("EventPattern"), self._get_param("Event"))
        return json.dumps({"Result": result})

    models.EventPattern.load = classmethod(load)
    models.EventPattern.matches_event = matches_event
    models.EventsBackend.test_event_pattern = test_event_pattern
    # moto's handler for TestEventPattern is empty: the one response method patched here.
    responses.EventsHandler.test_event_pattern = test_event_pattern_response

