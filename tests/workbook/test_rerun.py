"""Every solution notebook survives "Run All" twice in one kernel.

Learners and instructors re-run cells all the time: provisioning must be idempotent,
runtimes must not pile up handlers, recorders must not choke on what the first run left.
Each notebook is executed top to bottom, then again in the same kernel, with nbclient;
any error fails the test and names the cell.
"""
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbclient.exceptions import CellExecutionError

ROOT = Path(__file__).resolve().parents[2]
SOLUTIONS = sorted((ROOT / "solutions").glob("*.ipynb"))


def run_all_twice(path: Path) -> None:
    """Run All, then Run All again in the same kernel; raise AssertionError naming the failing cell."""
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=300, kernel_name="python3", resources={"metadata": {"path": str(path.parent)}})
    with client.setup_kernel():
        for run in ("1st", "2nd"):
            for index, cell in enumerate(nb.cells):
                if cell.cell_type != "code":
                    continue
                try:
                    client.execute_cell(cell, index)
                except CellExecutionError as error:
                    raise AssertionError(f"{path.name}: Run All ({run}) failed at cell {index}:\n{error}") from None


@pytest.mark.parametrize("path", SOLUTIONS or [None], ids=lambda p: p.name if p else "none")
def test_run_all_twice_in_one_kernel(path):
    if path is None:
        pytest.skip("no solution notebook yet")
    run_all_twice(path)


def test_a_notebook_that_breaks_on_the_second_run_is_caught(tmp_path):
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell("assert 'ran' not in globals()\nran = True")])
    path = tmp_path / "fragile.ipynb"
    nbformat.write(nb, path)
    with pytest.raises(AssertionError, match=r"Run All \(2nd\) failed at cell 0"):
        run_all_twice(path)
