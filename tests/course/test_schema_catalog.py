"""The versioned schema catalog shipped in labs/course/schemas/."""

import json
import subprocess
import sys

import pytest

from labs.course import schema_catalog
from labs.course.schema import OrderEvent, OrderEventV2
from labs.course.schema_catalog import export_catalog, list_versions, load_schema

pytestmark = pytest.mark.no_sandbox  # pure code: no moto, no sandbox


def test_catalog_is_fresh():
    """Fails when a model changed without `python -m labs.course.schema_catalog`."""
    assert export_catalog(check=True) == []


def test_catalog_files_are_the_models_schemas():
    assert load_schema("OrderEvent", 1) == OrderEvent.model_json_schema()
    assert load_schema("OrderEvent", 2) == OrderEventV2.model_json_schema()
    assert list_versions("OrderEvent") == [1, 2]
    assert list_versions("NoSuchEvent") == []


def test_v2_is_v1_plus_currency():
    v1, v2 = load_schema("OrderEvent", 1), load_schema("OrderEvent", 2)
    assert v2["title"] == v1["title"] == "OrderEvent"
    assert set(v2["properties"]) - set(v1["properties"]) == {"currency"}
    assert v2["properties"]["currency"]["default"] == "JPY"
    assert v2["required"] == v1["required"]


def test_unknown_version_is_a_clear_error():
    with pytest.raises(KeyError, match="OrderEvent v9"):
        load_schema("OrderEvent", 9)


def test_files_are_readable_json_with_japanese_kept():
    text = schema_catalog.schema_path("OrderEvent", 1).read_text(encoding="utf-8")
    assert "一意なイベントID" in text and text.endswith("}\n")
    assert json.loads(text)["required"][0] == "event_type"


def test_export_writes_missing_and_stale_files_and_check_reports_them(tmp_path, monkeypatch):
    monkeypatch.setattr(schema_catalog, "CATALOG_DIR", tmp_path)
    v1, v2 = tmp_path / "OrderEvent" / "v1.json", tmp_path / "OrderEvent" / "v2.json"
    assert export_catalog(check=True) == [v1, v2]
    assert not v1.exists()  # check writes nothing
    assert export_catalog() == [v1, v2]
    assert export_catalog(check=True) == []
    v2.write_text("{}", encoding="utf-8")
    assert export_catalog(check=True) == [v2]
    assert schema_catalog.main(["--check"]) == 1
    assert schema_catalog.main([]) == 0
    assert schema_catalog.main(["--check"]) == 0
    assert load_schema("OrderEvent", 2) == OrderEventV2.model_json_schema()


def test_command_line_check():
    result = subprocess.run(
        [sys.executable, "-m", "labs.course.schema_catalog", "--check"], capture_output=True, text=True
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "一致しています" in result.stdout
