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

A failing verdict shows the inputs the check gave the learner's code (``uses``), so the
learner can reproduce the failure, and the exercise's hints, one more with each failure: a
nudge first, then the API to use. ``hint(id)`` shows the next one without trying first.
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
    hints: tuple[str, ...] = field(default=())  # progressive: a nudge first, then the API to use


REGISTRY: dict[str, Exercise] = {}
_hints_given: dict[str, int] = {}  # exercise id -> how many of its hints the learner has seen
_inputs: list[str] = []  # what the running check has given the learner's code (``uses``)


def exercise(id: str, title: str, reference: Any, wrong: tuple = (), hints: tuple[str, ...] = ()):
    """Register the decorated function as the check of exercise ``id``."""

    def register(run: Callable[[Any], None]) -> Callable[[Any], None]:
        REGISTRY[id] = Exercise(id, title, run, reference, tuple(wrong), tuple(hints))
        return run

    return register


def uses(label: str, value: Any) -> None:
    """Inside a check: name an input given to the learner's code; a failing verdict lists it."""
    text = value if isinstance(value, str) else json.dumps(value, ensure_ascii=False, default=str)
    _inputs.append(f"{label}: {text if len(text) <= 300 else text[:300] + '…'}")


def next_hints(id: str) -> tuple[str, ...]:
    """The hints of ``id`` seen so far, one more than last time (all of them at the end)."""
    hints = get(id).hints
    shown = min(_hints_given.get(id, 0) + 1, len(hints))
    _hints_given[id] = shown
    return tuple(f"ヒント {n}/{len(hints)}: {text}" for n, text in enumerate(hints[:shown], 1))


def hint(id: str) -> None:
    """Show the next hint of exercise ``id`` (a nudge first, then the API to use)."""
    item = get(id)
    show(Verdict("not_implemented", item.title, next_hints(id), word="ヒント"))


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
    inputs: tuple[str, ...] = ()  # what the check gave the learner's code before it failed


def evaluate(id: str, candidate: Any) -> Outcome:
    """Run exercise ``id``'s check on ``candidate``, never raising for the learner's mistakes."""
    item = get(id)  # outside the try: a broken exercise module is our bug, not the learner's
    _inputs.clear()
    try:
        item.run(candidate)
    except NotImplementedError:
        return Outcome("not_implemented")
    except AssertionError as failure:  # CheckFailed, or a plain assert in a check or in the learner's code
        return Outcome("failed", str(failure) or "アサーションが失敗しました", tuple(_inputs))
    except Exception as error:  # the learner's code raised something else: a failure, told plainly
        return Outcome("failed", f"あなたのコードが例外を送出しました: {type(error).__name__}: {error}", tuple(_inputs))
    return Outcome("passed")


def check(id: str, candidate: Any) -> Any:
    """Check, show the verdict in Japanese, and return what later cells should use."""
    item = get(id)
    with scratch():  # what the check creates for itself is gone afterwards (labs.workbook.scratch)
        outcome = evaluate(id, candidate)
    report_verdict(id, outcome.status, outcome.reason)
    show(Verdict(outcome.status, item.title, verdict_lines(id, outcome)))
    return candidate if outcome.status == "passed" else item.reference


def verdict_lines(id: str, outcome: Outcome) -> tuple[str, ...]:
    """The lines under a verdict: why it failed, with which inputs, and the next hint."""
    then = "(以降のセルは参照実装で続けます)"
    if outcome.status == "passed":
        return ()
    if outcome.status == "not_implemented":
        return (then, f"ヒントが要るときは: from labs import hint; hint({id!r})") if get(id).hints else (then,)
    inputs = ("チェックが使った入力:", *(f"  {line}" for line in outcome.inputs)) if outcome.inputs else ()
    return (f"理由: {outcome.reason}", *inputs, *next_hints(id), then)


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
