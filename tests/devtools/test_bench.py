"""The bench's helpers run and return numbers (tiny sizes; no timing is asserted)."""
import re
from pathlib import Path

from labs.devtools import bench

JUNIT = """<?xml version="1.0" encoding="utf-8"?><testsuites><testsuite name="pytest">
<testcase classname="solutions.00_introduction.ipynb" name="Cell 0" time="1.500" />
<testcase classname="solutions.00_introduction.ipynb" name="Cell 1" time="0.250" />
<testcase classname="solutions.00_introduction.ipynb" name="Cell 2" time="3.000" />
</testsuite></testsuites>"""


def test_drain_hands_every_message_to_both_sides():
    result = bench.drain(messages=25, depth=10)
    assert (result.messages, result.runtime_handled, result.bare_handled) == (25, 25, 25)
    assert result.runtime_seconds > 0 and result.bare_seconds > 0
    assert result.ratio > 0


def test_parse_cells_reads_nbval_per_cell_times():
    cells = bench.parse_cells(JUNIT, "00_introduction")
    assert [(c.index, c.seconds) for c in cells] == [(0, 1.5), (1, 0.25), (2, 3.0)]
    assert cells[2].name == "00_introduction#cell2"


def test_nbval_times_the_floor_notebook_and_its_cells():
    run = bench.nbval(bench.FLOOR, strict=False)
    assert run.passed, run.summary
    assert run.seconds > 0
    assert [c.index for c in run.cells] == [0]
    assert "sandbox.start()" in run.cells[0].source


def test_last_lines_carry_both_issues_facts():
    cells = bench.parse_cells(JUNIT, "00_introduction")
    notebook = bench.NotebookRun(Path("solutions/00_introduction.ipynb"), 6.0, True, cells)
    floor = bench.NotebookRun(bench.FLOOR, 4.0, True)
    drained = bench.DrainResult(10, 10, runtime_seconds=2.0, bare_seconds=1.8, runtime_handled=10, bare_handled=10)
    suite = bench.SuiteRun(seconds=40.0, passed=True, notebooks=4, log=Path("suite.log"))

    deep = bench.DepthResult(10, 10_000, 1000, shallow_seconds=0.002, deep_seconds=0.0022, mended_seconds=0.002,
                             bare_seconds=0.1)

    first, last = bench.last_lines(drained, [bench.Comparison(notebook, floor)], suite, floor_seconds=4.0, deep=deep)

    assert first == "runtime/bare=0.90 nb00/floor=1.50"
    assert last == ("depth_cost=1.10 mended/bare@1000=50.0 runtime/bare=0.90 suite/floor=2.50 "
                    "slowest_cell=00_introduction#cell2:3.00")
    assert re.fullmatch(r"depth_cost=\S+ mended/bare@1000=\S+ runtime/bare=\S+ suite/floor=\S+ "
                        r"slowest_cell=\S+:\d+\.\d+", last)


def test_last_lines_without_suite_or_notebooks_say_n_a():
    drained = bench.DrainResult(10, 10, 1.0, 1.0, 10, 10)
    first, last = bench.last_lines(drained, [], None, 0.0)
    assert first == "runtime/bare=1.00 nb00/floor=n/a"
    assert last == "depth_cost=n/a mended/bare@1000=n/a runtime/bare=1.00 suite/floor=n/a slowest_cell=n/a"


def test_a_failed_suite_has_no_ratio():
    drained = bench.DrainResult(10, 10, 1.0, 1.0, 10, 10)
    suite = bench.SuiteRun(seconds=5.0, passed=False, notebooks=4, log=Path("suite.log"))
    _, last = bench.last_lines(drained, [], suite, floor_seconds=4.0)
    assert "suite/floor=failed" in last


def test_profile_names_the_slowest_cells_and_their_aws_calls(tmp_path):
    import nbformat

    notebook = nbformat.v4.new_notebook()
    notebook.cells = [
        nbformat.v4.new_code_cell("from labs import sandbox\nsandbox.start()"),
        nbformat.v4.new_code_cell("import boto3\nboto3.client('sqs').list_queues()"),
    ]
    path = tmp_path / "tiny.ipynb"
    nbformat.write(notebook, path)

    report = bench.profile_notebook(path, top=2)

    assert report.startswith("tiny.ipynb: 2 code cells")
    assert "tiny#cell0" in report and "tiny#cell1" in report
    assert "sqs.ListQueues x1" in report
