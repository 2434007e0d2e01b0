"""The gradebook on a class folder holding solved, half-solved, untouched and broken notebooks.

The folder is built here from solutions/ and notebooks/ (one learner per folder); the class
is graded once (module fixture) through the command line, and each test reads the reports.
"""
import csv
import json
from pathlib import Path

import nbformat
import pytest

from labs.workbook.__main__ import main
from labs.workbook.gradebook import grade_class

ROOT = Path(__file__).resolve().parents[2]


def learner_copy(name: str):
    return nbformat.read(ROOT / "notebooks" / name, as_version=4)


def index_of(nb, text: str) -> int:
    return next(i for i, cell in enumerate(nb.cells) if cell.cell_type == "code" and text in cell.source)


def solve(nb, name: str, definition: str) -> None:
    """Put the solution's cell that holds ``definition`` in place of the learner's stub."""
    solution = nbformat.read(ROOT / "solutions" / name, as_version=4)
    nb.cells[index_of(nb, definition)].source = solution.cells[index_of(solution, definition)].source


def write(folder: Path, learner: str, name: str, nb) -> None:
    (folder / learner).mkdir(parents=True, exist_ok=True)
    nbformat.write(nb, folder / learner / name)


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    folder = tmp_path_factory.mktemp("class")
    (folder / "solved").mkdir()
    (folder / "solved" / "00_introduction.ipynb").write_bytes((ROOT / "solutions" / "00_introduction.ipynb").read_bytes())
    write(folder, "untouched", "00_introduction.ipynb", learner_copy("00_introduction.ipynb"))

    half = learner_copy("01_eventbridge.ipynb")  # one exercise of four done
    solve(half, "01_eventbridge.ipynb", "def high_value_pattern")
    write(folder, "half", "01_eventbridge.ipynb", half)

    wrong = learner_copy("00_introduction.ipynb")  # a wrong answer, a raising cell, an odd import
    stub = index_of(wrong, "def order_created_entry")
    wrong.cells[stub].source = wrong.cells[stub].source.replace("raise NotImplementedError()", "return {}")
    wrong.cells.insert(stub, nbformat.v4.new_code_cell("raise RuntimeError('わざと失敗')"))
    wrong.cells.insert(stub, nbformat.v4.new_code_cell("import no_such_module_in_this_course"))
    write(folder, "wrong", "00_introduction.ipynb", wrong)

    broken = learner_copy("01_eventbridge.ipynb")  # an exercise cell deleted, a check cell renamed
    del broken.cells[index_of(broken, "def publish_order_event")]
    renamed = index_of(broken, 'check("01.lambda_handler"')
    broken.cells[renamed].source = broken.cells[renamed].source.replace("01.lambda_handler", "01.handler")
    write(folder, "broken", "01_eventbridge.ipynb", broken)

    (folder / "mangled").mkdir()
    (folder / "mangled" / "01_eventbridge.ipynb").write_text("{ this is not a notebook", encoding="utf-8")
    (folder / "mangled" / "notes.ipynb").write_text("{}", encoding="utf-8")  # not a lesson: ignored

    out = tmp_path_factory.mktemp("out") / "gradebook"
    assert main(["grade", str(folder), "--out", str(out), "--jobs", "2"]) == 0
    data = json.loads((out / "gradebook.json").read_text(encoding="utf-8"))
    grades = {(g["learner"], g["exercise"]): g for g in data["grades"]}
    return out, data, grades


def test_every_learner_and_lesson_notebook_is_graded(graded):
    _, data, grades = graded
    assert data["learners"] == ["broken", "half", "mangled", "solved", "untouched", "wrong"]
    assert {(r["learner"], r["notebook"]) for r in data["notebooks"]} == {
        ("solved", "solved/00_introduction.ipynb"), ("untouched", "untouched/00_introduction.ipynb"),
        ("wrong", "wrong/00_introduction.ipynb"), ("half", "half/01_eventbridge.ipynb"),
        ("broken", "broken/01_eventbridge.ipynb"), ("mangled", "mangled/01_eventbridge.ipynb")}
    assert len(grades) == 3 * 1 + 3 * 4  # three 00 notebooks (one exercise), three 01 notebooks (four)


def test_solved_untouched_and_half_solved(graded):
    _, _, grades = graded
    assert grades["solved", "00.order_created_entry"]["status"] == "passed"
    assert grades["untouched", "00.order_created_entry"]["status"] == "not_implemented"
    assert [grades["half", e]["status"] for e in ("01.high_value_pattern", "01.publish_order_event",
                                                  "01.wire_rule_to_queue", "01.lambda_handler")] \
        == ["passed", "not_implemented", "not_implemented", "not_implemented"]


def test_a_wrong_answer_fails_with_the_checks_reason_and_raising_cells_do_not_stop_the_notebook(graded):
    _, data, grades = graded
    grade = grades["wrong", "00.order_created_entry"]
    assert grade["status"] == "failed" and grade["reason"]
    problems = next(r["problems"] for r in data["notebooks"] if r["learner"] == "wrong")
    assert any("ModuleNotFoundError" in p and "no_such_module_in_this_course" in p and "import" in p for p in problems)
    assert any("RuntimeError: わざと失敗" in p for p in problems)


def test_a_deleted_exercise_or_a_renamed_check_is_reported_as_not_run_with_why(graded):
    _, _, grades = graded
    deleted = grades["broken", "01.publish_order_event"]
    assert deleted["status"] == "not_run" and "NameError" in deleted["reason"]
    renamed = grades["broken", "01.lambda_handler"]
    assert renamed["status"] == "not_run"
    assert 'check("01.lambda_handler", lambda_handler)' in renamed["reason"] and "見当たりません" in renamed["reason"]
    assert grades["broken", "01.high_value_pattern"]["status"] == "not_implemented"  # the rest still ran


def test_an_unreadable_notebook_is_reported_and_never_stops_the_rest(graded):
    _, _, grades = graded
    for exercise in ("01.high_value_pattern", "01.publish_order_event", "01.wire_rule_to_queue", "01.lambda_handler"):
        assert grades["mangled", exercise]["status"] == "not_run"
        assert "ノートブックとして読めません" in grades["mangled", exercise]["reason"]


def test_csv_json_and_html_reports(graded):
    out, data, grades = graded
    with open(out / "results.csv", encoding="utf-8-sig") as f:
        rows = list(csv.DictReader(f))
    assert {(r["learner"], r["exercise"]): r["status"] for r in rows} == {k: g["status"] for k, g in grades.items()}
    with open(out / "scores.csv", encoding="utf-8-sig") as f:
        scores = {r["learner"]: r for r in csv.DictReader(f)}
    assert scores["solved"]["score"] == "1" and scores["half"]["score"] == "1" and scores["untouched"]["score"] == "0"
    assert scores["half"]["01.high_value_pattern"] == "1" and scores["half"]["01.lambda_handler"] == "0"
    assert scores["solved"]["max_score"] == str(len(data["exercises"])) == "5"

    page = (out / "report.html").read_text(encoding="utf-8")
    assert page.count("<svg") == 1 and "クラスの進み具合" in page and "演習ごとのまとめ" in page
    assert "data-status='passed'" in page and "data-status='not_run'" in page
    assert "わざと失敗" in page and "&lt;" not in data["folder"]
    executed = nbformat.read(out / "executed" / "solved" / "00_introduction.ipynb", as_version=4)
    assert any(cell.get("outputs") for cell in executed.cells)
    assert "_labs_sandbox" not in executed.cells[0].source  # the grader's setup cell is not saved


def test_a_notebook_that_loops_is_stopped_at_its_time_limit(tmp_path):
    nb = learner_copy("00_introduction.ipynb")
    nb.cells.insert(1, nbformat.v4.new_code_cell("while True:\n    pass"))
    write(tmp_path / "class", "looping", "00_introduction.ipynb", nb)
    data = grade_class(tmp_path / "class", tmp_path / "out", time_limit=5, jobs=1, progress=lambda line: None)
    (grade,) = data["grades"]
    assert grade["status"] == "not_run" and "時間切れ" in grade["reason"] and "セル 1" in grade["reason"]
