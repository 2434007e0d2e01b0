"""Compatibility of two JSON Schema versions of an event (as Pydantic exports them).

Two directions, as in schema registries:

* **backward compatible**: a consumer using the NEW schema can read events
  produced with the OLD one (you may upgrade consumers first);
* **forward compatible**: a consumer using the OLD schema can read events
  produced with the NEW one (you may upgrade producers first).

A change is *breaking* unless it is both. Kinds of change reported:

=====================  ================================  ========  =======
kind                   example                           backward  forward
=====================  ================================  ========  =======
field_added_optional   ``currency: str = "JPY"``         yes       yes [1]
field_added_required   ``currency: str``                 no        yes [1]
field_removed          ``notes`` deleted                 yes [2]   only if it was optional
type_changed           ``total_amount: int -> str``      if new accepts old / old accepts new
required_to_optional   ``customer_id: str | None = None`` yes      no
optional_to_required   ``notes: str`` (no default)       no        yes
enum_value_added       ``EventType.ORDER_RETURNED``      yes       no
enum_value_removed     ``EventType.ORDER_SHIPPED`` gone  no        yes
=====================  ================================  ========  =======

[1] unless the old schema forbids unknown fields (``additionalProperties: false``,
Pydantic's ``extra="forbid"``). [2] likewise for the new schema.

Nested models (``$ref`` into ``$defs``) and list items are followed; a field inside
a list is named like ``items[].quantity``. Constraints such as ``minimum`` and
formats are not compared: only fields, types, required-ness and enum values.
"""

from __future__ import annotations

from dataclasses import dataclass, field as dataclass_field
from typing import Any

Schema = dict[str, Any]


@dataclass(frozen=True)
class Change:
    kind: str
    field: str
    backward: bool  # a NEW consumer reads OLD events
    forward: bool  # an OLD consumer reads NEW events
    reason_ja: str

    @property
    def breaking(self) -> bool:
        return not (self.backward and self.forward)


@dataclass
class CompatibilityReport:
    changes: list[Change] = dataclass_field(default_factory=list)

    @property
    def backward_compatible(self) -> bool:
        return all(c.backward for c in self.changes)

    @property
    def forward_compatible(self) -> bool:
        return all(c.forward for c in self.changes)

    @property
    def breaking(self) -> bool:
        return any(c.breaking for c in self.changes)

    def explain(self) -> str:
        """A Japanese summary, one line per change."""
        mark = {True: "○", False: "×"}
        lines = [
            f"後方互換 (新しいコンシューマーが古いイベントを読める): {mark[self.backward_compatible]}",
            f"前方互換 (古いコンシューマーが新しいイベントを読める): {mark[self.forward_compatible]}",
        ]
        for c in self.changes:
            lines.append(f"- [{'破壊的' if c.breaking else '互換'}] {c.reason_ja}")
        if not self.changes:
            lines.append("- 変更はありません")
        return "\n".join(lines)


def check_compatibility(old: Schema, new: Schema) -> CompatibilityReport:
    """Compare two JSON Schemas of the same event, old version first."""
    report = CompatibilityReport()
    _compare_objects(_Side(old, old), _Side(new, new), "", report.changes)
    return report


# --- walking the schemas ---------------------------------------------------


@dataclass
class _Side:
    """A sub-schema together with the document its $refs point into."""

    schema: Schema
    root: Schema

    def resolved(self) -> Schema:
        schema, seen = self.schema, set()
        while "$ref" in schema or len(schema.get("allOf", [])) == 1:
            ref = schema["$ref"] if "$ref" in schema else None
            if ref is None:
                schema = schema["allOf"][0]
                continue
            if ref in seen:  # a self-referencing model: stop here
                break
            seen.add(ref)
            schema = self.root
            for part in ref.removeprefix("#/").split("/"):
                schema = schema[part]
        return schema

    def at(self, schema: Schema) -> _Side:
        return _Side(schema, self.root)

    def branches(self) -> list[_Side]:
        """``X | None`` is exported as anyOf: look at each alternative."""
        s = self.resolved()
        alternatives = s.get("anyOf") or s.get("oneOf")
        if alternatives:
            return [b for alt in alternatives for b in self.at(alt).branches()]
        return [self.at(s)]

    def types(self) -> set[str]:
        found: set[str] = set()
        for b in self.branches():
            t = b.schema.get("type", [])
            found.update([t] if isinstance(t, str) else t)
        return found

    def enum(self) -> set | None:
        values, has_enum = set(), False
        for b in self.branches():
            if "enum" in b.schema or "const" in b.schema:
                has_enum = True
                values.update(b.schema.get("enum", [b.schema.get("const")]))
        return values if has_enum else None

    def first(self, key: str) -> _Side | None:
        """The first alternative that is an object ('properties') or array ('items')."""
        for b in self.branches():
            if key in b.schema:
                return b
        return None


def _covers(accepting: set[str], values: set[str]) -> bool:
    """Does a field typed ``accepting`` accept every value of types ``values``?"""
    return all(t in accepting or (t == "integer" and "number" in accepting) for t in values)


def _change(changes, kind, field, backward, forward, what, why_backward="", why_forward=""):
    problems = []
    if not backward:
        problems.append(f"新しいコンシューマーは古いイベントを読めません: {why_backward}")
    if not forward:
        problems.append(f"古いコンシューマーは新しいイベントを読めません: {why_forward}")
    reason = f"{what}。" + (" / ".join(problems) if problems else "新旧どちらのコンシューマーも読めます")
    changes.append(Change(kind, field, backward, forward, reason))


def _compare_objects(old: _Side, new: _Side, path: str, changes: list[Change], seen=frozenset()) -> None:
    o, n = old.resolved(), new.resolved()
    if (id(o), id(n)) in seen:  # a recursive model: this pair is already being compared
        return
    seen = seen | {(id(o), id(n))}
    old_props, new_props = o.get("properties", {}), n.get("properties", {})
    old_req, new_req = set(o.get("required", [])), set(n.get("required", []))
    old_open = o.get("additionalProperties", True) is not False
    new_open = n.get("additionalProperties", True) is not False
    closed = "スキーマが未知の項目を禁止しています (additionalProperties: false)"

    for name in [*old_props, *(p for p in new_props if p not in old_props)]:
        field = f"{path}.{name}" if path else name
        if name not in new_props:
            required = name in old_req
            _change(changes, "field_removed", field, new_open, not required,
                    f"{'必須' if required else '任意'}項目 {field} の削除",
                    "新しい" + closed, "古いコンシューマーはこの項目を必須としています")
        elif name not in old_props:
            required = name in new_req
            _change(changes, "field_added_required" if required else "field_added_optional",
                    field, not required, old_open,
                    f"{'必須' if required else '任意'}項目 {field} の追加",
                    "古いイベントにはこの項目がありません", "古い" + closed)
        else:
            if name in old_req and name not in new_req:
                _change(changes, "required_to_optional", field, True, False,
                        f"{field} が必須から任意に変更", "",
                        "新しいイベントでは省略され得ますが、古いコンシューマーは必須としています")
            elif name not in old_req and name in new_req:
                _change(changes, "optional_to_required", field, False, True,
                        f"{field} が任意から必須に変更",
                        "古いイベントでは省略されている可能性があります")
            _compare_fields(old.at(old_props[name]), new.at(new_props[name]), field, changes, seen)


def _compare_fields(old: _Side, new: _Side, field: str, changes: list[Change], seen=frozenset()) -> None:
    old_types, new_types = old.types(), new.types()
    backward, forward = _covers(new_types, old_types), _covers(old_types, new_types)
    if old_types and new_types and not (backward and forward):
        before, after = " | ".join(sorted(old_types)), " | ".join(sorted(new_types))
        _change(changes, "type_changed", field, backward, forward,
                f"{field} の型の変更 ({before} → {after})",
                f"古いイベントの {before} の値を受け付けません",
                f"新しいイベントの {after} の値を受け付けません")
        return  # a different type: what is inside it no longer lines up

    old_enum, new_enum = old.enum(), new.enum()
    if old_enum is not None and new_enum is not None:
        if added := sorted(map(str, new_enum - old_enum)):
            _change(changes, "enum_value_added", field, True, False,
                    f"{field} に列挙値 {', '.join(added)} を追加", "",
                    "古いコンシューマーはこの値を知りません")
        if removed := sorted(map(str, old_enum - new_enum)):
            _change(changes, "enum_value_removed", field, False, True,
                    f"{field} から列挙値 {', '.join(removed)} を削除",
                    "古いイベントにこの値が含まれている可能性があります")
    elif (old_enum is None) != (new_enum is None):
        narrowed = new_enum is not None
        _change(changes, "type_changed", field, not narrowed, narrowed,
                f"{field} が{'列挙値に制限' if narrowed else '列挙値から自由な値に変更'}",
                "古いイベントの値が列挙値にない可能性があります",
                "古いコンシューマーは列挙値以外を受け付けません")

    old_obj, new_obj = old.first("properties"), new.first("properties")
    if old_obj and new_obj:
        _compare_objects(old_obj, new_obj, field, changes, seen)
    old_arr, new_arr = old.first("items"), new.first("items")
    if old_arr and new_arr:
        _compare_fields(old_arr.at(old_arr.schema["items"]), new_arr.at(new_arr.schema["items"]),
                        f"{field}[]", changes, seen)
