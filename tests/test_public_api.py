"""``from labs import ...``: what a notebook needs, in one import, without loading what it does not."""
import os
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.no_sandbox


def test_one_import_gives_a_notebook_its_tools():
    from labs import LocalRuntime, check, recorder, sandbox, table
    from labs.observe import recording, tables
    from labs.runtime.runtime import LocalRuntime as runtime_class
    from labs.workbook.checks import check as check_function

    assert sandbox.start and LocalRuntime is runtime_class and check is check_function
    assert recorder is recording.recorder and table is tables.table


def test_importing_labs_stays_light():
    code = ("import sys; from labs import sandbox, LocalRuntime, recorder, table, check; "
            "print(sorted(m for m in ('matplotlib', 'moto', 'pydantic') if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip()
    assert loaded == "[]"


def test_the_course_code_loads_no_other_layer():
    code = ("import sys, labs.course.consumers.sqs; "
            "print(sorted({m.split('.')[1] for m in sys.modules if m.startswith('labs.') and m.count('.')}))")
    # A process outside any sandbox: a started sandbox puts its network guard into child processes.
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABS_SANDBOX") and k != "PYTHONPATH"}
    layers = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                            env=env, cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert layers == "['course']"


def test_an_unknown_name_is_an_attribute_error():
    import labs

    with pytest.raises(AttributeError, match="no attribute 'Sandbox'"):
        labs.Sandbox
