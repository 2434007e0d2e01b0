"""labs: the package every notebook of the event-driven design workbook imports.

What a notebook needs, in one import::

    from labs import sandbox, LocalRuntime, recorder, table, check

* ``sandbox``: where "AWS" is (``sandbox.start()`` says where, ``sandbox.reset()`` empties it)
* ``LocalRuntime``: the local stand-in for Lambda and its event sources
* ``recorder``, ``table``: what happened, as a table or a timeline
* ``check``: the verdict on an exercise; ``hint``: its next hint

Everything else is imported from its layer by name (README, "Architecture"). These names are
loaded on first use, so importing the course code (``labs.course``) loads nothing else.
"""
from __future__ import annotations

import importlib

_PUBLIC = {
    "sandbox": "labs.sandbox",
    "LocalRuntime": "labs.runtime",
    "recorder": "labs.observe",
    "table": "labs.observe",
    "check": "labs.workbook",
    "hint": "labs.workbook",
}
__all__ = list(_PUBLIC)


def __getattr__(name: str):
    if name not in _PUBLIC:
        raise AttributeError(f"module 'labs' has no attribute {name!r}")
    module = importlib.import_module(_PUBLIC[name])
    return module if module.__name__ == f"labs.{name}" else getattr(module, name)
