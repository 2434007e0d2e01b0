"""Lesson 07 (理解度確認): every quiz question is an exercise whose answer is a function
returning a choice letter. The reference returns the right letter; every other letter,
None and a non-string are known-wrong answers the check must reject."""
from __future__ import annotations

from functools import partial

from labs.workbook.checks import exercise
from labs.workbook.quiz import QUESTIONS, Question, run_check


def returning(value):
    """An answer function that returns ``value`` (a reference or a known-wrong answer)."""

    def answer():
        return value

    answer.__name__ = answer.__qualname__ = f"returns_{value!r}"
    return answer


def _register(q: Question) -> None:
    wrong = [returning(letter) for letter in q.choices if letter != q.answer]
    wrong += [returning(None), returning(2), returning("E")]
    exercise(q.id, f"問題 {q.id.rsplit('q', 1)[-1]}: {q.topic}",
             reference=returning(q.answer), wrong=tuple(wrong))(partial(run_check, q))


for _question in QUESTIONS:
    _register(_question)
