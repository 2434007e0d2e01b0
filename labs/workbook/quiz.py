"""理解度確認 (lesson 07): multiple-choice questions the learner answers in code.

Each answer is a function returning a choice letter::

    def q01() -> str:
        return "B"

    quiz.answer("07.q01", q01)

``answer`` checks it at once and shows a 正解 / 不正解 / 未回答 badge. A right answer shows the
explanation. A first wrong answer gets a hint and a second try; the answer and its explanation
come after the second wrong answer, or on request (``reveal("q03")``). What is not one of the
letters (a typo, None, a number) is not counted as a try: it says which letters are valid.
``summary()`` prints the score. A function that still raises ``NotImplementedError`` counts as
未回答, never as a crash.

The questions live in labs/workbook/exercises/lesson07.py, each registered as a workbook
exercise, so `make test` proves the solution notebook's answers pass and the
learner notebook's stubs do not, exactly as for the other lessons' exercises.
"""
from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from labs.workbook import checks, display
from labs.workbook.exercises.lesson07 import QUESTIONS, Question, chosen, normalised, question  # registers them too


TRIES = 2  # wrong answers before the answer is shown

# Verdicts of this kernel, by question id: re-running a cell replaces its verdict.
_results: dict[str, "Result"] = {}
_wrong: dict[str, int] = {}  # wrong letters given so far, by question id
_revealed: set[str] = set()  # questions whose answer the learner asked to see


@dataclass(frozen=True)
class Result:
    question: Question
    status: str  # correct | incorrect | invalid (not one of the letters) | unanswered
    given: Any = None  # what the learner's function returned
    reason: str = ""
    tries: int = 0  # wrong letters given so far, this one included

    @property
    def revealed(self) -> bool:
        return self.tries >= TRIES or self.question.id in _revealed


def answer(id: str, candidate: Any) -> None:
    """Check the learner's answer to question ``id`` now and print the verdict with the explanation."""
    _print(grade(id, candidate))


def grade(id: str, candidate: Any) -> Result:
    """Check the learner's answer to question ``id`` and remember the verdict (prints nothing)."""
    q = question(id)
    outcome = checks.evaluate(id, candidate)  # never raises; NotImplementedError -> not_implemented
    checks.report_verdict(id, outcome.status)  # the same report `make test` reads for every exercise
    status = {"passed": "correct", "failed": "incorrect", "not_implemented": "unanswered"}[outcome.status]
    given = None
    if status != "unanswered":
        try:
            given = chosen(candidate)
            given = normalised(q, given)
        except checks.CheckFailed:  # not one of the letters: said so, and not counted as a try
            status = "invalid"
        except Exception:  # already described in outcome.reason; keep what was returned
            pass
    if status == "incorrect":
        _wrong[id] = _wrong.get(id, 0) + 1
    result = Result(q, status, given, outcome.reason, _wrong.get(id, 0))
    _results[id] = result
    return result


# quiz status -> (the badge's status in labs.workbook.display, its word)
_BADGES = {"correct": ("passed", "正解"), "incorrect": ("failed", "不正解"),
           "invalid": ("not_implemented", "選択肢外"), "unanswered": ("not_implemented", "未回答")}


def _short(id: str) -> str:
    return id.rsplit(".", 1)[-1]


def _lines(result: Result) -> tuple[str, ...]:
    q = result.question
    if result.status == "unanswered":
        return ("答えを return して、このセルをもう一度実行してください",)
    if result.status == "correct":
        return (f"答え {q.answer}",)
    if result.status == "invalid":
        return (str(result.reason), "回数には数えません。")
    if result.revealed:
        return (f"選んだ答えは {result.given} です。正解は {q.answer} です",)
    left = TRIES - result.tries
    return (f"選んだ答えは {result.given} です。正解ではありません",
            f"ヒント: {q.hint}",
            f"もう一度答えてください (あと {left} 回)。答えを見るには quiz.reveal(\"{_short(q.id)}\")")


def _explain(q: Question) -> None:
    display.show(display.Markdown(f"**解説**: {q.explanation}"))


def _print(result: Result) -> None:
    """The verdict as a badge with its word (it reads in any browser), then, once the answer is
    out (right, revealed or the last try), the explanation rendered as markdown."""
    status, word = _BADGES[result.status]
    display.show(display.Verdict(status, result.question.topic, _lines(result), word=word))
    if result.status == "correct" or (result.status == "incorrect" and result.revealed):
        _explain(result.question)


def reveal(id: str) -> None:
    """Show question ``id``'s answer and explanation (``"q03"`` or ``"07.q03"``)."""
    q = question(id if "." in id else f"07.{id}")
    _revealed.add(q.id)
    display.show(display.Verdict("not_implemented", q.topic, (f"答え {q.answer}",), word="答え"))
    _explain(q)


@dataclass(frozen=True)
class Score:
    correct: int
    incorrect: int
    unanswered: int
    rows: list[dict]

    @property
    def total(self) -> int:
        return self.correct + self.incorrect + self.unanswered


def score() -> Score:
    """Every question's verdict so far; a question not yet run counts as unanswered."""
    rows, counts = [], {"correct": 0, "incorrect": 0, "unanswered": 0}
    labels = {status: word for status, (_, word) in _BADGES.items()}
    for q in QUESTIONS:
        result = _results.get(q.id, Result(q, "unanswered"))
        counts["unanswered" if result.status == "invalid" else result.status] += 1
        shown = result.given if isinstance(result.given, str) else ("" if result.given is None else repr(result.given))
        rows.append({"問題": q.id.rsplit(".", 1)[-1], "テーマ": q.topic, "レッスン": q.lesson,
                     "結果": labels[result.status], "あなたの答え": shown})
    return Score(counts["correct"], counts["incorrect"], counts["unanswered"], rows)


def summary() -> None:
    """Print the score and a table of every question (score() gives the numbers)."""
    from labs.observe import table

    result = score()
    print(f"得点: {result.correct} / {result.total} 問正解"
          f" (不正解 {result.incorrect} 問, 未回答 {result.unanswered} 問)")
    display.show(table(result.rows))  # an HTML table: printed text misaligns full-width characters in a browser
    if result.unanswered:
        print("\n未回答の問題に答えて、そのセルとこのセルをもう一度実行してください。")
    elif result.incorrect:
        print("\n不正解の問題は解説を読み、該当するレッスンを見直しましょう。")
    else:
        print("\n全問正解です。おつかれさまでした。")


def reset() -> None:
    """Forget this kernel's answers, tries and revealed answers (an instructor between groups)."""
    _results.clear()
    _wrong.clear()
    _revealed.clear()


def lesson_of(q: Question) -> str:
    """The lesson a question comes back to, as the chart groups it: "コース本文 / レッスン02" -> "レッスン02"."""
    found = re.findall(r"レッスン\d+", q.lesson)
    return found[-1] if found else q.lesson


def plot(ax=None) -> None:
    """Draw the verdicts per lesson as stacked bars (正解 / 不正解 / 未回答)."""
    import labs.observe.plots  # noqa: F401  (Japanese labels)
    import matplotlib.pyplot as plt

    lessons = sorted({lesson_of(q) for q in QUESTIONS})
    statuses = [("correct", "正解", "tab:green"), ("incorrect", "不正解", "tab:red"), ("unanswered", "未回答", "lightgray")]
    counts = {s: [0] * len(lessons) for s, _, _ in statuses}
    for q in QUESTIONS:
        status = _results.get(q.id, Result(q, "unanswered")).status
        counts["unanswered" if status == "invalid" else status][lessons.index(lesson_of(q))] += 1
    if ax is None:
        _, ax = plt.subplots(figsize=(7, 0.45 * len(lessons) + 1.4))
    left = [0] * len(lessons)
    for status, label, colour in statuses:
        ax.barh(lessons, counts[status], left=left, color=colour, label=label)
        left = [a + b for a, b in zip(left, counts[status])]
    ax.invert_yaxis()
    ax.set_xlabel("問題数")
    ax.set_title("理解度確認の結果 (レッスン別)")
    ax.xaxis.get_major_locator().set_params(integer=True)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.figure.tight_layout()
