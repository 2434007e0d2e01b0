"""Each solution notebook's exercises are wired as the check modules expect: every
``X = check("ID", X)`` cell names an exercise registered under that notebook's lesson, and X is
defined earlier in a cell whose answer sits between ``### BEGIN SOLUTION`` markers (so the
learner copy has a stub, not the answer). That the solution passes its check, and the check
module's reference too, is proven by `python -m labs.workbook execute` and
tests/workbook/test_exercises.py."""
import ast
import re
from pathlib import Path

import nbformat
import pytest

from labs.workbook.checks import load_all
from labs.workbook.notebooks import BEGIN, END

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))
CHECK_CELL = re.compile(r"""^(\w+) = check\(["']([\w.]+)["'], (\w+)\)""", re.M)

pytestmark = pytest.mark.no_sandbox


def defined_with_solution(cells: list[str], name: str) -> bool:
    for source in cells:
        if BEGIN not in source or END not in source:
            continue
        tree = ast.parse("\n".join(line for line in source.splitlines() if not line.startswith(("%", "!"))))
        if any(isinstance(node, ast.FunctionDef) and node.name == name for node in tree.body):
            return True
    return False


@pytest.mark.parametrize("path", SOLUTIONS, ids=lambda p: p.name)
def test_every_check_cell_names_its_lessons_exercise_and_a_function_with_a_solution(path):
    nb = nbformat.read(path, as_version=4)
    registered, lesson = load_all(), path.name.split("_")[0]
    code = [cell.source for cell in nb.cells if cell.cell_type == "code"]
    problems = []
    for index, source in enumerate(code):
        for target, exercise_id, name in CHECK_CELL.findall(source):
            if exercise_id not in registered:
                problems.append(f"{exercise_id}: not registered in labs/workbook/exercises")
            elif exercise_id.split(".")[0] != lesson:
                problems.append(f"{exercise_id}: checked in lesson {lesson}'s notebook")
            if target != name:
                problems.append(f"{exercise_id}: the check's result is kept as {target}, not {name}")
            if not defined_with_solution(code[:index], name):
                problems.append(f"{exercise_id}: {name} is not defined in an earlier cell with {BEGIN}")
    assert not problems, "\n".join(problems)


def test_a_function_without_markers_is_caught():
    assert not defined_with_solution(["def answer():\n    return 1\n"], "answer")
    assert defined_with_solution([f"def answer():\n    {BEGIN}\n    return 1\n    {END}\n"], "answer")
