"""Every exercise's check rejects its known-wrong answers, and
reports an unimplemented stub as such."""
import pytest

from labs.workbook.checks import evaluate, load_all

EXERCISES = sorted(load_all())
SHOW_INPUTS = {"00", "01", "02", "03", "04", "05", "06", "08", "09", "10"}  # every check names its inputs (uses)


def stub(*args, **kwargs):
    raise NotImplementedError()


# That each reference passes its check is proven by tests/workbook/test_solutions_agree.py,
# which runs it beside the notebook's answer and compares what both do.


@pytest.mark.parametrize("id", EXERCISES)
def test_stub_is_not_implemented(id):
    assert evaluate(id, stub).status == "not_implemented"


@pytest.mark.parametrize("id", EXERCISES)
def test_every_wrong_answer_fails_with_a_reason(id):
    item = load_all()[id]
    assert item.wrong, f"{id} names no wrong answers: its check is untested"
    for wrong in item.wrong:
        outcome = evaluate(id, wrong)
        assert outcome.status == "failed", f"{id} accepted {wrong!r}"
        assert outcome.reason
        if id[:2] in SHOW_INPUTS:
            assert outcome.inputs, f"{id}: a failing verdict lists the inputs the check used ({wrong!r})"


@pytest.mark.parametrize("id", [id for id in EXERCISES if not id.startswith("07.")])  # the quiz hints its own way
def test_every_exercise_has_progressive_hints(id):
    hints = load_all()[id].hints
    assert len(hints) >= 2 and all(hints), f"{id}: a nudge first, then the API to use"


def test_a_failing_verdict_shows_the_inputs_and_one_more_hint_each_time():
    from labs.workbook.checks import Outcome, _hints_given, verdict_lines

    _hints_given.pop("03.redrive_messages", None)
    failed = Outcome("failed", "なにか", ("DLQ の中身: 12 通",))
    first = verdict_lines("03.redrive_messages", failed)
    second = verdict_lines("03.redrive_messages", failed)
    assert "  DLQ の中身: 12 通" in first
    assert [line for line in first if line.startswith("ヒント")] == ["ヒント 1/2: " + load_all()["03.redrive_messages"].hints[0]]
    assert [line[:7] for line in second if line.startswith("ヒント")] == ["ヒント 1/2", "ヒント 2/2"]


def test_a_failure_names_the_inputs_it_used():
    outcome = evaluate("02.large_order_policy", lambda: {"priority": ["high"]})
    assert outcome.status == "failed" and any("P-5" in line and "20000" in line for line in outcome.inputs)


def test_each_wrong_wiring_is_told_its_own_cause():
    """01-4: "the rule never fires" has several causes; each wrong answer is told which one it hit."""
    from labs.workbook.exercises import lesson01

    causes = {
        lesson01._no_policy: "ポリシーがありません",
        lesson01._sns_principal: "sns.amazonaws.com",
        lesson01._bus_as_source_arn: "aws:SourceArn",
        lesson01._queue_url_as_target: "URL",
        lesson01._wrong_source: "パターン",
    }
    assert set(causes) == set(load_all()["01.wire_rule_to_queue"].wrong)
    for wrong, cause in causes.items():
        outcome = evaluate("01.wire_rule_to_queue", wrong)
        assert outcome.status == "failed" and cause in outcome.reason, (wrong.__name__, outcome.reason)
