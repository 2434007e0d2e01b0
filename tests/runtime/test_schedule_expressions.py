"""labs.runtime.schedule_expressions: when EventBridge scheduled rules fire, and what they deliver."""

import calendar
import re
import uuid
from collections import Counter
from datetime import date, datetime, timedelta, timezone

import pytest
from aws_lambda_powertools.utilities.parser.models import EventBridgeModel
from hypothesis import given, settings
from hypothesis import strategies as st

from labs.runtime.schedule_expressions import ScheduleExpressionError, parse_schedule, scheduled_event

pytestmark = pytest.mark.no_sandbox  # pure code: no moto, no sandbox

UTC = timezone.utc
JST = timezone(timedelta(hours=9))
JAPANESE = re.compile(r"[\u3040-\u30ff\u4e00-\u9fff]")


def at(*args) -> datetime:
    return datetime(*args, tzinfo=UTC)


def fires(expression, after, until, **kw):
    return parse_schedule(expression, **kw).fire_times(after, until)


# --- rate() -----------------------------------------------------------------

@pytest.mark.parametrize(
    "expression, window, count",
    [
        ("rate(1 minute)", timedelta(hours=1), 60),
        ("rate(5 minutes)", timedelta(hours=1), 12),
        ("rate(1 hour)", timedelta(days=1), 24),
        ("rate(2 hours)", timedelta(days=1), 12),
        ("rate(1 day)", timedelta(days=30), 30),
        ("rate(3 days)", timedelta(days=30), 10),
    ],
)
def test_rate_fire_counts(expression, window, count):
    anchor = at(2026, 1, 1, 9, 0)
    times = fires(expression, anchor, anchor + window, anchor=anchor)
    assert len(times) == count
    assert times[-1] == anchor + window  # `until` is inclusive


def test_rate_window_is_exclusive_then_inclusive():
    anchor = at(2026, 1, 1, 12, 0)
    s = parse_schedule("rate(5 minutes)", anchor=anchor)
    assert s.fire_times(at(2026, 1, 1, 12, 5), at(2026, 1, 1, 12, 15)) == [
        at(2026, 1, 1, 12, 10),
        at(2026, 1, 1, 12, 15),
    ]
    assert s.fire_times(at(2026, 1, 1, 12, 5, 30), at(2026, 1, 1, 12, 9, 59)) == []
    assert s.fire_times(at(2026, 1, 1, 13), at(2026, 1, 1, 12)) == []


def test_rate_is_relative_to_rule_creation_and_never_fires_before_it():
    created = at(2026, 1, 1, 9, 30, 45)  # snaps to 09:30
    times = fires("rate(1 day)", created - timedelta(days=5), created + timedelta(days=3), anchor=created)
    assert times == [at(2026, 1, 2, 9, 30), at(2026, 1, 3, 9, 30), at(2026, 1, 4, 9, 30)]


def test_rate_default_anchor_is_a_minute_boundary():
    times = fires("rate(5 minutes)", at(2026, 3, 1, 10, 2, 17), at(2026, 3, 1, 10, 30))
    assert [t.minute for t in times] == [5, 10, 15, 20, 25, 30]
    assert all(t.second == 0 and t.microsecond == 0 for t in times)
    assert fires("rate(1 day)", at(2026, 3, 1), at(2026, 3, 3)) == [at(2026, 3, 2), at(2026, 3, 3)]


def test_rate_accepts_any_timezone_but_answers_in_utc():
    times = fires("rate(1 hour)", datetime(2026, 1, 1, 9, tzinfo=JST), datetime(2026, 1, 1, 11, tzinfo=JST))
    assert times == [at(2026, 1, 1, 1), at(2026, 1, 1, 2)]
    assert all(t.tzinfo == UTC for t in times)


@pytest.mark.parametrize(
    "expression",
    ["rate(1 minute)", "rate(5 minutes)", "rate(1 hour)", "rate(2 hours)", "rate(1 day)", "rate(3 days)"],
)
def test_rate_singular_plural_accepted(expression):
    assert str(parse_schedule(expression)) == expression


@pytest.mark.parametrize(
    "expression, hint",
    [
        ("rate(1 minutes)", "単数形"),
        ("rate(1 hours)", "単数形"),
        ("rate(1 days)", "単数形"),
        ("rate(5 minute)", "複数形"),
        ("rate(2 hour)", "複数形"),
        ("rate(3 day)", "複数形"),
        ("rate(0 minutes)", "1 以上"),
        ("rate(1 week)", "minute(s)"),
    ],
)
def test_rate_unit_must_agree_with_value(expression, hint):
    with pytest.raises(ScheduleExpressionError) as e:
        parse_schedule(expression)
    assert expression in str(e.value) and hint in str(e.value)


# --- cron() -----------------------------------------------------------------

@pytest.mark.parametrize("expression", ["cron(0/15 * * * ? *)", "cron(*/15 * * * ? *)", "cron(0,15,30,45 * * * ? *)"])
def test_cron_every_15_minutes(expression):
    times = fires(expression, at(2026, 1, 1, 0, 0), at(2026, 1, 1, 1, 0))
    assert [t.strftime("%H:%M") for t in times] == ["00:15", "00:30", "00:45", "01:00"]
    assert len(fires(expression, at(2026, 1, 1), at(2026, 1, 2))) == 96


def test_cron_step_from_an_offset():
    times = fires("cron(1/10 * * * ? *)", at(2026, 1, 1, 0, 0), at(2026, 1, 1, 0, 59))
    assert [t.minute for t in times] == [1, 11, 21, 31, 41, 51]  # the AWS docs example


@pytest.mark.parametrize("expression", ["cron(0 9 ? * MON-FRI *)", "cron(0 9 ? * 2-6 *)", "cron(0 9 ? * mon-fri *)"])
def test_cron_weekdays_only(expression):
    # 2026-01-01 is a Thursday.
    times = fires(expression, at(2026, 1, 1), at(2026, 1, 8))
    assert [t.day for t in times] == [1, 2, 5, 6, 7]
    assert all(t.weekday() < 5 and (t.hour, t.minute) == (9, 0) for t in times)
    assert len(fires(expression, at(2026, 1, 1), at(2027, 1, 1))) == 261


def test_cron_nightly_18_utc_is_3_am_jst():
    times = fires("cron(0 18 * * ? *)", datetime(2026, 4, 1, tzinfo=JST), datetime(2026, 4, 4, tzinfo=JST))
    assert [t.astimezone(JST).strftime("%m-%d %H:%M") for t in times] == ["04-01 03:00", "04-02 03:00", "04-03 03:00"]
    assert times[0] == at(2026, 3, 31, 18)


def test_cron_last_day_of_month():
    times = fires("cron(0 0 L * ? *)", at(2024, 1, 1), at(2025, 12, 31, 23, 59))
    assert len(times) == 24
    assert date(2024, 2, 29) in [t.date() for t in times]
    assert date(2025, 2, 28) in [t.date() for t in times]
    assert all((t + timedelta(days=1)).day == 1 for t in times)


@pytest.mark.parametrize("expression", ["cron(0 12 ? * 6L *)", "cron(0 12 ? * FRIL *)"])
def test_cron_last_friday(expression):
    times = fires(expression, at(2026, 1, 1), at(2026, 4, 1))
    assert [t.date() for t in times] == [date(2026, 1, 30), date(2026, 2, 27), date(2026, 3, 27)]


def test_cron_L_in_day_of_week_alone_is_saturday():
    times = fires("cron(0 0 ? * L *)", at(2026, 1, 1), at(2026, 1, 15))
    assert [t.day for t in times] == [3, 10]


def test_cron_second_tuesday():
    times = fires("cron(0 10 ? * 3#2 *)", at(2026, 1, 1), at(2026, 4, 1))
    assert [t.date() for t in times] == [date(2026, 1, 13), date(2026, 2, 10), date(2026, 3, 10)]
    assert all(t.weekday() == 1 and 8 <= t.day <= 14 for t in times)


def test_cron_fifth_weekday_skips_months_without_one():
    times = fires("cron(0 0 ? * MON#5 *)", at(2026, 1, 1), at(2027, 1, 1))
    # Months of 2026 with five Mondays.
    assert [t.date() for t in times] == [date(2026, 3, 30), date(2026, 6, 29), date(2026, 8, 31), date(2026, 11, 30)]


def test_cron_nearest_weekday():
    fifteenth = fires("cron(0 0 15W * ? *)", at(2026, 1, 1), at(2027, 1, 1))
    by_month = {t.month: t.day for t in fifteenth}
    assert by_month[1] == 15  # Thursday: the day itself
    assert by_month[2] == 16  # Sunday -> Monday
    assert by_month[8] == 14  # Saturday -> Friday
    assert all(t.weekday() < 5 for t in fifteenth)
    # 2026-08-01 is a Saturday: W never leaves the month, so Monday the 3rd.
    assert fires("cron(0 0 1W * ? *)", at(2026, 7, 31), at(2026, 8, 31))[0].date() == date(2026, 8, 3)
    # 2026-05-31 is a Sunday: the last day goes back to Friday the 29th.
    assert fires("cron(0 0 31W * ? *)", at(2026, 5, 1), at(2026, 6, 30)) == [at(2026, 5, 29)]
    # LW: last weekday. 2026-01-31 is a Saturday.
    assert fires("cron(0 0 LW * ? *)", at(2026, 1, 1), at(2026, 2, 1)) == [at(2026, 1, 30)]


def test_cron_year_field_and_month_names():
    times = fires("cron(30 8 1 JAN ? 2027-2028)", at(2026, 1, 1), at(2031, 1, 1))
    assert times == [at(2027, 1, 1, 8, 30), at(2028, 1, 1, 8, 30)]
    assert fires("cron(0 0 1 1 ? 2199)", at(2198, 12, 31), at(2199, 1, 2)) == [at(2199, 1, 1)]
    assert fires("cron(0 0 1 JUN,DEC ? *)", at(2026, 1, 1), at(2027, 1, 1)) == [at(2026, 6, 1), at(2026, 12, 1)]


def test_cron_day_31_skips_short_months():
    times = fires("cron(0 0 31 * ? *)", at(2026, 1, 1), at(2027, 1, 1))
    assert [t.month for t in times] == [1, 3, 5, 7, 8, 10, 12]


def test_naive_datetimes_are_refused():
    s = parse_schedule("cron(0 18 * * ? *)")
    with pytest.raises(ValueError, match="タイムゾーン"):
        s.fire_times(datetime(2026, 1, 1), datetime(2026, 1, 2))
    with pytest.raises(ValueError, match="タイムゾーン"):
        parse_schedule("rate(1 day)", anchor=datetime(2026, 1, 1))


# --- invalid expressions ----------------------------------------------------

@pytest.mark.parametrize(
    "expression",
    [
        "",
        "every 5 minutes",
        "rate(5 minutes",
        "rate(five minutes)",
        "rate(-1 minutes)",
        "rate(1 minutes)",
        "rate(0 minutes)",
        "cron(0 12 * * ?)",           # 5 fields
        "cron(0 12 * * ? * *)",       # 7 fields
        "cron(0 12 * * * *)",         # both day fields set
        "cron(0 12 1 * MON *)",       # both day fields set
        "cron(0 12 ? * ? *)",         # both day fields ?
        "cron(60 * * * ? *)",
        "cron(0 24 * * ? *)",
        "cron(0 0 0 * ? *)",
        "cron(0 0 32 * ? *)",
        "cron(0 0 * 13 ? *)",
        "cron(0 0 * FOO ? *)",
        "cron(0 0 ? * 0 *)",          # AWS day-of-week is 1-7
        "cron(0 0 ? * 8 *)",
        "cron(0 0 * * ? 1969)",
        "cron(0 0 * * ? 2200)",
        "cron(0/0 * * * ? *)",        # zero step
        "cron(*/x * * * ? *)",
        "cron(30-10 * * * ? *)",      # descending range
        "cron(0 0 ? * FRI-MON *)",    # wrap-around range
        "cron(? 0 * * ? *)",          # ? only in the day fields
        "cron(L 0 * * ? *)",
        "cron(0 0 ? * MON/2 *)",      # / not allowed in day-of-week
        "cron(0 0 1#2 * ? *)",        # # only in day-of-week
        "cron(0 0 32W * ? *)",
        "cron(0 0 L,15 * ? *)",       # L stands alone
        "cron(0 0 ? * 3#1,6#3 *)",    # the AWS docs' invalid example
        "cron(0 0 ? * 3#6 *)",
        "cron(0 0 ? * 3#0 *)",
        "cron(0 0 ? * 9L *)",
        "cron(0 0 ? * 2W *)",         # W only in day-of-month
        "cron(1,,2 * * * ? *)",
    ],
)
def test_invalid_expressions_raise_in_japanese(expression):
    with pytest.raises(ScheduleExpressionError) as e:
        parse_schedule(expression)
    message = str(e.value)
    assert isinstance(e.value, ValueError)
    assert JAPANESE.search(message), message
    assert expression in message, message


def test_field_count_message():
    with pytest.raises(ScheduleExpressionError, match=re.escape("cron 式のフィールド数は 6 個です (cron(0 12 * * ?) は 5 個)")):
        parse_schedule("cron(0 12 * * ?)")


# --- property: cron fire times against an independent reference --------------

def _expand(items):
    """Reference expansion of a generated field: items are (start, end, step) triples."""
    return {v for start, end, step in items for v in range(start, end + 1, step)}


def field_text(low, high, names=(), steps=True):
    """A cron field (text) together with the values it must mean."""
    kinds = ["*", "n", "a-b", "*/s", "n/s", "a-b/s"] if steps else ["*", "n", "a-b"]

    def item(draw):
        kind = draw(st.sampled_from(kinds))
        a = draw(st.integers(low, high))
        b = draw(st.integers(a, high))
        s = draw(st.integers(1, high - low + 1))
        name = (lambda v: names[v - low]) if names and draw(st.booleans()) else str
        return {
            "*": ("*", (low, high, 1)),
            "n": (name(a), (a, a, 1)),
            "a-b": (f"{name(a)}-{name(b)}", (a, b, 1)),
            "*/s": (f"*/{s}", (low, high, s)),
            "n/s": (f"{a}/{s}", (a, high, s)),
            "a-b/s": (f"{a}-{b}/{s}", (a, b, s)),
        }[kind]

    @st.composite
    def strategy(draw):
        items = [item(draw) for _ in range(draw(st.integers(1, 3)))]
        return ",".join(text for text, _ in items), _expand([r for _, r in items])

    return strategy()


def aws_weekday(d):
    return (d.weekday() + 1) % 7 + 1  # SUN=1 ... SAT=7


def nearest_weekday_reference(d, n):
    """Independent W rule: the weekday of d's month closest to day n (no ties can occur)."""
    last = calendar.monthrange(d.year, d.month)[1]
    if n > last:
        return False
    weekdays = [day for day in range(1, last + 1) if date(d.year, d.month, day).weekday() < 5]
    return d.day == min(weekdays, key=lambda day: abs(day - n))


@st.composite
def day_fields(draw):
    """(dom text, dow text, reference predicate on a date)."""
    kind = draw(st.sampled_from(["dom", "dow", "L", "LW", "W", "nL", "#"]))
    if kind == "dom":
        text, days = draw(field_text(1, 31))
        return text, "?", lambda d: d.day in days
    if kind == "dow":
        text, weekdays = draw(field_text(1, 7, ("SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"), steps=False))  # AWS: no / here
        return "?", text, lambda d: aws_weekday(d) in weekdays
    if kind == "L":
        return "L", "?", lambda d: (d + timedelta(days=1)).month != d.month
    if kind == "LW":
        return "LW", "?", lambda d: nearest_weekday_reference(d, calendar.monthrange(d.year, d.month)[1])
    if kind == "W":
        n = draw(st.integers(1, 31))
        return f"{n}W", "?", lambda d: nearest_weekday_reference(d, n)
    weekday = draw(st.integers(1, 7))
    if kind == "nL":
        return "?", f"{weekday}L", lambda d: aws_weekday(d) == weekday and (d + timedelta(days=7)).month != d.month
    nth = draw(st.integers(1, 5))
    return "?", f"{weekday}#{nth}", lambda d: aws_weekday(d) == weekday and nth == sum(
        1 for day in range(1, d.day + 1) if date(d.year, d.month, day).weekday() == d.weekday()
    )


def often_star(low, high, names=()):
    # Narrow fields rarely meet a window of a few days; "*" half the time keeps most examples firing.
    return st.one_of(st.just(("*", set(range(low, high + 1)))), field_text(low, high, names))


@st.composite
def cron_cases(draw):
    minute, minutes = draw(field_text(0, 59))
    hour, hours = draw(often_star(0, 23))
    dom, dow, day_ok = draw(day_fields())
    month, months = draw(often_star(1, 12, ("JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC")))
    year, years = draw(st.sampled_from(
        [("*", range(1970, 2200)), ("*", range(1970, 2200)), ("2026", {2026}), ("2025-2027", {2025, 2026, 2027}), ("2027/2", {2027, 2029})]
    ))

    def fires_on(d):  # the day-level fields
        return d.year in years and d.month in months and day_ok(d)

    def fires_at(t):
        return t.minute in minutes and t.hour in hours and fires_on(t.date())

    return f"cron({minute} {hour} {dom} {month} {dow} {year})", fires_at, fires_on, len(minutes) * len(hours)


starts = st.datetimes(min_value=datetime(2025, 12, 20), max_value=datetime(2027, 1, 10), timezones=st.just(UTC))


def spans(max_days):
    # Whole days plus a remainder: a bare integer of seconds shrinks to tiny, empty windows.
    return st.builds(lambda d, s: timedelta(days=d, seconds=s), st.integers(0, max_days), st.integers(0, 86399))


@settings(max_examples=150, deadline=None)
@given(cron_cases(), starts, spans(120))
def test_cron_fire_times_property(case, after, span):
    expression, fires_at, fires_on, per_day = case
    until = after + span
    times = parse_schedule(expression).fire_times(after, until)

    assert times == sorted(set(times))  # sorted and unique
    assert all(after < t <= until and t.tzinfo == UTC and t.second == 0 for t in times)
    assert all(fires_at(t) for t in times)  # every fire time matches the fields
    # Every whole day inside the window fires exactly on the matching days, at every hour x minute.
    per_date = Counter(t.date() for t in times)
    day = after.date() + timedelta(days=1)
    while day < until.date():
        assert per_date[day] == (per_day if fires_on(day) else 0), day
        day += timedelta(days=1)


@settings(max_examples=100, deadline=None)
@given(cron_cases(), starts, spans(2), st.data())
def test_cron_fire_times_equal_a_minute_by_minute_scan(case, after, span, data):
    expression, fires_at, _, _ = case
    upcoming = parse_schedule(expression).fire_times(after, after + timedelta(days=60))
    if upcoming:  # slide the short window onto a fire so the scan has something to find
        after = data.draw(st.sampled_from(upcoming)) - data.draw(spans(1))
    until = after + span
    expected = []
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    while minute <= until:
        if fires_at(minute):
            expected.append(minute)
        minute += timedelta(minutes=1)
    assert parse_schedule(expression).fire_times(after, until) == expected


@settings(max_examples=100, deadline=None)
@given(
    st.sampled_from(["rate(1 minute)", "rate(7 minutes)", "rate(1 hour)", "rate(5 hours)", "rate(1 day)", "rate(2 days)"]),
    st.datetimes(min_value=datetime(2025, 1, 1), max_value=datetime(2027, 1, 1), timezones=st.just(UTC)),
    st.timedeltas(min_value=timedelta(days=-3), max_value=timedelta(days=30)),
    spans(10),
)
def test_rate_fire_times_property(expression, anchor, offset, span):
    schedule = parse_schedule(expression, anchor=anchor)
    after = anchor + offset
    until = after + span
    times = schedule.fire_times(after, until)
    assert times == sorted(set(times))
    assert all(after < t <= until and t > anchor for t in times)
    # Reference: every whole minute in the window that is a positive multiple of the period after creation.
    start = anchor.replace(second=0, microsecond=0)
    minute = after.replace(second=0, microsecond=0) + timedelta(minutes=1)
    expected = []
    while minute <= until:
        if minute > start and (minute - start) % schedule.period == timedelta(0):
            expected.append(minute)
        minute += timedelta(minutes=1)
    assert times == expected


# --- the event ----------------------------------------------------------------

def test_scheduled_event_shape():
    arn = "arn:aws:events:ap-northeast-1:123456789012:rule/nightly-batch"
    evt = scheduled_event(arn, at(2026, 1, 1), "123456789012", "ap-northeast-1")
    assert list(evt) == ["version", "id", "detail-type", "source", "account", "time", "region", "resources", "detail"]
    assert {k: v for k, v in evt.items() if k != "id"} == {
        "version": "0",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": "2026-01-01T00:00:00Z",
        "region": "ap-northeast-1",
        "resources": [arn],
        "detail": {},
    }
    assert uuid.UUID(evt["id"]).version == 4
    assert evt["id"] != scheduled_event(arn, at(2026, 1, 1), "123456789012", "ap-northeast-1")["id"]

    model = EventBridgeModel.model_validate(evt)
    assert model.detail_type == "Scheduled Event"
    assert model.source == "aws.events"
    assert model.time == at(2026, 1, 1)
    assert model.resources == [arn]


def test_scheduled_event_time_is_utc():
    evt = scheduled_event("arn:aws:events:us-east-1:123456789012:rule/r", datetime(2026, 1, 1, 3, tzinfo=JST), "123456789012", "us-east-1")
    assert evt["time"] == "2025-12-31T18:00:00Z"
    with pytest.raises(ValueError):
        scheduled_event("arn:aws:events:us-east-1:123456789012:rule/r", datetime(2026, 1, 1), "123456789012", "us-east-1")
