"""SNS subscription filter policies validated and matched as AWS does (MOTO_GAPS: "SNS filter policies").

moto rejects valid body policies (``$or`` inside nested keys, ``cidr`` inside ``$or``), accepts
policies AWS rejects (two operators in one condition, ``{"key": []}``, a numeric suffix...),
matches arrays of objects and dotted keys wrongly, raises ``TypeError`` (a 500) when a numeric
condition meets a string in the body, and keeps the subscription a ``Subscribe`` with a bad
policy was refused for. Here:

* every policy is compiled by ``content_filter`` (Event Ruler, which SNS runs) plus SNS's own
  limits (no nesting in attribute scope, at most 5 keys, at most 150 combinations);
* ``Subscribe`` checks its attributes before anything is made, and undoes a new subscription
  whose attributes then fail, so a refused call leaves nothing behind;
* matching never raises: a message the policy cannot be evaluated on is simply not delivered.
"""
from __future__ import annotations

import json
import math
from typing import Any

from labs.sandbox.mends.content_filter import CompiledPattern, Dialect, PatternError, compile_pattern

SNS = Dialect(
    match_types=frozenset({"prefix", "suffix", "equals-ignore-case", "anything-but", "numeric", "exists", "cidr"}),
    # recorded on AWS: anything-but with suffix or exists is "Unsupported anything-but pattern"
    anything_but_nested=frozenset({"prefix"}),
    empty_object_allowed=False,
    strict_nested_anything_but=True,
)
SCOPES = ("MessageAttributes", "MessageBody")
MAX_KEYS = 5
MAX_COMBINATIONS = 150


class PolicyError(ValueError):
    """A policy or scope SNS refuses; ``reason`` follows ``Invalid parameter: [Attributes Reason: ]``."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


def check_scope(scope: str) -> None:
    if scope not in SCOPES:
        raise PolicyError(f"FilterPolicyScope: Invalid value [{scope}]. Please use either MessageBody or MessageAttributes")


def compile_policy(text: str, scope: str | None) -> CompiledPattern | None:
    """Validate a FilterPolicy as SNS does; None for an empty policy (``""`` or ``{}``: no filter)."""
    if not text:
        return None
    try:
        policy = json.loads(text)
    except ValueError:
        raise PolicyError("FilterPolicy: failed to parse JSON.") from None
    if policy == {}:
        return None
    try:
        compiled = compile_pattern(policy, SNS)
    except PatternError as error:
        raise PolicyError(f"FilterPolicy: {error.reason}") from None
    shapes = compiled.shapes
    if (scope or "MessageAttributes") == "MessageAttributes" and any(
            depth > 1 for shape in shapes for depth, _ in shape.values()):
        raise PolicyError("Filter policy scope MessageAttributes does not support nested filter policy")
    if any(len({path.split(".")[0] for path in shape}) > MAX_KEYS for shape in shapes):
        raise PolicyError(f"FilterPolicy: Filter policy can not have more than {MAX_KEYS} keys")
    # subscription-filter-policy-constraints.html: multiply the number of values of each key (a
    # nested key's count times its depth); "$or" alternatives add up (recorded on AWS).
    if sum(math.prod(count * depth for depth, count in shape.values()) for shape in shapes) > MAX_COMBINATIONS:
        raise PolicyError("FilterPolicy: Filter policy is too complex")
    return compiled


def attributes_document(message_attributes: dict[str, Any] | None) -> dict[str, Any]:
    """Message attributes as the document SNS filters: String as text, Number as a number,
    String.Array as its JSON array; Binary attributes are ignored (as AWS documents)."""
    document: dict[str, Any] = {}
    for name, attribute in (message_attributes or {}).items():
        kind, value = attribute.get("Type", ""), attribute.get("Value")
        try:
            if kind == "String.Array":
                document[name] = json.loads(value)
            elif kind.split(".")[0] == "Number":
                number = float(value)
                document[name] = int(number) if number.is_integer() and "." not in str(value) else number
            elif kind.split(".")[0] == "String":
                document[name] = value
        except (TypeError, ValueError):
            continue
    return document


def policy_matches(compiled: CompiledPattern | None, scope: str | None,
                   message_attributes: dict[str, Any] | None, message: str) -> bool:
    if compiled is None:
        return True
    try:
        if scope == "MessageBody":
            body = json.loads(message)
            return isinstance(body, dict) and compiled.matches(body)
        return compiled.matches(attributes_document(message_attributes))
    except Exception:  # noqa: BLE001 - a message that cannot be evaluated is not delivered, never a 500
        return False


def apply() -> None:
    from moto.sns import models, responses, utils
    from moto.sns.exceptions import SNSInvalidParameter

    def refuse(error: PolicyError, *, in_subscribe: bool) -> SNSInvalidParameter:
        # AWS words Subscribe's refusal "Attributes Reason: ...", SetSubscriptionAttributes' without it.
        return SNSInvalidParameter(("Invalid parameter: Attributes Reason: " if in_subscribe else "Invalid parameter: ")
                                   + error.reason)

    def matcher_init(self, filter_policy: dict, filter_policy_scope: str | None) -> None:
        self.filter_policy = filter_policy
        self.filter_policy_scope = filter_policy_scope or "MessageAttributes"
        self.refused = False
        try:
            self.compiled = compile_policy(json.dumps(filter_policy), self.filter_policy_scope)
        except PolicyError:  # stored before this mend was applied: deliver nothing rather than fail
            self.compiled, self.refused = None, True

    def matcher_matches(self, message_attributes: dict | None, message: str) -> bool:
        if getattr(self, "refused", False):
            return False
        return policy_matches(getattr(self, "compiled", None), self.filter_policy_scope, message_attributes, message)

    original_set = models.SNSBackend.set_subscription_attributes

    def set_subscription_attributes(self, arn: str, name: str, value: Any) -> None:
        subscription = self.subscriptions.get(arn)
        if subscription is not None:
            try:
                if name == "FilterPolicyScope":
                    check_scope(value)
                    compile_policy(subscription.attributes.get("FilterPolicy"), value)
                elif name == "FilterPolicy":
                    compile_policy(value, subscription.attributes.get("FilterPolicyScope"))
            except PolicyError as error:
                raise refuse(error, in_subscribe=False) from None
        original_set(self, arn, name, value)

    def no_second_validation(self, value: Any, scope: str | None) -> None:
        """Validated above, with AWS's wording; moto's own checks differ from AWS's."""

    original_subscribe = responses.SNSResponse.subscribe

    def subscribe(self):
        attributes = self._get_attributes() or {}
        try:
            if "FilterPolicyScope" in attributes:
                check_scope(attributes["FilterPolicyScope"])
            compile_policy(attributes.get("FilterPolicy"), attributes.get("FilterPolicyScope"))
        except PolicyError as error:
            raise refuse(error, in_subscribe=True) from None
        before = set(self.backend.subscriptions)
        try:
            return original_subscribe(self)
        except Exception:
            for arn in set(self.backend.subscriptions) - before:  # AWS makes no subscription
                self.backend.unsubscribe(arn)
            raise

    utils.FilterPolicyMatcher.__init__ = matcher_init
    utils.FilterPolicyMatcher.matches = matcher_matches
    models.SNSBackend.set_subscription_attributes = set_subscription_attributes
    models.SNSBackend._validate_filter_policy = no_second_validation
    # Subscribe's attributes are applied in moto's response handler: the one place to check them first.
    responses.SNSResponse.subscribe = subscribe
