"""Every exercise's check accepts its reference, rejects its known-wrong answers, and
reports an unimplemented stub as such."""
import pytest

from labs.workbook.checks import evaluate, load_all

EXERCISES = sorted(load_all())


def stub(*args, **kwargs):
    raise NotImplementedError()


@pytest.mark.parametrize("id", EXERCISES)
def test_reference_passes(id):
    outcome = evaluate(id, load_all()[id].reference)
    assert outcome.status == "passed", outcome.reason


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
