"""The learner-notebook generator and the check reporting."""
import json
import re
import tomllib
from pathlib import Path

import nbformat
import pytest
import yaml

from labs.workbook.checks import check, exercise, REGISTRY
from labs.workbook.notebooks import SolutionMarkerError, generate, learner_version, strip_solutions

pytestmark = pytest.mark.no_sandbox  # pure code: no moto, no sandbox

ROOT = Path(__file__).resolve().parents[2]


def test_solution_region_becomes_an_indented_stub():
    source = "def f(x):\n    '''doc'''\n    ### BEGIN SOLUTION\n    return x + 1\n    ### END SOLUTION\n"
    assert strip_solutions(source) == (
        "def f(x):\n    '''doc'''\n    # ここにコードを書いてください\n    raise NotImplementedError()")


def test_markdown_solution_region_becomes_a_prompt():
    assert "ここに答えを書いてください" in strip_solutions("a\n### BEGIN SOLUTION\nB\n### END SOLUTION", markdown=True)


@pytest.mark.parametrize("source", ["### BEGIN SOLUTION\nx", "### END SOLUTION", "### BEGIN SOLUTION\n### BEGIN SOLUTION"])
def test_broken_markers_are_clear_errors(source):
    with pytest.raises(SolutionMarkerError):
        strip_solutions(source)


def make_solution(path: Path):
    nb = nbformat.v4.new_notebook()
    nb.cells = [nbformat.v4.new_markdown_cell("# 見出し"),
                nbformat.v4.new_code_cell("def f():\n    ### BEGIN SOLUTION\n    return 1\n    ### END SOLUTION")]
    nb.cells[1].outputs = [nbformat.v4.new_output("stream", text="1\n")]
    nb.cells[1].execution_count = 3
    nb.cells[1].metadata = {"tags": ["t"], "collapsed": True}
    nb.metadata["widgets"] = {"junk": 1}
    nbformat.write(nb, path)


def test_generate_strips_outputs_and_metadata_and_detects_drift(tmp_path):
    solutions, notebooks = tmp_path / "solutions", tmp_path / "notebooks"
    solutions.mkdir()
    make_solution(solutions / "01_x.ipynb")
    assert generate(solutions, notebooks, check=True) == ["01_x.ipynb"]
    assert generate(solutions, notebooks) == ["01_x.ipynb"]
    assert generate(solutions, notebooks, check=True) == []
    learner = nbformat.read(notebooks / "01_x.ipynb", as_version=4)
    code = learner.cells[1]
    assert code.outputs == [] and code.execution_count is None and code.metadata == {"tags": ["t"]}
    assert "return 1" not in code.source and "NotImplementedError" in code.source
    assert learner.metadata == {"kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
                                "language_info": {"name": "python"}}
    (notebooks / "99_orphan.ipynb").write_text("{}")
    assert generate(solutions, notebooks, check=True) == ["99_orphan.ipynb"]


def test_committed_learner_notebooks_have_no_solutions_and_no_outputs():
    for path in sorted((ROOT / "notebooks").glob("*.ipynb")):
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            assert "### BEGIN SOLUTION" not in cell.source, path.name
            if cell.cell_type == "code":
                assert not cell.outputs and cell.execution_count is None, path.name


def test_check_prints_verdicts_and_reports(tmp_path, monkeypatch, capsys):
    report = tmp_path / "report.jsonl"
    monkeypatch.setenv("LABS_CHECK_REPORT", str(report))

    def reference():
        return 42

    @exercise("test.answer", "答えは 42", reference=reference, wrong=())
    def _(candidate):
        from labs.workbook.checks import expect
        value = candidate()
        expect(value == 42, f"42 を返してください (返した値: {value!r})")

    try:
        def unfinished():
            raise NotImplementedError()

        assert check("test.answer", unfinished) is reference
        assert check("test.answer", lambda: 41) is reference
        mine = lambda: 42  # noqa: E731
        assert check("test.answer", mine) is mine
        assert check("test.answer", lambda: 1 / 0) is reference
    finally:
        del REGISTRY["test.answer"]
    out = capsys.readouterr().out
    assert "⏳ 未実装" in out and "❌ 不合格" in out and "返した値: 41" in out and "✅ 合格" in out
    assert "ZeroDivisionError" in out
    statuses = [json.loads(line)["status"] for line in report.read_text().splitlines()]
    assert statuses == ["not_implemented", "failed", "passed", "failed"]


def test_check_of_an_unknown_exercise_is_a_clear_error():
    with pytest.raises(KeyError, match="登録されていません"):
        check("no.such.exercise", lambda: None)


def test_environment_yml_lists_the_same_packages_as_pyproject():
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["project"]
    pinned = set(project["dependencies"]) | set(project["optional-dependencies"]["test"])
    env = yaml.safe_load((ROOT / "environment.yml").read_text())
    pip = next(d["pip"] for d in env["dependencies"] if isinstance(d, dict))
    normalise = lambda specs: {re.sub(r"\s+", "", s.split("#")[0]) for s in specs}  # noqa: E731
    assert normalise(pip) - {"-e."} == normalise(pinned)
