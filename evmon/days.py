"""The one convention for days and timestamps.

A project-day is a calendar date in the project's timezone. Its data window is
[00:00, 24:00) local time, converted to UTC for reading. Its snapshot's timestamp is that
date at 00:00 as a *naive* datetime (read as UTC): one point per calendar day in every
dashboard, whatever the timezone, and never a mix of naive and aware timestamps (which
breaks the Evidently UI's data_series_batch).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo


def snapshot_timestamp(day: date) -> datetime:
    """The naive UTC start of `day`: the timestamp every daily snapshot carries."""
    return datetime.combine(day, time.min)


def day_window_utc(day: date, timezone: str) -> tuple[datetime, datetime]:
    """The aware UTC [start, end) of `day` in `timezone` (23 or 25 hours across DST changes)."""
    tz = ZoneInfo(timezone)
    start = datetime.combine(day, time.min, tzinfo=tz)
    end = datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)
    return start.astimezone(UTC), end.astimezone(UTC)


def window_utc(first_day: date, last_day: date, timezone: str) -> tuple[datetime, datetime]:
    """The aware UTC [start, end) covering the days first_day..last_day inclusive."""
    return day_window_utc(first_day, timezone)[0], day_window_utc(last_day, timezone)[1]


def today_in(timezone: str, now: datetime | None = None) -> date:
    """The current calendar date in `timezone`."""
    moment = now if now is not None else datetime.now(UTC)
    return moment.astimezone(ZoneInfo(timezone)).date()


def last_due_day(today: date) -> date:
    """The newest day that can run on `today` (a local date): yesterday, today's rows are still coming."""
    return today - timedelta(days=1)


def labels_arrived(day: date, today: date, label_lag_days: int) -> bool:
    """Whether the labels of `day` are complete on `today`.

    With a lag of L days, the labels of day D are complete once day D+L has ended, i.e. from
    day D+L+1 on: lag 0 means labels come with the data and are there when the day is run.
    """
    return day + timedelta(days=label_lag_days) < today


def day_range(start: date, end: date) -> Iterator[date]:
    """Every date from start to end inclusive."""
    for offset in range((end - start).days + 1):
        yield start + timedelta(days=offset)


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date; ValueError naming the expected form otherwise."""
    try:
        return date.fromisoformat(text)
    except ValueError as exc:
        raise ValueError(f"{text!r} is not a date; expected YYYY-MM-DD") from exc
