"""The progress bar goes to stdout: JupyterLab draws stderr pink, like an error."""
import pytest

from labs.observe.progress import progress_bar

pytestmark = pytest.mark.no_sandbox


def test_the_bar_is_drawn_on_stdout_not_stderr(capsys):
    with progress_bar(3, "送信と処理") as bar:
        bar.update(3)
    drawn = capsys.readouterr()
    assert "送信と処理" in drawn.out and "3/3" in drawn.out
    assert drawn.err == ""
