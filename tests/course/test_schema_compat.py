"""The schema compatibility checker, one test per kind of change.

Each change is made on real Pydantic models, and where it matters the verdict is
cross-checked by actually reading old events with the new model and vice versa.
"""

from enum import Enum

import pytest
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from labs.course.schema import OrderEvent
from labs.course.schema_catalog import load_schema
from labs.course.schema_compat import Change, CompatibilityReport, check_compatibility

pytestmark = pytest.mark.no_sandbox  # pure code: no moto, no sandbox


class Item(BaseModel):
    product_id: str
    quantity: int


class Status(str, Enum):
    CREATED = "OrderCreated"
    SHIPPED = "OrderShipped"


class V1(BaseModel):
    status: Status
    order_id: str
    items: list[Item]
    notes: str | None = None


def changes(new: type[BaseModel], old: type[BaseModel] = V1) -> list[tuple]:
    report = check_compatibility(old.model_json_schema(), new.model_json_schema())
    return [(c.kind, c.field, c.backward, c.forward) for c in report.changes]


def reads(consumer: type[BaseModel], event: dict) -> bool:
    try:
        consumer.model_validate(event)
        return True
    except ValidationError:
        return False


OLD_EVENT = {"status": "OrderCreated", "order_id": "o1", "items": [{"product_id": "p", "quantity": 1}]}


def test_no_change():
    report = check_compatibility(V1.model_json_schema(), V1.model_json_schema())
    assert report.changes == [] and not report.breaking
    assert report.backward_compatible and report.forward_compatible
    assert report.explain().endswith("- 変更はありません")


def test_optional_field_added_is_compatible_both_ways():
    class New(V1):
        currency: str = "JPY"

    assert changes(New) == [("field_added_optional", "currency", True, True)]
    assert reads(New, OLD_EVENT) and reads(V1, {**OLD_EVENT, "currency": "USD"})


def test_required_field_added_breaks_new_consumers_of_old_events():
    class New(V1):
        currency: str

    assert changes(New) == [("field_added_required", "currency", False, True)]
    assert not reads(New, OLD_EVENT) and reads(V1, {**OLD_EVENT, "currency": "USD"})


def test_added_field_breaks_old_consumers_that_forbid_unknown_fields():
    class Closed(V1):
        model_config = ConfigDict(extra="forbid")

    class New(Closed):
        currency: str = "JPY"

    assert changes(New, old=Closed) == [("field_added_optional", "currency", True, False)]
    assert not reads(Closed, {**OLD_EVENT, "currency": "USD"})


def test_required_field_removed_breaks_old_consumers():
    class New(BaseModel):
        status: Status
        items: list[Item]
        notes: str | None = None

    assert changes(New) == [("field_removed", "order_id", True, False)]
    assert reads(New, OLD_EVENT) and not reads(V1, {k: v for k, v in OLD_EVENT.items() if k != "order_id"})


def test_optional_field_removed_is_compatible():
    class New(BaseModel):
        status: Status
        order_id: str
        items: list[Item]

    assert changes(New) == [("field_removed", "notes", True, True)]


def test_type_changed_breaks_both_ways():
    class New(V1):
        order_id: int

    assert changes(New) == [("type_changed", "order_id", False, False)]
    assert not reads(New, OLD_EVENT) and not reads(V1, {**OLD_EVENT, "order_id": 1})


def test_type_widened_and_narrowed():
    class Price(BaseModel):
        amount: int

    class Wider(BaseModel):
        amount: float

    assert changes(Wider, old=Price) == [("type_changed", "amount", True, False)]
    assert changes(Price, old=Wider) == [("type_changed", "amount", False, True)]


def test_nullable_removed_is_a_type_change():
    class New(V1):
        notes: str = ""

    assert changes(New) == [("type_changed", "notes", False, True)]
    assert not reads(New, {**OLD_EVENT, "notes": None})


def test_required_to_optional_breaks_old_consumers():
    class New(V1):
        order_id: str = "unknown"

    assert changes(New) == [("required_to_optional", "order_id", True, False)]


def test_optional_to_required_breaks_new_consumers():
    class New(V1):
        notes: str | None

    assert changes(New) == [("optional_to_required", "notes", False, True)]
    assert not reads(New, OLD_EVENT)


def test_enum_value_added_and_removed():
    class Wider(str, Enum):
        CREATED = "OrderCreated"
        SHIPPED = "OrderShipped"
        RETURNED = "OrderReturned"

    class Narrower(str, Enum):
        CREATED = "OrderCreated"

    class Added(V1):
        status: Wider

    class Removed(V1):
        status: Narrower

    assert changes(Added) == [("enum_value_added", "status", True, False)]
    assert changes(Removed) == [("enum_value_removed", "status", False, True)]
    assert not reads(V1, {**OLD_EVENT, "status": "OrderReturned"})
    assert not reads(Removed, {**OLD_EVENT, "status": "OrderShipped"})


def test_free_string_narrowed_to_enum():
    class New(V1):
        order_id: Status

    assert changes(New) == [("type_changed", "order_id", False, True)]


def test_changes_inside_nested_models_in_lists_are_found():
    class NewItem(BaseModel):
        product_id: str
        quantity: float
        sku: str

    class New(V1):
        items: list[NewItem]

    assert changes(New) == [
        ("type_changed", "items[].quantity", True, False),
        ("field_added_required", "items[].sku", False, True),
    ]


def test_optional_nested_model_is_followed():
    class Address(BaseModel):
        city: str

    class NewAddress(BaseModel):
        city: str
        zip: str

    class Old(BaseModel):
        address: Address | None = None

    class New(BaseModel):
        address: NewAddress | None = None

    assert changes(New, old=Old) == [("field_added_required", "address.zip", False, True)]


def test_recursive_models_terminate():
    class Node(BaseModel):
        name: str
        children: list["Node"] = []

    class Node2(BaseModel):
        name: str
        children: list["Node2"] = []
        weight: int = 0

    assert changes(Node2, old=Node) == [("field_added_optional", "weight", True, True)]


def test_order_event_v1_to_v2_in_the_catalog_is_compatible():
    report = check_compatibility(load_schema("OrderEvent", 1), load_schema("OrderEvent", 2))
    assert [(c.kind, c.field) for c in report.changes] == [("field_added_optional", "currency")]
    assert report.backward_compatible and report.forward_compatible and not report.breaking


def test_a_breaking_order_event_change_is_explained_in_japanese():
    class Breaking(OrderEvent):
        total_amount: str = Field()

    report = check_compatibility(load_schema("OrderEvent", 1), Breaking.model_json_schema())
    (change,) = report.changes
    assert isinstance(change, Change) and isinstance(report, CompatibilityReport)
    assert change.breaking and not report.backward_compatible and not report.forward_compatible
    assert change.reason_ja == (
        "total_amount の型の変更 (integer → string)。"
        "新しいコンシューマーは古いイベントを読めません: 古いイベントの integer の値を受け付けません / "
        "古いコンシューマーは新しいイベントを読めません: 新しいイベントの string の値を受け付けません"
    )
    assert report.explain().splitlines() == [
        "後方互換 (新しいコンシューマーが古いイベントを読める): ×",
        "前方互換 (古いコンシューマーが新しいイベントを読める): ×",
        f"- [破壊的] {change.reason_ja}",
    ]


@pytest.mark.parametrize("backward, forward, breaking", [(True, True, False), (True, False, True), (False, True, True)])
def test_breaking_means_not_compatible_both_ways(backward, forward, breaking):
    assert Change("k", "f", backward, forward, "").breaking is breaking
