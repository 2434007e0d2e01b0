"""Exercise checks that tell the learner at once how they did.

Each exercise is a function (or class) the learner completes. Its check, registered
here with ``@exercise``, calls the learner's code and raises ``CheckFailed`` with a
Japanese reason when something is wrong. In a notebook::

    publish_order_event = check("01.publish_order_event", publish_order_event)

prints one of

    ✅ 合格 / ❌ 不合格 (with the reason) / ⏳ 未実装

(a coloured badge with its word in a notebook; the text above elsewhere),
and returns the learner's code when it passed, otherwise the reference implementation,
so every later cell still runs. Every exercise also names answers known to be wrong:
tests prove that the check rejects them and accepts the reference.
"""
from __future__ import annotations

import importlib
import json
import os
import pkgutil
from dataclasses import dataclass, field
from typing import Any, Callable

from labs.workbook.display import Verdict, show
from labs.workbook.scratch import scratch


class CheckFailed(AssertionError):
    """The learner's answer is wrong; the message (Japanese) says why."""


@dataclass
class Exercise:
    id: str
    title: str
    run: Callable[[Any], None]  # raises CheckFailed when the candidate is wrong
    reference: Any
    wrong: tuple = field(default=())  # answers the check must reject (tests use them)


REGISTRY: dict[str, Exercise] = {}


def exercise(id: str, title: str, reference: Any, wrong: tuple = ()):
    """Register the decorated function as the check of exercise ``id``."""

    def register(run: Callable[[Any], None]) -> Callable[[Any], None]:
        REGISTRY[id] = Exercise(id, title, run, reference, tuple(wrong))
        return run

    return register


def load_all() -> dict[str, Exercise]:
    """Import every module of labs.workbook.exercises (each registers its exercises)."""
    from labs.workbook import exercises

    for module in pkgutil.iter_modules(exercises.__path__):
        importlib.import_module(f"{exercises.__name__}.{module.name}")
    return REGISTRY


def get(id: str) -> Exercise:
    if id not in REGISTRY:
        load_all()
    if id not in REGISTRY:
        raise KeyError(f"演習 {id!r} は登録されていません (labs/workbook/exercises/)")
    return REGISTRY[id]


@dataclass
class Outcome:
    status: str  # passed | failed | not_implemented
    reason: str = ""


def evaluate(id: str, candidate: Any) -> Outcome:
    """Run exercise ``id``'s check on ``candidate``, never raising for the learner's mistakes."""
    item = get(id)  # outside the try: a broken exercise module is our bug, not the learner's
    try:
        item.run(candidate)
    except NotImplementedError:
        return Outcome("not_implemented")
    except AssertionError as failure:  # CheckFailed, or a plain assert in a check or in the learner's code
        return Outcome("failed", str(failure) or "アサーションが失敗しました")
    except Exception as error:  # the learner's code raised something else: a failure, told plainly
        return Outcome("failed", f"あなたのコードが例外を送出しました: {type(error).__name__}: {error}")
    return Outcome("passed")


def check(id: str, candidate: Any) -> Any:
    """Check, show the verdict in Japanese, and return what later cells should use."""
    item = get(id)
    with scratch():  # what the check creates for itself is gone afterwards (labs.workbook.scratch)
        outcome = evaluate(id, candidate)
    report_verdict(id, outcome.status, outcome.reason)
    lines = {"passed": (),
             "not_implemented": ("(以降のセルは参照実装で続けます)",),
             "failed": (f"理由: {outcome.reason}", "(以降のセルは参照実装で続けます)")}[outcome.status]
    show(Verdict(outcome.status, item.title, lines))
    return candidate if outcome.status == "passed" else item.reference


def report_verdict(id: str, status: str, reason: str = "") -> None:
    """Append the verdict to $LABS_CHECK_REPORT, one JSON line: ``make test`` proves both
    directions with it and the gradebook reads the learners' reasons from it."""
    path = os.environ.get("LABS_CHECK_REPORT")
    if path:
        with open(path, "a", encoding="utf-8") as out:
            row = {"exercise": id, "status": status} | ({"reason": reason} if reason else {})
            out.write(json.dumps(row, ensure_ascii=False) + "\n")


def expect(condition: bool, reason: str) -> None:
    """Inside a check: fail with ``reason`` (Japanese) unless ``condition`` holds."""
    if not condition:
        raise CheckFailed(reason)
