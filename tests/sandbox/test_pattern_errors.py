"""Every refusal in the corpora gets a specific Japanese explanation beside AWS's own words."""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from labs.sandbox import pattern_errors, provision

CORPUS = Path(__file__).parent / "corpus"
REFUSALS = sorted({case.get("error") or case.get("event_error")
                   for name in ("event_patterns.json", "sns_filter_policies.json")
                   for case in json.loads((CORPUS / name).read_text()) if "error" in case or "event_error" in case})
FALLBACK = pattern_errors.explain("something AWS has never said")


@pytest.mark.parametrize("message", REFUSALS)
def test_each_refusal_has_its_own_explanation(message):
    assert pattern_errors.explain(message) != FALLBACK


def test_the_learner_mistake_of_a_value_outside_an_array_is_explained():
    provision.ensure_bus("orders-bus")
    with pytest.raises(ValueError) as caught:
        provision.ensure_rule("orders-bus", "amount-rule", event_pattern={"detail": {"amount": {"numeric": ">= 10000"}}})
    text = str(caught.value)
    assert '"numeric" must be an object or an array' in text  # AWS's words, kept
    assert "配列" in text  # and what to change
