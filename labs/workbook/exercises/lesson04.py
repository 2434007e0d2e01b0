"""Lesson 04 (演習4): event schemas. Checks of the three exercises.

* 04.order_models       define OrderItem / OrderEvent with the constraints
* 04.explain_errors     validate an event and explain its problems in Japanese
* 04.classify_changes   which schema changes are compatible, which break consumers
"""
from __future__ import annotations

import contextlib
import copy
import json
import re
from datetime import datetime, timezone

from pydantic import BaseModel, Field, ValidationError

from labs.course import schema as course_schema
from labs.course.schema import EventType, OrderEvent, OrderItem, explain_validation_error, validate_event
from labs.course.schema_compat import check_compatibility
from labs.workbook.checks import CheckFailed, exercise, expect, uses

# --- 04.order_models ----------------------------------------------------------------

VALID_EVENT = {
    "event_type": "OrderCreated",
    "event_id": "0b6c8f5e-3f4e-4f0a-9a51-2b1f6c0d9e11",
    "timestamp": "2024-01-01T09:00:00+09:00",
    "order_id": "ORD-001",
    "customer_id": "CUST-001",
    "items": [
        {"product_id": "P-1", "quantity": 2, "unit_price": 1500},
        {"product_id": "P-2", "quantity": 1, "unit_price": 0},  # a free gift: price 0 is fine
    ],
    "total_amount": 3000,
}


def _changed(**changes) -> dict:
    event = copy.deepcopy(VALID_EVENT)
    event.update(changes)
    return event


def _item(**changes) -> dict:
    return _changed(items=[{"product_id": "P-1", "quantity": 2, "unit_price": 1500, **changes}],
                    total_amount=changes.get("quantity", 2) * changes.get("unit_price", 1500))


VALID_SAMPLES = {
    "正しいイベント": VALID_EVENT,
    "任意項目あり (shipping_address, notes)": _changed(shipping_address="東京都千代田区1-1", notes="置き配"),
    "UTC の日時 (Z)": _changed(timestamp="2024-01-01T00:00:00Z"),
}

INVALID_SAMPLES = {
    "数量 0": _item(quantity=0),
    "数量がマイナス": _item(quantity=-1),
    # strict=True: without it pydantic quietly turns the string "2" into the int 2
    '数量が文字列 "2"': _changed(items=[{"product_id": "P-1", "quantity": "2", "unit_price": 1500}], total_amount=3000),
    "単価がマイナス": _item(unit_price=-100),
    "明細が空": _changed(items=[], total_amount=0),
    "合計金額が明細の合計と違う": _changed(total_amount=2999),
    "タイムゾーンのない日時 (utcnow() の値)": _changed(timestamp="2024-01-01T00:00:00"),
    "未知のイベント種別": _changed(event_type="OrderLost"),
    "order_id がない": {k: v for k, v in VALID_EVENT.items() if k != "order_id"},
}


def build_order_models_reference():
    return OrderItem, OrderEvent


def _seed_models():
    """The course text's models: no constraints at all."""

    class SeedItem(BaseModel):
        product_id: str
        quantity: int
        unit_price: int

    class SeedEvent(BaseModel):
        event_type: EventType
        event_id: str
        timestamp: datetime
        order_id: str
        customer_id: str
        items: list[SeedItem]
        total_amount: int

    return SeedItem, SeedEvent


def _models_without_total_check():
    class Item(BaseModel):
        product_id: str = Field(min_length=1)
        quantity: int = Field(gt=0)
        unit_price: int = Field(ge=0)

    class Loose(BaseModel):  # some constraints, but total_amount is never compared
        event_type: EventType
        event_id: str
        timestamp: datetime  # naive accepted too
        order_id: str = Field(min_length=1)
        customer_id: str = Field(min_length=1)
        items: list[Item] = Field(min_length=1)
        total_amount: int = Field(ge=0)

    return Item, Loose


def _models_without_strict():
    """Every constraint but strict=True: "2" becomes 2 without a word."""

    class Item(BaseModel):
        product_id: str = Field(min_length=1)
        quantity: int = Field(gt=0)
        unit_price: int = Field(ge=0)

    class Event(OrderEvent):
        items: list[Item] = Field(min_length=1)

    return Item, Event


def _models_with_free_items_refused():
    class Item(BaseModel):
        product_id: str = Field(min_length=1)
        quantity: int = Field(gt=0)
        unit_price: int = Field(gt=0)  # wrong: a price of 0 (a free gift) is a valid order line

    class Event(OrderEvent):
        items: list[Item] = Field(min_length=1)

    return Item, Event


@exercise("04.order_models", "OrderItem / OrderEvent を制約つきで定義する",
          reference=build_order_models_reference,
          wrong=(_seed_models, _models_without_total_check, _models_without_strict, _models_with_free_items_refused),
          hints=("型だけでなく値の範囲も決めます: 数量は 1 以上、単価は 0 以上 (無料の商品もあります)、明細は 1 件以上、"
                 "日時はタイムゾーン付き。合計金額が明細と合うかは、1 つの項目ではなくイベント全体を見る検証です。",
                 "Field(gt=0) / Field(ge=0) / Field(min_length=1)、文字列の \"2\" を整数にしない Field(strict=True)、"
                 "timestamp: AwareDatetime、そして @model_validator(mode=\"after\") で "
                 "total_amount と sum(i.quantity * i.unit_price for i in self.items) を比べます。"))
def _(candidate):
    uses("受け付けるべきイベント", "、".join(VALID_SAMPLES))
    uses("拒否すべきイベント", "、".join(INVALID_SAMPLES))
    models = candidate()
    expect(isinstance(models, tuple) and len(models) == 2, "(OrderItem, OrderEvent) の 2 つを返してください")
    item_model, event_model = models
    expect(isinstance(item_model, type) and issubclass(item_model, BaseModel)
           and isinstance(event_model, type) and issubclass(event_model, BaseModel),
           "どちらも pydantic.BaseModel のサブクラスにしてください")
    for name, sample in VALID_SAMPLES.items():
        try:
            event_model.model_validate(copy.deepcopy(sample))
        except ValidationError as error:
            lines = " / ".join(explain_validation_error(error))
            raise CheckFailed(f"正しいイベント「{name}」を拒否しました: {lines}") from None
    item = item_model.model_validate({"product_id": "P-1", "quantity": 1, "unit_price": 0})
    expect(getattr(item, "unit_price", None) == 0, "OrderItem は単価 0 (無料の商品) を受け付けてください")
    accepted = []
    for name, sample in INVALID_SAMPLES.items():
        try:
            event_model.model_validate(copy.deepcopy(sample))
        except ValidationError:
            continue
        accepted.append(name)
    expect(not accepted, "不正なイベントを受け付けてしまいました: " + "、".join(accepted))


# --- 04.explain_errors --------------------------------------------------------------

# The exercise: the translation itself, from error.errors() (loc, type, ctx) to one Japanese line
# per problem. labs.course.schema.explain_validation_error does it for the course; the check
# runs the answer with it unavailable, so an answer cannot hand the work over to it.
_MESSAGES = {
    "missing": "必須の項目がありません",
    "greater_than": "{gt} より大きい値が必要です",
    "greater_than_equal": "{ge} 以上の値が必要です",
    "string_too_short": "{min_length} 文字以上の文字列が必要です",
    "too_short": "{min_length} 件以上の要素が必要です",
    "timezone_aware": "タイムゾーン付きの日時が必要です",
    "json_invalid": "JSON として読めません",
    "enum": "{expected} のいずれかが必要です",
}


def explain_order_event_reference(raw) -> list[str]:
    try:
        validate_event(raw)
    except ValidationError as error:
        lines = []
        for problem in error.errors():
            where = ""
            for part in problem["loc"]:
                where += f"[{part}]" if isinstance(part, int) else (f".{part}" if where else part)
            template = _MESSAGES.get(problem["type"])
            text = template.format(**problem.get("ctx", {})) if template else problem["msg"]
            lines.append(f"{where or '(イベント全体)'}: {text}")
        return lines
    return []


def _wraps_the_course_translation(raw) -> list[str]:
    try:
        validate_event(raw)
    except ValidationError as error:
        return explain_validation_error(error)
    return []


class _Delegated(CheckFailed):
    pass


def _handed_over(*args, **kwargs):
    raise _Delegated("explain_validation_error を呼ばずに、error.errors() の loc / type / ctx から"
                     "自分で日本語の説明を組み立ててください (この演習で練習すること)")


@contextlib.contextmanager
def _without_course_translation(candidate):
    """The course's explain_validation_error replaced, wherever the answer could reach it (its
    module and, under any name, the answer's globals), by one that says what to do instead."""
    original = course_schema.explain_validation_error
    namespace = getattr(candidate, "__globals__", {})
    aliases = [name for name, value in namespace.items() if value is original]
    course_schema.explain_validation_error = _handed_over
    namespace.update(dict.fromkeys(aliases, _handed_over))
    try:
        yield
    finally:
        course_schema.explain_validation_error = original
        namespace.update(dict.fromkeys(aliases, original))


_JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def _english_messages(raw) -> list[str]:
    try:
        validate_event(raw)
    except ValidationError as error:
        return [f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in error.errors()]
    return []


def _first_problem_only(raw) -> list[str]:
    return explain_order_event_reference(raw)[:1]


def _dotted_locations(raw) -> list[str]:
    try:
        validate_event(raw)
    except ValidationError as error:
        return [f"{'.'.join(map(str, e['loc']))}: {line.split(': ', 1)[1]}"
                for e, line in zip(error.errors(), explain_order_event_reference(raw))]
    return []


def _raises_instead(raw) -> list[str]:
    validate_event(raw)
    return []


@exercise("04.explain_errors", "イベントを検証し、問題を項目ごとに日本語で説明する",
          reference=explain_order_event_reference,
          wrong=(_english_messages, _first_problem_only, _dotted_locations, _raises_instead,
                 _wraps_the_course_translation),
          hints=("例外を送出せずに捕まえ、問題ごとに 1 行を作ります。最初の 1 つだけでなく全部です。"
                 "場所は明細の何番目かまで分かるように書きます (items[0].quantity)。",
                 "try: validate_event(raw) except ValidationError as error: for problem in error.errors(): ... "
                 "problem[\"loc\"] (整数は [0]、文字列は .名前 でつなぐ)、problem[\"type\"] (missing, greater_than など) と "
                 "problem.get(\"ctx\") から日本語の文を組み立てます。"))
def _(candidate):
    with _without_course_translation(candidate):
        _explains_each_problem(candidate)


def _explains_each_problem(candidate):
    uses("正しいイベント (dict と JSON 文字列)", VALID_EVENT)
    uses("問題のあるイベント", "明細の数量 0 / order_id が空で timestamp にタイムゾーンなし / "
                               "total_amount が明細と違う (1) / JSON として読めない \"{not json\"")
    expect(candidate(copy.deepcopy(VALID_EVENT)) == [], "正しいイベントには空のリスト [] を返してください")
    expect(candidate(json.dumps(VALID_EVENT)) == [], "JSON 文字列 (SQS の body) の正しいイベントにも [] を返してください")

    lines = candidate(_item(quantity=0))
    expect(isinstance(lines, list) and len(lines) == 1,
           f"数量 0 の明細 1 つには 1 行の説明を返してください (返り値: {lines!r})")
    expect(lines[0].startswith("items[0].quantity:"),
           f"明細の問題は「items[0].quantity: 説明」の形で場所を示してください (返り値: {lines[0]!r})")
    expect(bool(_JAPANESE.search(lines[0].split(":", 1)[1])), f"説明は日本語で書いてください (返り値: {lines[0]!r})")

    two = _changed(order_id="", timestamp="2024-01-01T00:00:00")
    lines = candidate(two)
    expect(len(lines) == 2, f"問題が 2 つあるイベントには 2 行を返してください (返り値: {lines!r})")
    expect({line.split(":", 1)[0] for line in lines} == {"order_id", "timestamp"},
           f"各行は項目名で始めてください (order_id: ..., timestamp: ...) (返り値: {lines!r})")
    expect(all(_JAPANESE.search(line) for line in lines), f"説明は日本語で書いてください (返り値: {lines!r})")

    lines = candidate(_changed(total_amount=1))
    expect(len(lines) == 1 and "total_amount" in lines[0],
           f"合計金額の不一致は total_amount に触れる 1 行で説明してください (返り値: {lines!r})")

    lines = candidate("{not json")
    expect(isinstance(lines, list) and len(lines) >= 1, "JSON として読めない文字列にも説明を返してください (例外を投げずに)")


# --- 04.classify_changes ------------------------------------------------------------

COMPATIBLE, BREAKING = "互換", "破壊的"


def _schema() -> dict:
    return OrderEvent.model_json_schema()


def _add_field(name: str, field: dict, required: bool):
    def change(schema):
        schema["properties"][name] = field
        if required:
            schema["required"].append(name)
    return change


def _remove_field(name: str):
    def change(schema):
        del schema["properties"][name]
        if name in schema["required"]:
            schema["required"].remove(name)
    return change


def _set_type(name: str, type_: str):
    def change(schema):
        schema["properties"][name] = {"type": type_, "title": schema["properties"][name].get("title", name)}
    return change


def _make_required(name: str):
    def change(schema):
        schema["properties"][name] = {"type": "string", "title": name}
        schema["required"].append(name)
    return change


def _add_event_type(value: str):
    def change(schema):
        schema["$defs"]["EventType"]["enum"].append(value)
    return change


# id -> (what changes, in Japanese; how the v1 JSON Schema changes)
SCHEMA_CHANGES = {
    "add_optional_currency": ("任意項目 currency (既定値 'JPY') を追加する",
                              _add_field("currency", {"type": "string", "default": "JPY"}, required=False)),
    "add_required_currency": ("必須項目 currency (既定値なし) を追加する",
                              _add_field("currency", {"type": "string"}, required=True)),
    "remove_notes": ("任意項目 notes を削除する", _remove_field("notes")),
    "remove_customer_id": ("必須項目 customer_id を削除する", _remove_field("customer_id")),
    "total_amount_to_string": ("total_amount の型を整数から文字列 ('3000') に変える", _set_type("total_amount", "string")),
    "notes_required": ("任意項目 notes を必須にする", _make_required("notes")),
    "add_event_type_returned": ("event_type に 'OrderReturned' を追加する", _add_event_type("OrderReturned")),
}


def changed_schema(change_id: str) -> dict:
    """The v1 JSON Schema of OrderEvent with one change of SCHEMA_CHANGES applied."""
    schema = _schema()
    SCHEMA_CHANGES[change_id][1](schema)
    return schema


def checker_verdicts() -> dict[str, str]:
    """What labs.course.schema_compat says about each change: 互換 (both ways) or 破壊的."""
    return {cid: BREAKING if check_compatibility(_schema(), changed_schema(cid)).breaking else COMPATIBLE
            for cid in SCHEMA_CHANGES}


def classify_changes_reference() -> dict[str, str]:
    return {
        "add_optional_currency": COMPATIBLE,
        "add_required_currency": BREAKING,
        "remove_notes": COMPATIBLE,
        "remove_customer_id": BREAKING,
        "total_amount_to_string": BREAKING,
        "notes_required": BREAKING,
        "add_event_type_returned": BREAKING,
    }


def _everything_additive_is_fine() -> dict[str, str]:
    # A common belief: adding never breaks anything. Adding a *required* field does,
    # and so does a new enum value an old consumer does not know.
    return {**classify_changes_reference(), "add_required_currency": COMPATIBLE,
            "add_event_type_returned": COMPATIBLE}


def _every_removal_breaks() -> dict[str, str]:
    return {**classify_changes_reference(), "remove_notes": BREAKING}


def _all_breaking() -> dict[str, str]:
    return {cid: BREAKING for cid in SCHEMA_CHANGES}


@exercise("04.classify_changes", "スキーマ変更を互換 / 破壊的に分類する",
          reference=classify_changes_reference,
          wrong=(_everything_additive_is_fine, _every_removal_breaks, _all_breaking),
          hints=("変更ごとに 2 つの組み合わせを考えます: 古いコンシューマーが新しいイベントを読めるか、"
                 "新しいコンシューマーが古いイベント (アーカイブやリプレイ) を読めるか。どちらかで壊れれば破壊的です。",
                 "答えは {変更ID: \"互換\" または \"破壊的\"} の dict です。必須項目の追加・削除、型の変更、"
                 "列挙値 (event_type) の追加が古い側にどう見えるかを、labs.course.schema_compat.check_compatibility の "
                 "考え方で確かめます。"))
def _(candidate):
    uses("変更", {cid: text for cid, (text, _) in SCHEMA_CHANGES.items()})
    answer = candidate()
    expect(isinstance(answer, dict), "{変更ID: '互換' または '破壊的'} の dict を返してください")
    missing = [cid for cid in SCHEMA_CHANGES if cid not in answer]
    expect(not missing, f"分類されていない変更があります: {', '.join(missing)}")
    odd = {cid: v for cid, v in answer.items() if v not in (COMPATIBLE, BREAKING)}
    expect(not odd, f"値は '互換' か '破壊的' にしてください: {odd}")
    truth = checker_verdicts()
    wrong = [f"{cid} ({SCHEMA_CHANGES[cid][0]})" for cid in SCHEMA_CHANGES if answer[cid] != truth[cid]]
    expect(not wrong, f"{len(wrong)} 件の分類を見直してください (古いコンシューマー × 新しいイベント、"
                      f"新しいコンシューマー × 古いイベントの両方で考えましょう): " + " / ".join(wrong))
