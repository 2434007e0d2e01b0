"""The content-filter language shared by EventBridge event patterns and SNS filter policies.

Both services run Event Ruler (github.com/aws/event-ruler), so one grammar serves both: this
module compiles a pattern (validating it with Event Ruler's own error wording) and matches a
JSON document against it. The service-specific rules (what SNS forbids, how an SNS message's
attributes become a document) live in ``event_patterns.py`` and ``sns_filter_policies.py``.

How a document is matched, as Event Ruler does it:

* The document is flattened into leaves: ``(path, value)`` with dotted paths, so
  ``{"a": {"b": 1}}`` and ``{"a.b": 1}`` give the same leaf. An array gives one leaf per
  element at the same path (an event array matches if any element matches), and objects
  inside arrays give leaves at ``array.field``.
* A pattern is a set of fields, each with a list of conditions (any one may match); all
  fields must match. ``$or`` splits the pattern into alternatives.
* Fields matched inside one array of objects must come from the same element
  (``[{"a": 1, "b": 2}, {"a": 3, "b": 4}]`` does not match ``a=1 and b=4``).
* A string never matches a numeric condition, a number never matches a string condition:
  no match, never an error.
"""
from __future__ import annotations

import ipaddress
import json
import math
import re
from dataclasses import dataclass, field
from typing import Any, Callable

OR = "$or"
_NUMERIC_OPERATORS = ("=", "<", "<=", ">", ">=")
# Names Event Ruler keeps for itself inside "$or" (Constants.RESERVED_FIELD_NAMES_IN_OR_RELATIONSHIP).
_RESERVED_IN_OR = ("exactly", "equals-ignore-case", "prefix", "suffix", "anything-but", "exists",
                   "wildcard", "numeric", "cidr", "=", "<", "<=", ">", ">=", "regex")


class PatternError(ValueError):
    """The pattern is not valid; ``reason`` is Event Ruler's wording (what AWS returns)."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Dialect:
    """What one service accepts on top of the common grammar."""

    match_types: frozenset[str]
    anything_but_nested: frozenset[str]
    empty_object_allowed: bool
    # SNS runs an older Event Ruler: a nested anything-but value that is not a string is
    # "prefix match pattern must be a string" there (recorded), not the newer wording.
    strict_nested_anything_but: bool = False


# --- conditions -------------------------------------------------------------------------------

def _is_number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


@dataclass(frozen=True)
class Condition:
    """One entry of a field's list: ``test(value)`` says whether a leaf value satisfies it."""

    kind: str
    test: Callable[[Any], bool] = field(compare=False)
    exists: bool | None = None  # only for {"exists": ...}


def _exact(expected: Any) -> Condition:
    if _is_number(expected):
        return Condition("exact", lambda v: _is_number(v) and float(v) == float(expected))
    if isinstance(expected, bool) or expected is None:
        return Condition("exact", lambda v: v is expected)
    return Condition("exact", lambda v: isinstance(v, str) and v == expected)


def _string_test(check: Callable[[str], bool]) -> Callable[[Any], bool]:
    return lambda v: isinstance(v, str) and check(v)


def _wildcard_regex(text: str) -> re.Pattern:
    """``*`` is any run of characters; ``\\*`` and ``\\\\`` are a literal star and backslash."""
    parts, i = [], 0
    while i < len(text):
        if text[i] == "\\":
            parts.append(re.escape(text[i + 1]))
            i += 2
        elif text[i] == "*":
            parts.append(".*")
            i += 1
        else:
            parts.append(re.escape(text[i]))
            i += 1
    return re.compile("".join(parts), re.DOTALL)


def _check_wildcard(text: str) -> None:
    """Event Ruler's WildcardParser checks; positions count UTF-8 bytes after an opening quote."""
    data = ('"' + text + '"').encode()
    i = 0
    while i < len(data):
        if data[i:i + 2] == b"**":
            raise PatternError(f"Consecutive wildcard characters at pos {i}")
        if data[i:i + 1] == b"\\":
            if data[i + 1:i + 2] in (b"*", b"\\"):
                i += 2
                continue
            raise PatternError(f"Invalid escape character at pos {i}")
        i += 1
    # Event Ruler rejects patterns whose matching machine would grow too large. Its measure
    # is internal; this approximation rejects many wildcards followed by the same character
    # (the documented example "*:*:*:*:*:event-bus/*" is rejected by AWS).
    followers = [text[m.end()] for m in re.finditer(r"(?<!\\)\*", text) if m.end() < len(text)]
    if text.count("*") > 4 and len(followers) - len(set(followers)) >= 3:
        raise PatternError("Rule is too complex - try using fewer wildcard characters or fewer "
                           "repeating character sequences after a wildcard character")


def _cidr(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network:
    """Event Ruler's CIDR.cidr checks, in its order and wording."""
    parts = text.split("/")
    if len(parts) != 2:
        raise PatternError("Malformed CIDR, one '/' required")
    try:
        bits = int(parts[1])
    except ValueError:
        raise PatternError("Malformed CIDR, mask bits must be an integer") from None
    if bits < 0:
        raise PatternError("Malformed CIDR, mask bits must not be negative")
    try:
        address = ipaddress.ip_address(parts[0])
    except ValueError:
        raise PatternError(f"Nonstandard IP address: {parts[0]}") from None
    if address.version == 4 and bits > 31:
        raise PatternError("IPv4 mask bits must be < 32")
    if address.version == 6 and bits > 127:
        raise PatternError("IPv6 mask bits must be < 128")
    return ipaddress.ip_network(f"{address}/{bits}", strict=False)


def _in_network(network) -> Callable[[Any], bool]:
    def test(value: Any) -> bool:
        if not isinstance(value, str):
            return False
        try:
            return ipaddress.ip_address(value) in network
        except ValueError:
            return False
    return test


def _numeric(terms: list) -> Condition:
    """Event Ruler's processNumericMatchExpression: one comparison or a bottom-top range."""
    def is_num(index: int) -> bool:
        return index < len(terms) and _is_number(terms[index])

    def text(index: int) -> str:  # the JSON token Event Ruler met there ("]" past the end)
        return json.dumps(terms[index]) if index < len(terms) else "]"

    if not terms or not isinstance(terms[0], str):
        raise PatternError(f"Invalid member in numeric match: {text(0)}")
    operator = terms[0]
    if operator not in _NUMERIC_OPERATORS:
        raise PatternError(f"Unrecognized numeric range operator: {operator}")
    if not is_num(1):
        raise PatternError("Value of equals must be numeric" if operator == "=" else f"Value of {operator} must be numeric")
    first = float(terms[1])
    if operator in ("=", "<", "<=") or len(terms) == 2:
        if len(terms) > 2:
            raise PatternError("Too many elements in numeric expression")
        compare = {"=": lambda v: v == first, "<": lambda v: v < first, "<=": lambda v: v <= first,
                   ">": lambda v: v > first, ">=": lambda v: v >= first}[operator]
        return Condition("numeric", lambda v: _is_number(v) and compare(float(v)))
    second_operator = terms[2]
    if not isinstance(second_operator, str):
        raise PatternError(f"Bad value in numeric range: {text(2)}")
    if second_operator not in ("<", "<="):
        raise PatternError(f"Bad numeric range operator: {second_operator}")
    if not is_num(3):
        raise PatternError(f"Value of {second_operator} must be numeric")
    if len(terms) > 4:
        raise PatternError("Too many terms in numeric range expression")
    top = float(terms[3])
    if top <= first:
        raise PatternError("Bottom must be less than top")
    low_ok = (lambda v: v > first) if operator == ">" else (lambda v: v >= first)
    high_ok = (lambda v: v < top) if second_operator == "<" else (lambda v: v <= top)
    return Condition("numeric", lambda v: _is_number(v) and low_ok(float(v)) and high_ok(float(v)))


def _anything_but(value: Any, dialect: Dialect) -> Condition:
    """Event Ruler's anything-but: a value or list, or a nested prefix/suffix/wildcard/ignore-case."""
    nested = None
    if isinstance(value, dict):
        if not value:
            raise PatternError("Anything-But expression name not found")
        nested, value = next(iter(value.items()))
        if nested not in dialect.anything_but_nested:
            raise PatternError(f"Unsupported anything-but pattern: {nested}")
        if dialect.strict_nested_anything_but and not isinstance(value, str):
            raise PatternError(f"{nested} match pattern must be a string")
    if not isinstance(value, (list, str)) and not _is_number(value):
        raise PatternError("Value of anything-but must be an array or single string/number value.")
    values = value if isinstance(value, list) else [value]
    if nested is None:
        if any(not (isinstance(v, str) or _is_number(v)) for v in values):
            raise PatternError("Inside anything but list, start|null|boolean is not supported.")
        numbers = [float(v) for v in values if _is_number(v)]
        strings = [v for v in values if isinstance(v, str)]
        if bool(numbers) == bool(strings):
            raise PatternError("Inside anything but list, either all values are number or string, "
                               "mixed type is not supported")
        if numbers:
            return Condition("anything-but", lambda v: not (_is_number(v) and float(v) in numbers))
        return Condition("anything-but", lambda v: not (isinstance(v, str) and v in strings))
    for v in values:
        if not isinstance(v, str):
            raise PatternError({
                "equals-ignore-case": "Inside anything-but/equals-ignore-case list, number|start|null|boolean is not supported.",
                "wildcard": "wildcard match pattern must be a string",
            }.get(nested, "prefix/suffix match pattern must be a string"))
        if nested in ("prefix", "suffix") and not v:
            raise PatternError("Null prefix/suffix not allowed")
        if nested == "wildcard":
            _check_wildcard(v)
    if nested == "prefix":
        hit = lambda s: any(s.startswith(v) for v in values)  # noqa: E731
    elif nested == "suffix":
        hit = lambda s: any(s.endswith(v) for v in values)  # noqa: E731
    elif nested == "wildcard":
        regexes = [_wildcard_regex(v) for v in values]
        hit = lambda s: any(r.fullmatch(s) for r in regexes)  # noqa: E731
    else:
        lowered = {v.lower() for v in values}
        hit = lambda s: s.lower() in lowered  # noqa: E731
    # A number, true, false or null is never a string that is excluded: it matches.
    return Condition("anything-but", lambda v: not (isinstance(v, str) and hit(v)))


def _affix(kind: str, value: Any) -> Condition:
    """prefix / suffix, plain or with a nested equals-ignore-case."""
    if isinstance(value, dict):
        name, inner = next(iter(value.items())) if value else (None, None)
        if name is None:
            raise PatternError(f"{kind.capitalize()} expression name not found")
        if name != "equals-ignore-case":
            raise PatternError(f"Unsupported {kind} pattern: {name}")
        if not isinstance(inner, str):
            raise PatternError("equals-ignore-case match pattern must be a string")
        if len(value) > 1:
            raise PatternError("Only one key allowed in match expression")
        low = inner.lower()
        check = (lambda s: s.lower().startswith(low)) if kind == "prefix" else (lambda s: s.lower().endswith(low))
        return Condition(kind, _string_test(check))
    if not isinstance(value, str):
        raise PatternError(f"{kind} match pattern must be a string")
    check = (lambda s: s.startswith(value)) if kind == "prefix" else (lambda s: s.endswith(value))
    return Condition(kind, _string_test(check))


def _match_expression(expression: dict, dialect: Dialect) -> Condition:
    if not expression:
        raise PatternError("Match expression name not found")
    kind, value = next(iter(expression.items()))
    if kind not in dialect.match_types:
        raise PatternError(f"Unrecognized match type {kind}")
    extra_key = len(expression) > 1
    if kind in ("prefix", "suffix"):
        condition = _affix(kind, value)
    elif kind == "exactly":
        if not isinstance(value, str):
            raise PatternError("exact match pattern must be a string")
        condition = _exact(value)
    elif kind == "equals-ignore-case":
        if not isinstance(value, str):
            raise PatternError("equals-ignore-case match pattern must be a string")
        condition = Condition(kind, _string_test(lambda s, low=value.lower(): s.lower() == low))
    elif kind == "wildcard":
        if not isinstance(value, str):
            raise PatternError("wildcard match pattern must be a string")
        _check_wildcard(value)
        regex = _wildcard_regex(value)
        condition = Condition(kind, _string_test(lambda s: regex.fullmatch(s) is not None))
    elif kind == "numeric":
        if not isinstance(value, list):
            raise PatternError("Value of numeric must be an array.")
        condition = _numeric(value)
        if extra_key:
            raise PatternError("Too many elements in numeric expression")
    elif kind == "anything-but":
        condition = _anything_but(value, dialect)
        if extra_key:
            raise PatternError("Too many elements in numeric expression")
    elif kind == "exists":
        if not isinstance(value, bool):
            raise PatternError("exists match pattern must be either true or false.")
        condition = Condition(kind, lambda v: True, exists=value)
    else:  # cidr
        if not isinstance(value, str):
            raise PatternError("prefix match pattern must be a string")
        condition = Condition(kind, _in_network(_cidr(value)))
    if extra_key:
        raise PatternError("Only one key allowed in match expression")
    return condition


def _condition_list(values: list, dialect: Dialect) -> list[Condition]:
    conditions = []
    for value in values:
        if isinstance(value, dict):
            conditions.append(_match_expression(value, dialect))
        elif isinstance(value, list):
            raise PatternError("Match value must be String, number, true, false, or null")
        else:
            conditions.append(_exact(value))
    if not conditions:
        raise PatternError("Empty arrays are not allowed")
    return conditions


# --- compiling ---------------------------------------------------------------------------------

Rule = dict  # dotted path -> list[Condition]; one alternative of the pattern


@dataclass
class CompiledPattern:
    """A validated pattern: alternatives (after ``$or``), each a dict path -> conditions.

    ``shapes`` keeps each path's nesting depth and number of values, for SNS's complexity limit.
    """

    alternatives: list[Rule]
    shapes: list[dict[str, tuple[int, int]]]  # per alternative: path -> (depth, number of values)

    def matches(self, document: Any) -> bool:
        leaves = _leaves_by_path(document)
        return any(_rule_matches(list(rule.items()), leaves) for rule in self.alternatives)


def compile_pattern(pattern: Any, dialect: Dialect) -> CompiledPattern:
    """Validate ``pattern`` (parsed JSON) as Event Ruler does and compile it. Raises PatternError."""
    if not isinstance(pattern, dict):
        raise PatternError("Filter is not an object")
    alternatives: list[tuple[Rule, dict]] = [({}, {})]
    alternatives = _compile_object(pattern, (), alternatives, dialect, inside_or=False, depth=1)
    return CompiledPattern([rule for rule, _ in alternatives], [shape for _, shape in alternatives])


def _compile_object(node: dict, path: tuple, alternatives: list, dialect: Dialect, *, inside_or: bool,
                    depth: int) -> list:
    if not node and not dialect.empty_object_allowed:
        raise PatternError("Empty objects are not allowed")
    for name, value in node.items():
        if name == OR:
            alternatives = _compile_or(value, path, alternatives, dialect, depth)
            continue
        if inside_or and name in _RESERVED_IN_OR:
            raise PatternError(f"{name} is Ruler reserved fieldName which cannot be used inside {OR}.")
        if isinstance(value, dict):
            alternatives = _compile_object(value, path + (name,), alternatives, dialect,
                                           inside_or=inside_or, depth=depth + 1)
        elif isinstance(value, list):
            conditions = _condition_list(value, dialect)
            dotted = ".".join(path + (name,))
            for rule, shape in alternatives:
                rule[dotted] = conditions
                shape[dotted] = (depth, len(value))
        else:
            raise PatternError(f'"{name}" must be an object or an array')
    return alternatives


def _compile_or(value: Any, path: tuple, alternatives: list, dialect: Dialect, depth: int) -> list:
    if not isinstance(value, list):
        raise PatternError(f"It must be an Array followed with {OR}.")
    expanded = []
    for branch in value:
        if not isinstance(branch, dict):
            raise PatternError(f"Only JSON object is allowed in array of {OR} relationship.")
        copies = [(dict(rule), dict(shape)) for rule, shape in alternatives]
        expanded.extend(_compile_object(branch, path, copies, dialect, inside_or=True, depth=depth))
    if len(value) < 2:
        raise PatternError(f"There must have at least 2 Objects in {OR} relationship.")
    return expanded


# --- matching ----------------------------------------------------------------------------------

def _leaves_by_path(document: Any) -> dict[str, list[tuple[Any, tuple]]]:
    """path -> [(value, array membership)], membership being ((array id, index), ...)."""
    leaves: dict[str, list] = {}
    counter = [0]

    def walk(node: Any, path: str, membership: tuple) -> None:
        if isinstance(node, dict):
            for key, value in node.items():
                walk(value, f"{path}.{key}" if path else key, membership)
        elif isinstance(node, list):
            counter[0] += 1
            array_id = counter[0]
            for index, element in enumerate(node):
                walk(element, path, membership + ((array_id, index),))
        elif path:
            if isinstance(node, float) and not math.isfinite(node):
                return
            leaves.setdefault(path, []).append((node, membership))

    walk(document, "", ())
    return leaves


def _compatible(membership: tuple, chosen: dict) -> bool:
    return all(chosen.get(array_id, index) == index for array_id, index in membership)


def _rule_matches(fields: list, leaves: dict, at: int = 0, chosen: dict | None = None) -> bool:
    """Backtracking: every field matched by a leaf, leaves of one array from one element."""
    chosen = chosen if chosen is not None else {}
    if at == len(fields):
        return True
    path, conditions = fields[at]
    candidates = leaves.get(path, [])
    for condition in conditions:
        if condition.exists is False:
            if not candidates and _rule_matches(fields, leaves, at + 1, chosen):
                return True
            continue
        for value, membership in candidates:
            if _compatible(membership, chosen) and condition.test(value):
                if _rule_matches(fields, leaves, at + 1, {**chosen, **dict(membership)}):
                    return True
    return False
