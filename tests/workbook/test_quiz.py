"""The quiz: answers are checked at once, unanswered is not a crash, the score adds up,
and every question is a registered exercise (so `make test` checks both notebooks)."""
import pytest

from labs.workbook import checks, quiz
from labs.workbook.exercises.lesson07 import QUESTIONS, returning

pytestmark = pytest.mark.no_sandbox  # pure code: no moto, no sandbox


def unanswered():
    raise NotImplementedError()


@pytest.fixture(autouse=True)
def fresh_quiz():
    quiz.reset()
    yield
    quiz.reset()


def test_the_seed_question_is_first_and_its_answer_is_b():
    seed = QUESTIONS[0]
    assert seed.answer == "B"
    assert "SNS + 各サービス用の SQS キュー" in seed.choices["B"]
    assert "各サービスが専用の SQS キュー" in seed.explanation


def test_questions_are_well_formed_and_cover_lessons_01_to_06():
    assert len(QUESTIONS) >= 9
    assert len({q.id for q in QUESTIONS}) == len(QUESTIONS)
    for q in QUESTIONS:
        assert q.answer in q.choices and len(q.choices) >= 3, q.id
        assert q.explanation and q.text, q.id
    covered = " ".join(q.lesson for q in QUESTIONS)
    for lesson in ("01", "02", "03", "04", "05", "06"):
        assert f"レッスン{lesson}" in covered
    # the answers are spread over the letters, not always B
    assert len({q.answer for q in QUESTIONS}) >= 3


def test_every_question_is_a_registered_exercise():
    registered = checks.load_all()
    assert {q.id for q in QUESTIONS} <= set(registered)


@pytest.mark.parametrize("q", QUESTIONS, ids=lambda q: q.id)
def test_right_answer_is_correct_and_every_other_letter_is_not(q):
    assert quiz.grade(q.id, returning(q.answer)).status == "correct"
    for letter in q.choices:
        if letter != q.answer:
            result = quiz.grade(q.id, returning(letter))
            assert result.status == "incorrect"
            assert q.answer not in result.reason.replace(letter, "")  # the check does not give it away


def test_answers_are_forgiving_about_case_spaces_and_a_plain_value():
    q = QUESTIONS[0]
    assert quiz.grade(q.id, lambda: " b ").status == "correct"
    assert quiz.grade(q.id, "B.").status == "correct"  # a value instead of a function


@pytest.mark.parametrize("given, reason", [
    (None, "答えが返されていません"),
    (2, "文字列で返してください"),
    ("E", "選択肢にありません"),
    (["B"], "文字列で返してください"),
])
def test_what_is_not_a_letter_is_not_counted_and_names_the_valid_letters(given, reason, capsys):
    quiz.answer("07.q01", returning(given))
    result = quiz.grade("07.q01", returning(given))
    assert result.status == "invalid" and result.tries == 0
    assert reason in result.reason and "A・B・C・D" in result.reason
    out = capsys.readouterr().out
    assert "回数には数えません" in out and "解説" not in out and "正解は" not in out
    assert quiz.score().unanswered == len(QUESTIONS)  # an invalid answer is not an answer yet


def test_an_answer_that_raises_is_incorrect_not_a_crash():
    def broken():
        return {}["x"]

    result = quiz.grade("07.q01", broken)
    assert result.status == "incorrect"
    assert "KeyError" in result.reason


def test_unanswered_is_reported_and_reveals_nothing(capsys):
    quiz.answer("07.q01", unanswered)
    out = capsys.readouterr().out
    assert "⏳ 未回答" in out
    assert "解説" not in out  # the explanation comes with an answer


def test_a_right_answer_prints_the_verdict_and_the_explanation(capsys):
    quiz.answer("07.q01", returning("B"))
    out = capsys.readouterr().out
    assert "✅ 正解" in out and QUESTIONS[0].explanation in out


def test_a_first_wrong_answer_gets_a_hint_and_a_second_try_then_the_answer(capsys):
    q = QUESTIONS[2]
    quiz.answer(q.id, returning("A"))
    first = capsys.readouterr().out
    assert "❌ 不正解" in first and q.hint in first and "あと 1 回" in first
    assert f"正解は {q.answer}" not in first and q.explanation not in first
    quiz.answer(q.id, returning("B"))
    second = capsys.readouterr().out
    assert f"正解は {q.answer}" in second and q.explanation in second and q.hint not in second


def test_the_answer_is_revealed_on_request(capsys):
    q = QUESTIONS[2]
    quiz.answer(q.id, returning("A"))
    capsys.readouterr()
    quiz.reveal("q03")
    out = capsys.readouterr().out
    assert f"答え {q.answer}" in out and q.explanation in out
    quiz.answer(q.id, returning("A"))  # after the reveal a wrong answer says the right one
    assert f"正解は {q.answer}" in capsys.readouterr().out


def test_explanations_are_shown_as_markdown():
    from labs.workbook import display

    shown = display.Markdown("`>=` なので")
    assert shown._repr_markdown_() == "`>=` なので"  # JupyterLab renders it; no raw backticks on screen


def test_every_question_has_a_hint_that_does_not_name_the_answer():
    for q in QUESTIONS:
        assert q.hint, q.id
        assert q.choices[q.answer] not in q.hint, q.id


def test_the_right_option_is_rarely_the_longest():
    # Options whose length gives the answer away let a learner guess: at most a third of the
    # questions may have the right option as the longest (ties count as longest).
    longest = [q.id for q in QUESTIONS if len(q.choices[q.answer]) == max(map(len, q.choices.values()))]
    assert len(longest) <= len(QUESTIONS) // 3, longest


def test_score_counts_each_question_once_and_the_last_answer_wins(capsys):
    quiz.answer("07.q01", returning("A"))
    quiz.answer("07.q01", returning("B"))  # the learner fixed it and ran the cell again
    quiz.answer("07.q02", returning("A"))
    quiz.answer("07.q03", unanswered)
    score = quiz.score()
    assert (score.correct, score.incorrect) == (1, 1)
    assert score.unanswered == len(QUESTIONS) - 2  # never-run questions count as unanswered
    quiz.summary()
    assert f"得点: 1 / {len(QUESTIONS)} 問正解" in capsys.readouterr().out


def test_answers_are_reported_for_make_test(tmp_path, monkeypatch):
    report = tmp_path / "checks.jsonl"
    monkeypatch.setenv("LABS_CHECK_REPORT", str(report))
    quiz.answer("07.q01", returning("B"))
    quiz.answer("07.q02", unanswered)
    assert report.read_text().splitlines() == [
        '{"exercise": "07.q01", "status": "passed"}',
        '{"exercise": "07.q02", "status": "not_implemented"}',
    ]


def test_unknown_question_is_a_clear_error():
    with pytest.raises(KeyError, match="問題 '07.q99' はありません"):
        quiz.grade("07.q99", returning("A"))


def test_markdown_shows_the_question_and_every_choice():
    text = QUESTIONS[0].markdown()
    assert text.startswith("### 問題 1:")
    for letter, choice in QUESTIONS[0].choices.items():
        assert f"**{letter}.** {choice}" in text


def test_plot_draws_one_bar_per_lesson_and_status():
    import matplotlib.pyplot as plt

    import labs.observe.plots  # noqa: F401  (Japanese font before the axes exist)

    quiz.grade("07.q01", returning("B"))
    _, ax = plt.subplots()
    quiz.plot(ax=ax)
    lessons = {quiz.lesson_of(q) for q in QUESTIONS}
    assert "レッスン02" in lessons and not any("/" in lesson for lesson in lessons)  # one bar for lesson 02
    assert [t.get_text() for t in ax.get_yticklabels()] == sorted(lessons)
    assert len(ax.patches) == 3 * len(lessons)
    assert sum(p.get_width() for p in ax.patches) == len(QUESTIONS)
    plt.close(ax.figure)
