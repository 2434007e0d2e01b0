"""A queue's policy decides whether a rule or a topic can deliver to it (MOTO_GAPS: "queue policy").

On AWS an EventBridge rule or an SNS topic sends to an SQS queue as a service principal
(``events.amazonaws.com`` / ``sns.amazonaws.com``), and the queue's resource policy must allow it:

* "To allow an EventBridge rule to send events to an Amazon SQS queue, add the following
  permission to the queue's policy": Allow, ``Principal: {"Service": "events.amazonaws.com"}``,
  ``sqs:SendMessage``, ``Condition: {"ArnEquals": {"aws:SourceArn": <rule ARN>}}``
  (eventbridge/latest/userguide/eb-use-resource-based.html#eb-sqs-permissions).
* SNS the same with ``sns.amazonaws.com`` and the topic's ARN (sns/latest/dg/subscribe-sqs-queue-to-sns-topic.html);
  the SDKs' ``SubscribeQueue`` writes ``"Principal": "*"`` with ``ArnLike aws:SourceArn`` instead
  (AWS SDK for .NET, SNS ``SubscribeQueue``), which also works.

moto delivers whatever the policy says. Here each delivery is checked first; a refused one is not
sent and goes where AWS sends it:

* EventBridge: a missing permission is not retried; the event goes straight to the target's
  dead-letter queue (``DeadLetterConfig``, with ``RULE_ARN``, ``TARGET_ARN``, ``ERROR_CODE``,
  ``ERROR_MESSAGE`` attributes) if it has one and may send there, else it is dropped
  (eventbridge/latest/userguide/eb-rule-dlq.html: "for errors that result from missing permissions
  to a target ... no retry attempts will happen ... EventBridge sends these events directly to the
  target DLQ, if you have specified one"). ``put_events`` still succeeds.
* SNS: a client-side error, not retried, dropped for that subscription (as ``sns_envelope`` drops
  deliveries the queue refuses); ``Publish`` still succeeds (sns/latest/dg/sns-dead-letter-queues.html).

Each refusal is kept in ``refusals`` for the recorder (``labs.observe.recording``) to show.

The policy language read here is small on purpose: ``Effect`` Allow/Deny (an explicit Deny wins,
no Allow means no access), ``Principal`` (``"*"``, ``{"AWS": "*"}``, ``{"Service": ...}``),
``Action`` (``sqs:SendMessage``, wildcards such as ``sqs:*``, case-insensitive), ``Resource``
(the queue's ARN or a wildcard), and ``Condition`` with ``ArnEquals``/``ArnLike``/``StringEquals``/
``StringLike`` on ``aws:SourceArn``/``aws:SourceAccount``. Anything else (another operator,
``NotPrincipal``/``NotAction``/``NotResource``) is read *closed*: such an Allow grants nothing and
such a Deny denies, and the refusal says which part could not be read. A key the request does not
carry fails its condition, as in IAM.

A second gap of the same family is mended here too: moto's ``SetQueueAttributes`` forgets the
policy whenever it is called without ``Policy``; AWS changes only the attributes given.
"""
from __future__ import annotations

import fnmatch
import json
from collections import deque
from dataclasses import dataclass

SERVICES = {"events": "events.amazonaws.com", "sns": "sns.amazonaws.com"}
KNOWN_OPERATORS = {"arnequals", "arnlike", "stringequals", "stringlike"}
UNREADABLE_PARTS = ("NotPrincipal", "NotAction", "NotResource")


@dataclass(frozen=True)
class Refusal:
    """One delivery a queue's policy refused."""

    service: str  # "events" | "sns"
    source_arn: str  # the rule or topic
    queue_arn: str
    reason: str  # Japanese: why the policy did not allow it
    dead_letter_queue: str | None = None  # where the event went instead (None: dropped)


refusals: deque[Refusal] = deque(maxlen=1000)  # drained by the recorder


@dataclass(frozen=True)
class Decision:
    allowed: bool
    reason: str = ""  # Japanese, when not allowed


def decide(policy: str | dict | None, *, service: str, source_arn: str, queue_arn: str) -> Decision:
    """May ``service`` (events | sns) send to ``queue_arn`` on behalf of ``source_arn``?"""
    principal = SERVICES[service]
    if not policy:
        return Decision(False, f"キューにポリシーがありません。{principal} に sqs:SendMessage の許可が要ります")
    document = json.loads(policy) if isinstance(policy, str) else policy
    statements = document.get("Statement", [])
    statements = [statements] if isinstance(statements, dict) else statements
    context = {"aws:sourcearn": source_arn, "aws:sourceaccount": source_arn.split(":")[4]}
    allowed, unread = False, []
    for statement in statements:
        applies, why = _applies(statement, principal, queue_arn, context)
        if why:
            unread.append(why)
        if statement.get("Effect") == "Deny" and (applies or why):
            return Decision(False, f"ポリシーの Deny (Sid {statement.get('Sid', '-')}) に当たりました"
                                   + (f" ({why}: 読めない部分は拒否として扱います)" if why else ""))
        if statement.get("Effect") == "Allow" and applies:
            allowed = True
    if allowed:
        return Decision(True)
    return Decision(False, f"{principal} に、{source_arn.rsplit(':', 1)[-1]} からの sqs:SendMessage を許可する文がありません"
                           + (f" (読めなかった部分: {'、'.join(unread)})" if unread else ""))


def _listed(value) -> list:
    return value if isinstance(value, list) else [value]


def _applies(statement: dict, principal: str, queue_arn: str, context: dict) -> tuple[bool, str]:
    """(does the statement cover this request, what part of it could not be read)."""
    unreadable = [part for part in UNREADABLE_PARTS if part in statement]
    if unreadable:
        return False, "/".join(unreadable)
    if not _principal_matches(statement.get("Principal"), principal):
        return False, ""
    if not any(fnmatch.fnmatchcase("sqs:sendmessage", a.lower()) for a in _listed(statement.get("Action", []))):
        return False, ""
    resources = _listed(statement.get("Resource", queue_arn))  # SQS reads a missing Resource as the queue
    if not any(fnmatch.fnmatchcase(queue_arn, r) for r in resources):
        return False, ""
    for operator, conditions in (statement.get("Condition") or {}).items():
        if operator.lower() not in KNOWN_OPERATORS:
            return False, f"条件演算子 {operator}"
        for key, wanted in conditions.items():
            actual = context.get(key.lower())
            if actual is None:  # a key this request does not carry: the condition fails (IAM)
                return False, ""
            like = operator.lower().endswith("like")
            if not any(fnmatch.fnmatchcase(actual, w) if like else actual == w for w in _listed(wanted)):
                return False, ""
    return True, ""


def _principal_matches(given, principal: str) -> bool:
    if given == "*":
        return True
    if isinstance(given, dict):
        return "*" in _listed(given.get("AWS", [])) or principal in _listed(given.get("Service", []))
    return False


def _queue(arn: str):
    from moto.sqs import sqs_backends

    _, _, _, region, account, name = arn.split(":", 5)
    try:
        return sqs_backends[account][region].get_queue(name)
    except Exception:  # noqa: BLE001 (moto's QueueDoesNotExist): moto's own error stays as it was
        return None


def _dead_letter(rule, target: dict, event: dict, reason: str) -> str | None:
    """Send a refused event to the target's DLQ as EventBridge does; its name, or None if dropped."""
    dlq_arn = (target.get("DeadLetterConfig") or {}).get("Arn")
    dlq = _queue(dlq_arn) if dlq_arn else None
    if dlq is None or not decide(dlq.policy, service="events", source_arn=rule.arn, queue_arn=dlq_arn).allowed:
        return None  # InvocationsFailedToBeSentToDLQ on AWS: the event is gone
    attributes = {"RULE_ARN": rule.arn, "TARGET_ARN": target["Arn"], "ERROR_CODE": "NO_PERMISSIONS",
                  "ERROR_MESSAGE": reason}
    from moto.sqs import sqs_backends

    sqs_backends[dlq.account_id][dlq.region].send_message(
        dlq.name, json.dumps(event),
        message_attributes={k: {"DataType": "String", "StringValue": v} for k, v in attributes.items()})
    return dlq.name


def apply() -> None:
    from moto.events.models import Rule
    from moto.sns.models import Subscription
    from moto.sqs.models import Queue

    send_to_queue = Rule._send_to_sqs_queue
    publish = Subscription.publish
    set_attributes = Queue._set_attributes

    def _send_to_sqs_queue(self, resource_id, event, group_id=None):
        queue_arn = f"arn:aws:sqs:{self.region_name}:{self.account_id}:{resource_id}"
        queue = _queue(queue_arn)
        if queue is not None:  # a missing queue: moto's own error, unchanged
            decision = decide(queue.policy, service="events", source_arn=self.arn, queue_arn=queue.queue_arn)
            if not decision.allowed:
                target = next((t for t in self.targets if t["Arn"] == queue.queue_arn), {"Arn": queue.queue_arn})
                dlq = _dead_letter(self, target, event, decision.reason)
                refusals.append(Refusal("events", self.arn, queue.queue_arn, decision.reason, dlq))
                return
        return send_to_queue(self, resource_id, event, group_id)

    def publish_if_allowed(self, *args, **kwargs):
        if self.protocol == "sqs":
            queue = _queue(self.endpoint)
            if queue is not None:
                decision = decide(queue.policy, service="sns", source_arn=self.topic.arn, queue_arn=queue.queue_arn)
                if not decision.allowed:
                    if self._filter_policy_matcher is None or self._filter_policy_matcher.matches(
                            kwargs.get("message_attributes", args[3] if len(args) > 3 else None),
                            args[0] if args else kwargs.get("message")):
                        refusals.append(Refusal("sns", self.topic.arn, queue.queue_arn, decision.reason))
                    return None
        return publish(self, *args, **kwargs)

    def keep_policy(self, attributes, now=None):
        if "Policy" not in attributes:  # SetQueueAttributes changes only what it is given
            attributes = {**attributes, "Policy": self.policy}
        return set_attributes(self, attributes, now)

    Rule._send_to_sqs_queue = _send_to_sqs_queue
    Subscription.publish = publish_if_allowed
    Queue._set_attributes = keep_policy
