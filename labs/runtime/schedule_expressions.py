"""EventBridge schedule expressions (rate / cron) and the event a scheduled rule emits.

moto stores a rule's ScheduleExpression but never fires it. The local runtime
asks a Schedule "when would AWS have fired between these two instants?" and
delivers one scheduled_event() per answer to the rule's targets. The notebook
advances that clock, so nobody waits for the wall clock.

    rate(value unit)   value >= 1; unit minute/hour/day, singular only when value is 1
    cron(Minutes Hours Day-of-month Month Day-of-week Year)   always UTC

Reference: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-cron-expressions.html
"""

from __future__ import annotations

import calendar
import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta, timezone, tzinfo
from typing import Callable

UTC = timezone.utc
# Default rate() anchor: any minute boundary works; the epoch keeps runs reproducible
# (rate(5 minutes) fires at :00, :05, ...; rate(1 day) at 00:00 UTC).
EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


class ScheduleExpressionError(ValueError):
    """EventBridge would reject the expression (or this runtime does not support it)."""


class Schedule:
    """What every parsed expression offers. parse_schedule() returns a subclass."""

    expression: str

    def fire_times(self, after: datetime, until: datetime) -> list[datetime]:
        """UTC instants the rule fires at: strictly after `after`, up to and including `until`."""
        raise NotImplementedError

    def __str__(self) -> str:
        return self.expression


def parse_schedule(expression: str, anchor: datetime | None = None) -> Schedule:
    """Parse `rate(...)` or `cron(...)`. `anchor` (rate only) is when the rule was created."""
    if expression.startswith("rate(") and expression.endswith(")"):
        return _parse_rate(expression, anchor)
    if expression.startswith("cron(") and expression.endswith(")"):
        return _parse_cron(expression)
    raise ScheduleExpressionError(
        f"スケジュール式は rate(...) か cron(...) の形で書きます ({expression!r} はどちらでもありません)"
    )


def scheduled_event(rule_arn: str, time: datetime, account: str, region: str) -> dict:
    """The event AWS delivers to a scheduled rule's targets (same keys, same order)."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": _utc(time, "time").strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [rule_arn],
        "detail": {},
    }


def _utc(t: datetime, name: str) -> datetime:
    # A naive datetime is ambiguous (UTC? JST?), and that is exactly the mistake
    # scheduled rules punish, so we refuse to guess.
    if t.tzinfo is None or t.utcoffset() is None:
        raise ValueError(
            f"{name} にはタイムゾーン付きの datetime を渡してください"
            f" (EventBridge のスケジュールは UTC で動きます): {t!r}"
        )
    return t.astimezone(UTC)


# --- rate() -----------------------------------------------------------------

_RATE = re.compile(r"rate\((\d+) ([a-z]+)\)")
_UNITS = {"minute": timedelta(minutes=1), "hour": timedelta(hours=1), "day": timedelta(days=1)}


@dataclass(frozen=True)
class RateSchedule(Schedule):
    expression: str
    period: timedelta
    anchor: datetime

    def fire_times(self, after: datetime, until: datetime) -> list[datetime]:
        after, until = _utc(after, "after"), _utc(until, "until")
        # AWS does not fire at creation time: the first fire is one period later (k >= 1).
        k = max(1, (after - self.anchor) // self.period + 1)
        times = []
        while (t := self.anchor + k * self.period) <= until:
            times.append(t)
            k += 1
        return times


def _parse_rate(expression: str, anchor: datetime | None) -> RateSchedule:
    match = _RATE.fullmatch(expression)
    if not match:
        raise ScheduleExpressionError(
            f"rate 式は rate(値 単位) の形で書きます (例: rate(5 minutes))。{expression} は読めません"
        )
    value, unit = int(match[1]), match[2]
    singular = unit.removesuffix("s")
    if singular not in _UNITS:
        raise ScheduleExpressionError(
            f"rate 式の単位は minute(s) / hour(s) / day(s) のどれかです ({expression} の単位は {unit})"
        )
    if value == 0:
        raise ScheduleExpressionError(f"rate 式の値は 1 以上の整数です ({expression} は 0)")
    # AWS rejects rate(1 minutes) and rate(5 minute): the unit must agree with the value.
    if value == 1 and unit != singular:
        raise ScheduleExpressionError(
            f"値が 1 のとき単位は単数形です: rate(1 {singular}) ({expression} は複数形)"
        )
    if value > 1 and unit == singular:
        raise ScheduleExpressionError(
            f"値が 2 以上のとき単位は複数形です: rate({value} {singular}s) ({expression} は単数形)"
        )
    # Scheduled rules have minute granularity, so the anchor snaps to its minute.
    start = EPOCH if anchor is None else _utc(anchor, "anchor").replace(second=0, microsecond=0)
    return RateSchedule(expression, value * _UNITS[singular], start)


# --- cron() -----------------------------------------------------------------

@dataclass(frozen=True)
class _Field:
    label: str  # Japanese field name used in error messages
    low: int
    high: int
    wildcards: str  # the characters AWS allows in this field
    names: tuple[str, ...] = ()  # names[i] means low + i


_MONTHS = ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")
_DAYS = ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT")  # AWS numbers them 1-7
_FIELDS = (
    _Field("分 (Minutes)", 0, 59, ",-*/"),
    _Field("時 (Hours)", 0, 23, ",-*/"),
    _Field("日 (Day-of-month)", 1, 31, ",-*?/LW"),
    _Field("月 (Month)", 1, 12, ",-*/", _MONTHS),
    _Field("曜日 (Day-of-week)", 1, 7, ",-*?L#", _DAYS),
    _Field("年 (Year)", 1970, 2199, ",-*/"),
)


@dataclass(frozen=True)
class CronSchedule(Schedule):
    expression: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    months: tuple[int, ...]
    years: tuple[int, ...]
    day_matches: Callable[[date], bool] = field(repr=False)  # day-of-month or day-of-week rule
    # The zone the fields are read in. Scheduled rules: always UTC. EventBridge Scheduler:
    # ScheduleExpressionTimezone (dataclasses.replace(cron, zone=ZoneInfo("Asia/Tokyo"))).
    zone: tzinfo = UTC

    def matches(self, t: datetime) -> bool:
        """Whether the rule fires at instant t."""
        t = _utc(t, "t").astimezone(self.zone)
        return (
            t.second == t.microsecond == 0
            and t.minute in self.minutes
            and t.hour in self.hours
            and t.month in self.months
            and t.year in self.years
            and self.day_matches(t.date())
        )

    def fire_times(self, after: datetime, until: datetime) -> list[datetime]:
        after, until = _utc(after, "after"), _utc(until, "until")
        times = []
        # Walk the zone's days (cheap even over years), then expand that day's hours x minutes.
        day = after.astimezone(self.zone).date()
        while day <= until.astimezone(self.zone).date():
            if day.year in self.years and day.month in self.months and self.day_matches(day):
                for hour in self.hours:
                    for minute in self.minutes:
                        t = _instant(day, hour, minute, self.zone)
                        if t is not None and after < t <= until:
                            times.append(t)
            day += timedelta(days=1)
        return times


def _instant(day: date, hour: int, minute: int, zone: tzinfo) -> datetime | None:
    """The UTC instant of a wall-clock time in ``zone``, as EventBridge Scheduler reads daylight saving.

    AWS (scheduler/latest/UserGuide/schedule-types.html, daylight saving time): a time that does
    not exist (clocks spring forward past it) is skipped; a time that happens twice (clocks fall
    back) fires once, at its first occurrence (fold=0).
    """
    local = datetime(day.year, day.month, day.day, hour, minute, tzinfo=zone)
    instant = local.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) != local.replace(tzinfo=None):
        return None  # skipped by the clock change
    return instant


def _parse_cron(expression: str) -> CronSchedule:
    parts = expression[len("cron("):-1].split()
    if len(parts) != 6:
        raise ScheduleExpressionError(
            f"cron 式のフィールド数は 6 個です ({expression} は {len(parts)} 個)"
        )
    for text, spec in zip(parts, _FIELDS):
        # Letters (L, W, JAN, MON, ...) are checked where they are read.
        for char in ",-*?/#":
            if char in text and char not in spec.wildcards:
                raise ScheduleExpressionError(
                    f"{expression}: {spec.label} フィールドでは {char!r} は使えません"
                    f" (使えるのは {' '.join(spec.wildcards)})"
                )
    minute, hour, dom, month, dow, year = parts
    # AWS: exactly one of day-of-month / day-of-week is "?" (they are never combined).
    if (dom == "?") == (dow == "?"):
        raise ScheduleExpressionError(
            f"{expression}: 日 (Day-of-month) と曜日 (Day-of-week) は、どちらか一方だけを"
            f" ? にします (今は日={dom}, 曜日={dow})"
        )
    day_matches = _dom_matcher(dom, expression) if dow == "?" else _dow_matcher(dow, expression)
    return CronSchedule(
        expression,
        minutes=_values(minute, _FIELDS[0], expression),
        hours=_values(hour, _FIELDS[1], expression),
        months=_values(month, _FIELDS[3], expression),
        years=_values(year, _FIELDS[5], expression),
        day_matches=day_matches,
    )


def _values(text: str, spec: _Field, expression: str) -> tuple[int, ...]:
    """Expand a list of `*`, `n`, `a-b`, each optionally `/step`, into sorted values."""
    values: set[int] = set()
    for part in text.split(","):
        base, slash, step_text = part.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ScheduleExpressionError(
                    f"{expression}: {spec.label} フィールドの増分 {part!r} は / のあとに 1 以上の整数を書きます"
                )
            step = int(step_text)
        if base == "*":
            low, high = spec.low, spec.high
        elif "-" in base:
            low, high = (_value(v, spec, expression) for v in base.split("-", 1))
            if low > high:
                # Quartz wraps ranges like FRI-MON around; we keep ranges ascending.
                raise ScheduleExpressionError(
                    f"{expression}: {spec.label} フィールドの範囲 {base!r} は小さい値-大きい値の順に"
                    f"書いてください (折り返す範囲には未対応です)"
                )
        else:
            low = _value(base, spec, expression)
            high = spec.high if slash else low  # "5/15" means 5, 20, 35, ... up to the maximum
        values.update(range(low, high + 1, step))
    return tuple(sorted(values))


def _value(token: str, spec: _Field, expression: str) -> int:
    if token.upper() in spec.names:
        return spec.low + spec.names.index(token.upper())
    if token.isdigit() and spec.low <= int(token) <= spec.high:
        return int(token)
    allowed = f"{spec.low}-{spec.high}"
    if spec.names:
        allowed += f" または {spec.names[0]}-{spec.names[-1]}"
    raise ScheduleExpressionError(
        f"{expression}: {spec.label} フィールドの値 {token!r} は使えません (使えるのは {allowed})"
    )


def _last_day(year: int, month: int) -> int:
    return calendar.monthrange(year, month)[1]


def _aws_weekday(d: date) -> int:
    return d.isoweekday() % 7 + 1  # Python: Monday=1..Sunday=7; AWS: SUN=1..SAT=7


def _nearest_weekday(year: int, month: int, day: int) -> date | None:
    """The `W` rule: the weekday closest to `day`, never leaving the month."""
    last = _last_day(year, month)
    if day > last:
        return None  # like a plain 31, "31W" does not fire in 30-day months
    d = date(year, month, day)
    if d.weekday() == 5:  # Saturday -> Friday before, or Monday after if the 1st
        return d - timedelta(days=1) if day > 1 else d + timedelta(days=2)
    if d.weekday() == 6:  # Sunday -> Monday after, or Friday before if the last day
        return d + timedelta(days=1) if day < last else d - timedelta(days=2)
    return d


def _dom_matcher(text: str, expression: str) -> Callable[[date], bool]:
    spec = _FIELDS[2]
    if text == "L":
        return lambda d: d.day == _last_day(d.year, d.month)
    if text == "LW":  # last weekday of the month
        return lambda d: d == _nearest_weekday(d.year, d.month, _last_day(d.year, d.month))
    if match := re.fullmatch(r"(\d+)W", text):
        n = _value(match[1], spec, expression)
        return lambda d: d == _nearest_weekday(d.year, d.month, n)
    if "L" in text or "W" in text:
        raise ScheduleExpressionError(
            f"{expression}: 日 (Day-of-month) フィールドの L / W は L, LW, 15W のように"
            f"単独で書きます ({text!r} は読めません)"
        )
    days = _values(text, spec, expression)
    return lambda d: d.day in days


def _dow_matcher(text: str, expression: str) -> Callable[[date], bool]:
    spec = _FIELDS[4]
    if text == "L":  # "last day of the week" = SAT (7)
        return lambda d: _aws_weekday(d) == 7
    if match := re.fullmatch(r"(\w+?)L", text):  # 6L = the last Friday of the month
        weekday = _value(match[1], spec, expression)
        return lambda d: _aws_weekday(d) == weekday and d.day + 7 > _last_day(d.year, d.month)
    if match := re.fullmatch(r"(\w+)#(\d+)", text):  # 3#2 = the second Tuesday
        weekday = _value(match[1], spec, expression)
        nth = int(match[2])
        if not 1 <= nth <= 5:
            raise ScheduleExpressionError(
                f"{expression}: 曜日 (Day-of-week) フィールド {text!r} の # のあとは 1-5 です"
                f" (月の第何週か)"
            )
        return lambda d: _aws_weekday(d) == weekday and (d.day - 1) // 7 + 1 == nth
    if "L" in text or "#" in text:  # no day name contains an L
        # AWS: "3#1,6#3" is invalid; L and # stand alone in the field.
        raise ScheduleExpressionError(
            f"{expression}: 曜日 (Day-of-week) フィールドの L / # は L, 6L, 3#2 のように"
            f"単独で書きます ({text!r} は読めません)"
        )
    weekdays = _values(text, spec, expression)
    return lambda d: _aws_weekday(d) in weekdays
