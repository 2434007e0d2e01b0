"""The import rule of the house: the folders of ``labs`` are layers, and a layer imports only those below it.

    course < sandbox < observe < runtime < workbook < devtools

``labs/course`` is the production code learners read (plain boto3 that would run on AWS
unchanged), so it imports nothing of the other layers. ``labs/__init__.py`` (what a notebook
imports in one line) and ``labs/__main__.py`` (the command line) stand above them all.
Every import counts, including those inside functions.
"""
from __future__ import annotations

import ast
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_sandbox

LABS = Path(__file__).resolve().parents[1] / "labs"
LAYERS = ("course", "sandbox", "observe", "runtime", "workbook", "devtools")  # bottom to top
EXEMPT = {"labs/__init__.py", "labs/__main__.py"}
# Known breaches being mended elsewhere, each with who mends it. The test fails when one
# disappears too, so the list only ever shrinks: delete the entry with the fix.
KNOWN: dict[str, str] = {}  # breaches allowed for now, each with why (none today)


def module_name(path: Path) -> str:
    parts = list(path.relative_to(LABS.parent).with_suffix("").parts)
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imported_modules(source: str, module: str, is_package: bool = False) -> list[tuple[int, str]]:
    """(line, module) for every import in ``source``, relative imports resolved against ``module``."""
    found = []
    package = module if is_package else module.rpartition(".")[0]
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = package.split(".")
                anchor = anchor[:len(anchor) - (node.level - 1)]
                base = ".".join(anchor + ([base] if base else []))
            # "from labs import sandbox" imports labs.sandbox: count the names too
            found += [(node.lineno, base)] + [(node.lineno, f"{base}.{alias.name}") for alias in node.names]
    return found


def layer_of(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "labs" and parts[1] in LAYERS else None


def violations(source: str, module: str, is_package: bool = False) -> list[str]:
    """What ``source`` (the code of ``module``) imports against the rule, one line each."""
    own = layer_of(module)
    if own is None:
        return []
    allowed = set(LAYERS[:LAYERS.index(own) + 1])
    bad = []
    for line, imported in imported_modules(source, module, is_package):
        if imported == "labs":
            continue  # the package itself, e.g. "from labs import sandbox" (its names are checked)
        if imported.startswith("labs.") and layer_of(imported) is None and imported.split(".")[1] != "__main__":
            name = imported.split(".")[1]
            if (LABS / name).is_dir() or (LABS / f"{name}.py").is_file():
                bad.append(f"{module}:{line} imports {imported}, which belongs to no layer")
            continue
        layer = layer_of(imported)
        if layer is not None and layer not in allowed:
            bad.append(f"{module}:{line} ({own}) imports {imported} ({layer})")
    return bad


def all_modules() -> list[Path]:
    return sorted(p for p in LABS.rglob("*.py") if str(p.relative_to(LABS.parent)) not in EXEMPT)


def test_every_module_is_in_a_layer():
    strays = [str(p.relative_to(LABS.parent)) for p in all_modules() if layer_of(module_name(p)) is None]
    assert strays == [], f"modules outside the layer folders: {strays}"


def test_no_layer_imports_a_higher_one():
    bad = []
    for path in all_modules():
        bad += violations(path.read_text(encoding="utf-8"), module_name(path), path.name == "__init__.py")
    breaches = {b.split(":")[0] + " imports " + b.rsplit(" imports ", 1)[1].split(" ")[0]: b for b in bad}
    new = [line for key, line in breaches.items() if key not in KNOWN]
    assert new == [], "\n".join(new)
    mended = sorted(set(KNOWN) - set(breaches))
    assert mended == [], f"mended, so take them out of KNOWN: {mended}"


@pytest.mark.parametrize("module, source", [
    ("labs.course.consumers.sqs", "from labs import sandbox\n"),
    ("labs.course.consumers.sqs", "import labs.runtime.shapes\n"),
    ("labs.course.patterns.saga", "def f():\n    from labs.workbook.lessons import lesson05\n"),  # inside a function
    ("labs.course.redrive", "from labs.observe import recorder\n"),
    ("labs.course.consumers.sqs", "from ...observe import recorder\n"),  # relative
    ("labs.sandbox.provision", "from labs.runtime import LocalRuntime\n"),
    ("labs.observe.ledger", "from labs.workbook import check\n"),
    ("labs.runtime.sources", "from labs.devtools import chaos\n"),
    ("labs.workbook.quiz", "import labs.devtools.cli\n"),
])
def test_a_bad_import_is_caught(module, source):
    assert violations(source, module) != []


@pytest.mark.parametrize("module, source", [
    ("labs.course.consumers.sqs", "import json\nfrom labs.course import envelopes\nfrom . import batch\n"),
    ("labs.runtime.sources", "from labs import sandbox\nfrom labs.course import envelopes\nfrom labs.observe import recorder\n"),
    ("labs.devtools.chaos", "from labs.workbook import check\nfrom labs.runtime import LocalRuntime\n"),
])
def test_an_allowed_import_passes(module, source):
    assert violations(source, module) == []


def import_graph() -> dict[str, set[str]]:
    """labs module -> the labs modules it imports (each ``from X import Y`` as X.Y when Y is a module)."""
    modules = {module_name(p): p for p in LABS.rglob("*.py")}
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        by_line: dict[int, set[str]] = {}
        for line, imported in imported_modules(path.read_text(encoding="utf-8"), module, path.name == "__init__.py"):
            while imported and imported not in modules:
                imported = imported.rpartition(".")[0]  # "labs.observe.recorder" -> the module labs.observe
            by_line.setdefault(line, set()).add(imported)
        targets = set()
        for names in by_line.values():  # "from labs.runtime import shapes" imports labs.runtime.shapes
            targets |= {n for n in names if not any(other.startswith(n + ".") for other in names)}
        graph[module] = targets - {module, "labs", ""}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Every import cycle, once each, as the modules in it (Tarjan's strongly connected components)."""
    index, low, stack, on_stack, found = {}, {}, [], set(), []

    def visit(node):
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_import_cycles_among_labs_modules():
    assert cycles(import_graph()) == []


def test_a_cycle_is_found():
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
