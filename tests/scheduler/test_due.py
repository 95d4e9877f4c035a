"""The due days of a project: pure, from what the workspace holds (scheduler.due)."""

from __future__ import annotations

from datetime import date, timedelta

import pytest

from evmon.scheduler.due import DuePolicy, catchup_window, day_is_due, due_days, needs_labels, scan_window

TODAY = date(2026, 4, 10)
YESTERDAY = TODAY - timedelta(days=1)
QUALITY = DuePolicy(max_catchup_days=14, label_lag_days=3, has_quality=True)
NO_LAG = DuePolicy(max_catchup_days=14, label_lag_days=0, has_quality=True)
DATA_ONLY = DuePolicy(max_catchup_days=14, label_lag_days=3, has_quality=False)


def days(first: date, last: date) -> list[date]:
    return [first + timedelta(days=i) for i in range((last - first).days + 1)]


def test_windows() -> None:
    assert catchup_window(TODAY, QUALITY) == (date(2026, 3, 27), YESTERDAY)
    assert scan_window(TODAY, QUALITY) == (date(2026, 3, 24), YESTERDAY)
    assert catchup_window(TODAY, DuePolicy(1, 0, False)) == (YESTERDAY, YESTERDAY)


def test_an_empty_workspace_catches_up_the_window() -> None:
    assert due_days({}, TODAY, QUALITY) == days(date(2026, 3, 27), YESTERDAY)
    assert due_days({}, TODAY, DuePolicy(3, 0, True)) == days(date(2026, 4, 7), YESTERDAY)


def test_the_days_missing_since_the_newest_snapshot_and_only_those() -> None:
    done = {d: True for d in days(date(2026, 3, 20), date(2026, 4, 4))}
    assert due_days(done, TODAY, NO_LAG) == days(date(2026, 4, 5), YESTERDAY)  # 5 days of downtime


def test_older_gaps_are_not_the_schedulers_business() -> None:
    done: dict[date, bool | None] = {date(2026, 4, 1): True, date(2026, 4, 8): True}
    assert due_days(done, TODAY, NO_LAG) == [YESTERDAY]


def test_a_newest_snapshot_older_than_the_window_catches_up_the_window_only() -> None:
    done: dict[date, bool | None] = {date(2025, 12, 1): True}
    assert due_days(done, TODAY, QUALITY) == days(date(2026, 3, 27), YESTERDAY)


def test_up_to_date_means_nothing_due() -> None:
    done = {d: True for d in days(date(2026, 3, 1), YESTERDAY)}
    assert due_days(done, TODAY, QUALITY) == []
    future = {**done, TODAY + timedelta(days=3): True}  # a snapshot dated after yesterday is ignored
    assert due_days(future, TODAY, QUALITY) == []


def test_days_whose_labels_have_arrived_are_redone_once() -> None:
    # lag 3: on TODAY the labels of days up to TODAY-4 are complete
    done: dict[date, bool | None] = {d: False for d in days(date(2026, 4, 1), YESTERDAY)}
    done[date(2026, 4, 1)] = True  # already redone
    assert due_days(done, TODAY, QUALITY) == days(date(2026, 4, 2), date(2026, 4, 6))
    redone = {**done, **dict.fromkeys(days(date(2026, 4, 2), date(2026, 4, 6)), True)}
    assert due_days(redone, TODAY, QUALITY) == []
    tomorrow = TODAY + timedelta(days=1)
    assert due_days({**redone, TODAY: False}, tomorrow, QUALITY) == [date(2026, 4, 7)]


def test_late_labels_and_missing_days_together_oldest_first() -> None:
    done: dict[date, bool | None] = {date(2026, 4, 5): False, date(2026, 4, 6): False, date(2026, 4, 7): False}
    assert due_days(done, TODAY, QUALITY) == [date(2026, 4, 5), date(2026, 4, 6), date(2026, 4, 8), YESTERDAY]


def test_label_reruns_are_bounded_and_need_a_known_state() -> None:
    first_scanned, _ = scan_window(TODAY, QUALITY)
    done: dict[date, bool | None] = {
        first_scanned - timedelta(days=1): False,  # labels arrived long ago: left alone
        first_scanned: False,  # the oldest day still redone
        date(2026, 4, 1): None,  # unknown (no run log, unreadable metadata): left alone
        YESTERDAY: True,
    }
    assert due_days(done, TODAY, QUALITY) == [first_scanned]


def test_projects_without_quality_never_rerun_for_labels() -> None:
    done: dict[date, bool | None] = {d: False for d in days(date(2026, 4, 1), YESTERDAY)}
    assert due_days(done, TODAY, DATA_ONLY) == []
    assert not needs_labels(date(2026, 4, 1), False, TODAY, DATA_ONLY)


@pytest.mark.parametrize(
    ("exists", "labels", "day", "expected"),
    [
        (False, None, YESTERDAY, True),  # not there yet
        (True, True, YESTERDAY, False),  # done (by another scheduler, say)
        (True, False, YESTERDAY, False),  # labels not complete yet
        (True, False, TODAY - timedelta(days=4), True),  # labels arrived: redo
        (True, True, TODAY - timedelta(days=4), False),  # already redone
        (True, None, TODAY - timedelta(days=4), False),  # unknown: leave it
    ],
)
def test_still_due_under_the_lock(exists: bool, labels: bool | None, day: date, expected: bool) -> None:
    assert day_is_due(day, exists, labels, TODAY, QUALITY) is expected


def test_a_punctual_scheduler_redoes_each_labelled_day_exactly_once() -> None:
    """Simulate a year of daily fires: every day is run once, and redone once when its labels arrive."""
    runs: dict[date, int] = {}
    done: dict[date, bool | None] = {}
    policy = DuePolicy(max_catchup_days=7, label_lag_days=3, has_quality=True)
    start = date(2026, 1, 1)
    for offset in range(365):
        today = start + timedelta(days=offset)
        for day in due_days(done, today, policy):
            runs[day] = runs.get(day, 0) + 1
            done[day] = day + timedelta(days=policy.label_lag_days) < today
    last = start + timedelta(days=364)
    ran = days(start - timedelta(days=7), last - timedelta(days=1))
    assert sorted(runs) == ran
    settled = [d for d in ran if d + timedelta(days=3) < last]
    assert all(runs[d] == 2 for d in settled if d >= start)  # once without labels, once with
    assert all(done[d] for d in settled)
