"""Runs at the start of every Python process the workbook's kernel starts: ``!python script.py``,
the venv's ``!aws ...`` (a Python program), ``!pip``.

``sandbox.start()`` puts this folder on PYTHONPATH and sets ``LABS_SANDBOX``. Then every such
process gets the same network guard as the kernel (its AWS requests go to the notebook's
sandbox or to loopback, or are refused before sending) and its AWS clients are pointed at the
notebook's sandbox. Without ``LABS_SANDBOX`` (or with ``LABS_REAL_AWS=1``) it does nothing.
Whatever it does, it then runs the ``sitecustomize`` it hides, if there is one.
"""
import importlib.machinery
import importlib.util
import os
import sys

_HERE = os.path.dirname(os.path.abspath(__file__))


def _load(name: str, path: str):
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module  # later ``import labs.sandbox`` finds this very module: one guard per process
    spec.loader.exec_module(module)
    return module


def _guard() -> None:
    if not os.environ.get("LABS_SANDBOX") or os.environ.get("LABS_REAL_AWS") == "1":
        return
    guard = _load("labs.sandbox.guard", os.path.join(os.path.dirname(_HERE), "guard.py"))
    guard.install_in_subprocess()


def _run_hidden_sitecustomize() -> None:
    rest = [entry for entry in sys.path if os.path.abspath(entry or os.curdir) != _HERE]
    spec = importlib.machinery.PathFinder.find_spec("sitecustomize", rest)
    if spec is not None and spec.loader is not None:
        spec.loader.exec_module(importlib.util.module_from_spec(spec))


_guard()
_run_hidden_sitecustomize()
