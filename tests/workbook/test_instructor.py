"""The instructor's commands: re-executing solutions fails on a check that does not pass,
one notebook at a time if wished; learner notebooks copied into a home; make's targets."""
import subprocess
from pathlib import Path

import nbformat

from labs.workbook.__main__ import main, unpassed_checks
from labs.workbook.notebooks import copy_notebooks, shipped_notebooks

ROOT = Path(__file__).resolve().parents[2]


def test_executing_a_solution_whose_check_does_not_pass_fails_naming_the_exercise(tmp_path, capsys):
    nb = nbformat.read(ROOT / "solutions" / "00_introduction.ipynb", as_version=4)
    cell = next(c for c in nb.cells if "def order_created_entry" in c.source)
    cell.source = cell.source.replace('"DetailType": "OrderCreated"', '"DetailType": "OrderPlaced"')  # an edit gone wrong
    path = tmp_path / "00_introduction.ipynb"
    nbformat.write(nb, path)

    assert main(["execute", str(path)]) == 1
    out = capsys.readouterr().out
    assert f"FAIL {path}: 00.order_created_entry did not pass its check (failed: " in out
    saved = nbformat.read(path, as_version=4)  # saved all the same, so the instructor can look at it
    assert any("不合格" in str(o) for c in saved.cells for o in c.get("outputs", []))


def test_a_missing_check_is_a_failure_too():
    verdicts = [{"exercise": "01.publish_order_event", "status": "passed", "reason": ""},
                {"exercise": "01.high_value_pattern", "status": "not_implemented", "reason": ""}]
    problems = unpassed_checks(Path("solutions/01_eventbridge.ipynb"), verdicts)
    assert problems == [
        "FAIL solutions/01_eventbridge.ipynb: 01.high_value_pattern did not pass its check (not_implemented)",
        "FAIL solutions/01_eventbridge.ipynb: 01.lambda_handler was not checked (its check cell is missing)",
        "FAIL solutions/01_eventbridge.ipynb: 01.wire_rule_to_queue was not checked (its check cell is missing)"]


def test_copy_notebooks_fills_a_home_and_never_overwrites_a_learners_work(tmp_path, capsys):
    home = tmp_path / "jupyter-alice" / "notebooks"
    copied, kept = copy_notebooks(home)
    names = sorted(p.name for p in shipped_notebooks().glob("*.ipynb"))
    assert sorted(p.name for p in copied) == names and not kept
    (home / names[0]).write_text("my work", encoding="utf-8")
    assert main(["copy-notebooks", str(home)]) == 0
    assert (home / names[0]).read_text(encoding="utf-8") == "my work"
    assert f"そのまま残しました {len(names)} 冊" in capsys.readouterr().out
    copy_notebooks(home, overwrite=True)
    assert (home / names[0]).read_bytes() == (shipped_notebooks() / names[0]).read_bytes()


def make_dry_run(*arguments: str) -> str:
    """What make would run (-n: print only; nothing is installed or executed)."""
    return subprocess.run(["make", "-n", *arguments], cwd=ROOT, capture_output=True, text=True, check=True).stdout


def test_make_targets_for_instructors():
    assert "-m labs.workbook execute solutions/03_dlq.ipynb" in make_dry_run("solutions", "NB=solutions/03_dlq.ipynb")
    assert "-m labs.workbook execute solutions/*.ipynb" in make_dry_run("solutions")
    assert '-m labs.workbook grade "class-a" --out "build/a"' in make_dry_run("grade", "DIR=class-a", "OUT=build/a")
    assert "workbook.py --venv .venv test unit" in make_dry_run("unit")
    assert "workbook.py --venv .venv lab --port 8899" in make_dry_run("lab", "PORT=8899")
