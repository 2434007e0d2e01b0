"""A versioned JSON Schema catalog shipped with the package.

moto has no EventBridge Schema Registry, so the project keeps its own: one file per
schema version, ``labs/course/schemas/<name>/v<version>.json``, exported from the Pydantic
models with ``model_json_schema()``. Tests check that the files match the models.

    python -m labs.course.schema_catalog           # (re)write the catalog
    python -m labs.course.schema_catalog --check   # exit 1 if a file is missing or stale
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from pydantic import BaseModel

from labs.course.schema import OrderEvent, OrderEventV2

CATALOG_DIR = Path(__file__).parent / "schemas"

# (name, version) -> the model whose JSON Schema is that version
MODELS: dict[tuple[str, int], type[BaseModel]] = {
    ("OrderEvent", 1): OrderEvent,
    ("OrderEvent", 2): OrderEventV2,
}


def schema_path(name: str, version: int) -> Path:
    return CATALOG_DIR / name / f"v{version}.json"


def load_schema(name: str, version: int) -> dict:
    """The stored JSON Schema of ``name`` at ``version``."""
    path = schema_path(name, version)
    if not path.exists():
        raise KeyError(f"スキーマ {name} v{version} はカタログにありません ({list_versions(name)})")
    return json.loads(path.read_text(encoding="utf-8"))


def list_versions(name: str) -> list[int]:
    """The versions of ``name`` stored in the catalog, oldest first."""
    return sorted(int(p.stem[1:]) for p in (CATALOG_DIR / name).glob("v*.json"))


def render(model: type[BaseModel]) -> str:
    """The catalog text of a model: stable, readable JSON (Japanese kept as is)."""
    return json.dumps(model.model_json_schema(), indent=2, ensure_ascii=False) + "\n"


def export_catalog(check: bool = False) -> list[Path]:
    """Write every schema whose file is missing or differs from its model.

    Returns the paths written, or with ``check=True`` writes nothing and returns
    the paths that are stale.
    """
    stale = []
    for (name, version), model in MODELS.items():
        path, text = schema_path(name, version), render(model)
        if path.exists() and path.read_text(encoding="utf-8") == text:
            continue
        stale.append(path)
        if not check:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text, encoding="utf-8")
    return stale


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m labs.course.schema_catalog", description=__doc__.split("\n")[0])
    parser.add_argument("--check", action="store_true", help="fail if the catalog is stale; write nothing")
    args = parser.parse_args(argv)
    paths = export_catalog(check=args.check)
    for path in paths:
        print(f"{'古いファイル' if args.check else '書き出しました'}: {path.relative_to(CATALOG_DIR.parent)}")
    if args.check and paths:
        print("スキーマカタログがモデルと一致しません。python -m labs.course.schema_catalog で書き直してください", file=sys.stderr)
        return 1
    if not paths:
        print(f"スキーマカタログはモデルと一致しています (スキーマ {len(MODELS)} 個)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
