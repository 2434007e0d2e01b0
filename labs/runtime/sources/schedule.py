"""Scheduled rules: fire a handler when the runtime clock passes the rule's times.

moto stores a rule's ScheduleExpression and never fires it. ``ScheduleSource`` reads the
expression back with ``describe_rule`` (so the rule in the sandbox stays the single
truth), and on every ``poll()`` invokes the handler once for each fire time that the
runtime clock has passed since the last poll, with the event AWS sends a scheduled
rule's targets ("Scheduled Event", source ``aws.events``, ``resources`` = the rule ARN).

Nothing fires for the time before the source was made, as a new rule on AWS does not
fire for the past. ``runtime.advance(86400)`` lets a day pass: a nightly ``cron`` rule
fires once, a ``rate(1 hour)`` rule 24 times. A disabled rule does not fire.
"""
from __future__ import annotations

from datetime import datetime

from labs import sandbox
from labs.sandbox.clock import clock
from labs.observe import recorder
from labs.runtime.invoke import Handler, Invocation, invoke
from labs.runtime.schedule_expressions import Schedule, parse_schedule, scheduled_event


class ScheduleSource:
    """A scheduled EventBridge rule with ``handler`` as its (Lambda) target."""

    parked = 0  # nothing waits: a fire time either has passed or has not

    def __init__(self, bus: str, rule: str, handler: Handler, function_name: str, timeout: int = 30):
        self.bus = bus
        self.rule = rule
        self.name = f"{bus}/{rule}"
        self.handler = handler
        self.function_name = function_name
        self.timeout = timeout
        self.invocations: list[Invocation] = []
        self._expression = ""
        self._schedule: Schedule | None = None
        self._last = clock.datetime()
        self._read_rule(since=self._last)

    def _read_rule(self, since: datetime) -> None:
        """Read the rule from EventBridge; re-parse when its expression changed."""
        events = sandbox.client("events")
        try:
            rule = events.describe_rule(Name=self.rule, EventBusName=self.bus)
        except events.exceptions.ResourceNotFoundException:
            if self._schedule is None:  # wiring a rule that is not there: say so at once
                raise ValueError(f"ルール {self.rule} がイベントバス {self.bus} にありません") from None
            self.enabled = False  # deleted since: like AWS, nothing fires any more
            return
        expression = rule.get("ScheduleExpression")
        if not expression:
            raise ValueError(f"ルール {self.rule} はスケジュールルールではありません (ScheduleExpression がありません)")
        self.rule_arn = rule["Arn"]
        self.enabled = rule.get("State", "ENABLED") == "ENABLED"
        if expression != self._expression:
            # A rate() rule counts its periods from when it was (re)scheduled; a change seen
            # now was made after the previous poll at the latest.
            self._schedule = parse_schedule(expression, anchor=since)
            self._expression = expression

    @property
    def schedule(self) -> Schedule:
        return self._schedule

    def next_due(self) -> None:
        """Fire times are not retries: run_until_quiet never skips ahead to them."""
        return None

    def poll(self) -> int:
        """Invoke the handler once per fire time passed since the last poll."""
        now = clock.datetime()  # the clock never goes back: clearing the recorder leaves it alone
        self._read_rule(since=self._last)
        times = self._schedule.fire_times(self._last, now) if self.enabled else []
        self._last = now
        for moment in times:
            # When advance() skipped over several fire times at once, each is still written
            # down at its own moment on the clock, so a timeline shows the nightly rhythm.
            self._fire(moment, at=clock.now() - (now - moment).total_seconds())
        return len(times)

    def _fire(self, moment: datetime, at: float) -> None:
        box = sandbox.current()
        event = scheduled_event(self.rule_arn, moment, sandbox.ACCOUNT_ID, box.region)
        when = event["time"]
        recorder.record("schedule", self.name, self.function_name, "ok", 1, f"{self._expression} → {when}", [event["id"]], t=at)
        call = invoke(self.handler, event, self.function_name, self.timeout)
        self.invocations.append(call)
        # AWS retries a failed scheduled invocation asynchronously; here the failure is
        # recorded (never dropped silently) and the next fire time comes as scheduled.
        recorder.record("invoke", self.name, self.function_name, "ok" if call.ok else "error", 1,
                        call.describe_error() or when, [event["id"]], t=at)

