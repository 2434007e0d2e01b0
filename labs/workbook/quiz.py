"""理解度確認 (lesson 07): multiple-choice questions the learner answers in code.

Each answer is a function returning a choice letter::

    def q01() -> str:
        return "B"

    quiz.answer("07.q01", q01)

``answer`` checks it at once and shows a 正解 / 不正解 / 未回答 badge with the
explanation; ``summary()`` prints the score. A function that still raises
``NotImplementedError`` counts as 未回答, never as a crash.

The questions live in labs/workbook/exercises/lesson07.py, each registered as a workbook
exercise, so `make test` proves the solution notebook's answers pass and the
learner notebook's stubs do not, exactly as for the other lessons' exercises.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from labs.workbook import checks, display
from labs.workbook.exercises.lesson07 import QUESTIONS, Question, chosen, normalised, question  # registers them too


# Verdicts of this kernel, by question id: re-running a cell replaces its verdict.
_results: dict[str, "Result"] = {}


@dataclass(frozen=True)
class Result:
    question: Question
    status: str  # correct | incorrect | unanswered
    given: Any = None  # what the learner's function returned
    reason: str = ""


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
        except Exception:  # already described in outcome.reason; keep what was returned
            pass
    result = Result(q, status, given, outcome.reason)
    _results[id] = result
    return result


# quiz status -> (the badge's status in labs.workbook.display, its word)
_BADGES = {"correct": ("passed", "正解"), "incorrect": ("failed", "不正解"), "unanswered": ("not_implemented", "未回答")}


def _print(result: Result) -> None:
    """The verdict as a badge with its word (it reads in any browser), then the explanation."""
    q = result.question
    status, word = _BADGES[result.status]
    lines = {"unanswered": ("答えを return して、このセルをもう一度実行してください",),
             "correct": (f"答え {q.answer}",),
             "incorrect": (str(result.reason),)}[result.status]
    display.show(display.Verdict(status, q.topic, lines, word=word))
    if result.status != "unanswered":
        print(f"\n解説: {q.explanation}")


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
        counts[result.status] += 1
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
    print(table(result.rows))
    if result.unanswered:
        print("\n未回答の問題に答えて、そのセルとこのセルをもう一度実行してください。")
    elif result.incorrect:
        print("\n不正解の問題は解説を読み、該当するレッスンを見直しましょう。")
    else:
        print("\n全問正解です。おつかれさまでした。")


def reset() -> None:
    """Forget this kernel's answers (an instructor between groups)."""
    _results.clear()


def plot(ax=None) -> None:
    """Draw the verdicts per lesson as stacked bars (正解 / 不正解 / 未回答)."""
    import labs.observe.plots  # noqa: F401  (Japanese labels)
    import matplotlib.pyplot as plt

    lessons = sorted({q.lesson for q in QUESTIONS})
    statuses = [("correct", "正解", "tab:green"), ("incorrect", "不正解", "tab:red"), ("unanswered", "未回答", "lightgray")]
    counts = {s: [0] * len(lessons) for s, _, _ in statuses}
    for q in QUESTIONS:
        status = _results.get(q.id, Result(q, "unanswered")).status
        counts[status][lessons.index(q.lesson)] += 1
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
