"""Lesson 04's checks test what the exercises teach: strict=True (04-1) and the translation
itself (04-2), which an answer cannot hand over to the course's explain_validation_error."""
import pytest

from labs.course import schema
from labs.workbook import checks
from labs.workbook.exercises import lesson04

pytestmark = pytest.mark.no_sandbox  # pure code: no moto, no sandbox


def test_models_without_strict_fail_on_the_string_quantity():
    outcome = checks.evaluate("04.order_models", lesson04._models_without_strict)
    assert outcome.status == "failed" and '数量が文字列 "2"' in outcome.reason


def test_a_wrapper_of_the_course_translation_fails_under_any_name_and_nothing_stays_replaced():
    namespace = {}
    exec("from pydantic import ValidationError\n"
         "from labs.course.schema import validate_event, explain_validation_error as translate\n"
         "def answer(raw):\n"
         "    try:\n"
         "        validate_event(raw)\n"
         "    except ValidationError as error:\n"
         "        return translate(error)\n"
         "    return []\n", namespace)
    original = schema.explain_validation_error
    outcome = checks.evaluate("04.explain_errors", namespace["answer"])
    assert outcome.status == "failed" and "explain_validation_error を呼ばずに" in outcome.reason
    assert schema.explain_validation_error is original and namespace["translate"] is original


def test_the_reference_translates_by_itself():
    assert checks.evaluate("04.explain_errors", lesson04.explain_order_event_reference).status == "passed"
