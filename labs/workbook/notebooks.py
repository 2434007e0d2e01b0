"""Learner notebooks are generated from solutions/ (the single source of truth).

* In code cells, each ``### BEGIN SOLUTION`` ... ``### END SOLUTION`` region becomes a
  ``raise NotImplementedError()`` at the same indentation (nbgrader's convention).
* In markdown cells, the region becomes a prompt to write the answer.
* Outputs and execution counts are stripped; metadata is normalised to the kernelspec
  and each cell's tags, so a diff shows only what an author changed.
"""
from __future__ import annotations

import json
import os
import shutil
import sysconfig
import tempfile
from pathlib import Path

import nbformat

BEGIN, END = "### BEGIN SOLUTION", "### END SOLUTION"
KERNELSPEC = {"display_name": "Python 3", "language": "python", "name": "python3"}
STUB = ["# ここにコードを書いてください", "raise NotImplementedError()"]
MARKDOWN_STUB = "*(ここに答えを書いてください)*"
SHARE_NAME = "event-driven-workbook"  # pyproject.toml's data-files put the notebooks in share/<this>/


class SolutionMarkerError(ValueError):
    pass


def strip_solutions(source: str, markdown: bool = False, where: str = "") -> str:
    out: list[str] = []
    inside = False
    for line in source.splitlines():
        marker = line.strip()
        if marker == BEGIN:
            if inside:
                raise SolutionMarkerError(f"{where}: {BEGIN} が入れ子になっています")
            inside = True
            indent = line[: len(line) - len(line.lstrip())]
            out += [MARKDOWN_STUB] if markdown else [indent + s for s in STUB]
        elif marker == END:
            if not inside:
                raise SolutionMarkerError(f"{where}: {END} に対応する {BEGIN} がありません")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise SolutionMarkerError(f"{where}: {BEGIN} が閉じていません")
    return "\n".join(out)


def normalise(nb, keep_outputs: bool):
    nb.metadata = nbformat.NotebookNode({"kernelspec": KERNELSPEC, "language_info": {"name": "python"}})
    for cell in nb.cells:
        tags = cell.get("metadata", {}).get("tags")
        cell.metadata = nbformat.NotebookNode({"tags": tags} if tags else {})
        if cell.cell_type == "code":
            if not keep_outputs:
                cell.outputs = []
                cell.execution_count = None
    return nb


def learner_version(solution_path: Path):
    nb = nbformat.read(solution_path, as_version=4)
    for index, cell in enumerate(nb.cells):
        if BEGIN in cell.source:
            cell.source = strip_solutions(cell.source, cell.cell_type == "markdown", f"{solution_path.name} セル {index}")
    return normalise(nb, keep_outputs=False)


def render(nb) -> str:
    return nbformat.writes(nb) + "\n"


def generate(solutions: Path, notebooks: Path, check: bool = False) -> list[str]:
    """Write (or, with check=True, only compare) every learner notebook. Returns the stale ones."""
    stale = []
    expected = {p.name: render(learner_version(p)) for p in sorted(solutions.glob("*.ipynb"))}
    for name, text in expected.items():
        target = notebooks / name
        if not target.exists() or target.read_text(encoding="utf-8") != text:
            stale.append(name)
            if not check:
                notebooks.mkdir(exist_ok=True)
                target.write_text(text, encoding="utf-8")
    for orphan in sorted(p.name for p in notebooks.glob("*.ipynb") if p.name not in expected):
        stale.append(orphan)
        if not check:
            (notebooks / orphan).unlink()
    return stale


def execute(path: Path, timeout: int = 600) -> list[dict]:
    """Run a solution notebook top to bottom in a fresh kernel and save it with its outputs.
    Returns the verdicts its check cells reported (``{"exercise", "status", "reason"}`` each)."""
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory(prefix="labs-execute-") as scratch:
        report = Path(scratch) / "checks.jsonl"
        client = NotebookClient(nb, timeout=timeout, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
        client.execute(env={**os.environ, "LABS_CHECK_REPORT": str(report)})
        verdicts = [json.loads(line) for line in report.read_text(encoding="utf-8").splitlines()] if report.exists() else []
    path.write_text(render(normalise(nb, keep_outputs=True)), encoding="utf-8")
    return verdicts


def shipped_notebooks() -> Path:
    """The learner notebooks as shipped: ``notebooks/`` of a checkout (or an editable install),
    or the copy a plain ``pip install .`` puts under the environment's ``share/``."""
    checkout = Path(__file__).resolve().parents[2] / "notebooks"
    candidates = [checkout] + [Path(sysconfig.get_path("data", scheme)) / "share" / SHARE_NAME / "notebooks"
                               for scheme in (sysconfig.get_default_scheme(), sysconfig.get_preferred_scheme("user"))]
    for folder in candidates:
        if any(folder.glob("*.ipynb")):
            return folder
    raise FileNotFoundError("学習用ノートブックが見つかりません (探した場所: "
                            + ", ".join(str(c) for c in candidates) + ")")


def copy_notebooks(destination: Path, overwrite: bool = False) -> tuple[list[Path], list[Path]]:
    """Copy the learner notebooks into ``destination`` (a learner's home, say).
    A learner's own copy is never overwritten unless ``overwrite``. Returns (copied, kept)."""
    destination.mkdir(parents=True, exist_ok=True)
    copied, kept = [], []
    for source in sorted(shipped_notebooks().glob("*.ipynb")):
        target = destination / source.name
        if target.exists() and not overwrite:
            kept.append(target)
            continue
        shutil.copyfile(source, target)
        copied.append(target)
    return copied, kept
