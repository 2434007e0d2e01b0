"""An event source mapping's ``FilterCriteria``: which records Lambda hands to the function.

    FilterCriteria={"Filters": [{"Pattern": '{"body": {"event_type": ["OrderCreated"]}}'}]}

Each ``Pattern`` is an EventBridge event pattern (same grammar, same refusals: one compiler,
``labs.sandbox.mends.event_patterns``) matched against the record as Lambda builds it. Filters
are ORed: a record is kept when any one matches. What happens to a record no filter keeps is
the source's business, and differs: an SQS mapping **deletes** the message, a stream mapping
skips the record (labs/runtime/sources/sqs.py, stream.py).

Where the data sits (AWS: lambda/latest/dg/invocation-eventfiltering.html, with-sqs-filtering.html):

* SQS filters on the ``body`` key only. A pattern whose ``body`` is an object reads the body
  as JSON (a body that is not a JSON object then never matches); a pattern whose ``body`` is a
  list of values (``["hello"]``, ``[{"prefix": "x"}]``) matches the body text as it is.
* DynamoDB Streams filters on the whole record (``eventName``, ``dynamodb.NewImage...``).
* Kinesis (and Pipes, later) filters on ``data``: base64-decoded, then read as JSON if it is JSON.

Up to 5 filters (a quota AWS raises to 10 on request: ``max_filters``).
"""
from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass

from labs.sandbox import pattern_errors
from labs.sandbox.mends.content_filter import CompiledPattern, PatternError
from labs.sandbox.mends.event_patterns import compile_event_pattern

DEFAULT_MAX_FILTERS = 5
# The key each source's payload is filtered under; None: the whole record is the document.
DATA_KEYS = {"sqs": "body", "kinesis": "data", "dynamodb": None}


class FilterCriteriaError(ValueError):
    """Lambda would refuse the mapping (``InvalidParameterValueException``); Japanese beside AWS's words."""


@dataclass(frozen=True)
class _Filter:
    pattern: dict
    compiled: CompiledPattern


class FilterCriteria:
    """The compiled ``FilterCriteria`` of one mapping; ``keeps(record)`` says whether Lambda hands it over."""

    def __init__(self, criteria: dict, source: str, max_filters: int = DEFAULT_MAX_FILTERS, *,
                 sqs_metadata: bool = False):
        # sqs_metadata: a pipe may filter SQS records on metadata too (attributes, messageAttributes:
        # eventbridge/latest/userguide/eb-pipes-event-filtering.html); a Lambda mapping only on body.
        self.sqs_metadata = sqs_metadata
        if source not in DATA_KEYS:
            raise ValueError(f"filter criteria for {source!r}: use one of {sorted(DATA_KEYS)}")
        self.source = source
        self.data_key = DATA_KEYS[source]
        filters = criteria.get("Filters") if isinstance(criteria, dict) else None
        if not isinstance(filters, list):
            raise FilterCriteriaError(
                'FilterCriteria は {"Filters": [{"Pattern": "<JSON 文字列>"}, ...]} の形で書きます '
                f"(受け取った値: {criteria!r:.80})")
        if len(filters) > max_filters:
            raise FilterCriteriaError(
                f"フィルターは 1 つのマッピングに {max_filters} 個までです ({len(filters)} 個あります。"
                "上限はクォータの引き上げで 10 まで)")
        self.filters = [self._compile(f, i) for i, f in enumerate(filters)]

    def _compile(self, item: object, index: int) -> _Filter:
        text = item.get("Pattern") if isinstance(item, dict) else None
        if not isinstance(text, str):
            raise FilterCriteriaError(
                f"Filters[{index}] には Pattern キーに JSON の文字列を入れます (json.dumps(...) で作ります)。"
                f"受け取った値: {item!r:.80}")
        try:
            compiled = compile_event_pattern(text)
        except PatternError as error:
            raise FilterCriteriaError(
                f"Filters[{index}] のパターンを Lambda は受け付けません: {error.reason}\n"
                f"   → {pattern_errors.explain(error.reason)}") from None
        pattern = json.loads(text)
        if self.source == "sqs" and not self.sqs_metadata and set(pattern) != {"body"}:
            others = sorted(set(pattern) - {"body"})
            raise FilterCriteriaError(
                f"SQS のイベントソースマッピングで絞り込めるのは body キーだけです (Filters[{index}] に {others} があります)。"
                'メッセージの中身は {"body": {...}} の下に書きます')
        return _Filter(pattern, compiled)

    def keeps(self, record: dict) -> bool:
        """Whether any filter matches ``record`` (an event record exactly as the function would get it)."""
        return any(self._matches(f, record) for f in self.filters)

    def _matches(self, item: _Filter, record: dict) -> bool:
        if self.data_key is None:
            return item.compiled.matches(record)
        document = dict(record)
        wants_object = isinstance(item.pattern.get(self.data_key), dict)
        data = _decoded(record.get(self.data_key), base64_encoded=self.data_key == "data")
        if wants_object:
            parsed = _json_object(data)
            if parsed is None:
                return False  # an object pattern never matches a payload that is not JSON
            document[self.data_key] = parsed
        else:
            document[self.data_key] = data
        return item.compiled.matches(document)


def _decoded(value: object, base64_encoded: bool) -> object:
    if not base64_encoded or not isinstance(value, str):
        return value
    try:
        return base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError):
        return value


def _json_object(text: object) -> dict | None:
    if not isinstance(text, str):
        return None
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return None
    return parsed if isinstance(parsed, dict) else None
