"""EventBridge Pipes input templates: ``<$.body.orderId>`` placeholders filled from an event.

AWS (eventbridge/latest/userguide/eb-pipes-input-transformation.html):

* A template is free text, one JSON path, or JSON with inline paths::

      {"order_id": <$.body.order_id>, "pipe": <aws.pipes.pipe-name>}

* Paths use dot notation, dashes, underscores, array indices (``[0]``) and ``*``.
* Implicit body parsing: an SQS ``body`` that is JSON text and a Kinesis ``data`` that is
  base64 of JSON are read as JSON, so ``<$.body.order_id>`` reaches inside the message.
* In a JSON template, a value goes in as JSON (a string gets its quotes); inside quotes it
  goes in as text. In free text, an object loses its quotes: a whole-template ``<$.body>``
  of ``{"key": "value"}`` delivers ``{key: value}``, which is why AWS says to wrap it:
  ``{"data": <$.body>}``.
* Reserved variables: ``aws.pipes.pipe-arn``, ``pipe-name``, ``source-arn``,
  ``enrichment-arn``, ``target-arn``, ``event.ingestion-time``, ``event`` (the event as
  text) and ``event.json`` (the event, decoded, as JSON).

A path that matches nothing gives ``null`` (or nothing, inside quotes).
"""
from __future__ import annotations

import base64
import binascii
import json
import re

_PLACEHOLDER = re.compile(r"<(\$(?:\.[A-Za-z0-9_\-/*]+|\[\d+\])*|aws\.pipes\.[a-z.\-]+)>")
_STEP = re.compile(r"\.([A-Za-z0-9_\-/*]+)|\[(\d+)\]")
MISSING = object()  # what resolve() answers for a path that matches nothing


class TemplateError(ValueError):
    """The template does not give what the target needs (Japanese, for the learner)."""


def decoded(event: object) -> object:
    """The event as a template (or filter) sees it: a JSON ``body`` or base64 ``data`` read as JSON."""
    if not isinstance(event, dict):
        return event
    view = dict(event)
    if isinstance(view.get("body"), str):
        view["body"] = _json_or(view["body"], view["body"])
    if isinstance(view.get("data"), str):
        try:
            text = base64.b64decode(view["data"], validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            pass
        else:
            view["data"] = _json_or(text, view["data"])
    return view


def resolve(path: str, event: object) -> object:
    """The value at JSON path ``path`` (``$.body.order_id``) in the decoded event; ``MISSING`` if none."""
    values = [decoded(event)]
    for key, index in _STEP.findall(path[1:]):
        following = []
        for value in values:
            if index:
                if isinstance(value, list) and int(index) < len(value):
                    following.append(value[int(index)])
            elif key == "*":
                following += list(value.values()) if isinstance(value, dict) else list(value) if isinstance(value, list) else []
            elif isinstance(value, dict) and key in value:
                following.append(value[key])
        values = following
    if not values:
        return MISSING
    return values if "*" in path else values[0]


def render(template: str, event: object, variables: dict[str, str]) -> object:
    """Fill ``template`` from ``event``; a JSON template gives the parsed JSON, free text a string.

    ``variables``: the reserved ``aws.pipes.*`` values other than the event itself.
    """
    is_json = template.lstrip().startswith(("{", "["))
    pieces, position, in_string = [], 0, False
    for match in _PLACEHOLDER.finditer(template):
        text = template[position:match.start()]
        in_string = _inside_quotes(text, in_string)
        pieces.append(text)
        value = _value(match.group(1), event, variables)
        pieces.append(_inserted(value, is_json, in_string))
        position = match.end()
    pieces.append(template[position:])
    filled = "".join(pieces)
    if not is_json:
        return filled
    try:
        return json.loads(filled)
    except json.JSONDecodeError as error:
        raise TemplateError(
            f"入力テンプレートを埋めた結果が JSON になりません ({error.msg}): {filled[:120]}\n"
            "   → 文字列を入れる <$...> は \"...\" で囲むか、囲まずに値 (JSON) として入れます") from None


def _value(name: str, event: object, variables: dict[str, str]) -> object:
    if name.startswith("$"):
        return resolve(name, event)
    if name == "aws.pipes.event":
        return json.dumps(event, ensure_ascii=False) if not isinstance(event, str) else event
    if name == "aws.pipes.event.json":
        return decoded(event)
    key = name.removeprefix("aws.pipes.")
    if key not in variables:
        raise TemplateError(f"入力テンプレートの予約変数 <{name}> はありません "
                            "(aws.pipes.pipe-arn, pipe-name, source-arn, enrichment-arn, target-arn, "
                            "event.ingestion-time, event, event.json)")
    return variables[key]


def _inserted(value: object, is_json: bool, in_string: bool) -> str:
    if value is MISSING:
        return "" if in_string or not is_json else "null"
    if in_string:
        text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False)
        return json.dumps(text, ensure_ascii=False)[1:-1]  # escaped for the string it sits in
    if is_json:
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, str):
        return value
    return json.dumps(value, ensure_ascii=False).replace('"', "")  # free text: AWS drops the quotes


def _inside_quotes(text: str, in_string: bool) -> bool:
    """Whether, after ``text``, we are inside a JSON string (unescaped quotes toggle it)."""
    escaped = False
    for char in text:
        if escaped:
            escaped = False
        elif char == "\\":
            escaped = True
        elif char == '"':
            in_string = not in_string
    return in_string


def _json_or(text: str, fallback: object) -> object:
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return fallback
