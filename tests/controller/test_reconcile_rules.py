"""The as-run rules and report periods, pure: no database, no clock."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from controller.periods import Period, custom, period_of, split_by_day
from controller.reconcile import (
    Deltas,
    ItemFacts,
    Outcome,
    ReceiptFacts,
    apply_receipt,
    box_state,
    broadcast_of,
    reason_code,
)
from controller.uptime import Presence, credit

HCM = ZoneInfo("Asia/Ho_Chi_Minh")
T0 = datetime(2026, 3, 2, 23, 0, tzinfo=UTC)  # 06:00 on 3 March in Vietnam


def _r(seq: int, event: str, **kw: object) -> ReceiptFacts:
    return ReceiptFacts(seq, event, **kw)  # type: ignore[arg-type]


def test_item_ids_name_their_broadcast() -> None:
    ref = broadcast_of("s12-1764806400000-2")
    assert ref is not None and (ref.key, ref.source, ref.source_id) == ("s12-1764806400000", "schedule", 12)
    assert broadcast_of("e5") == broadcast_of("e5") and broadcast_of("e5").source == "emergency"  # type: ignore[union-attr]
    assert broadcast_of("tone-3") is None and broadcast_of("s1-x-0") is None


@pytest.mark.parametrize(
    ("receipts", "state", "seconds"),
    [
        (
            [
                _r(1, "started", started_at=T0),
                _r(2, "completed", started_at=T0, ended_at=T0 + timedelta(seconds=60)),
            ],
            "aired",
            60,
        ),
        ([_r(2, "interrupted", seconds_aired=12.5, reason="preempted:s9-1-0")], "partial", 12.5),
        ([_r(3, "failed", reason="media_missing")], "failed", 0),
        ([_r(4, "skipped", reason="late")], "skipped", 0),
        # Interrupted, resumed, completed: aired, and both airings count.
        (
            [
                _r(1, "interrupted", seconds_aired=20),
                _r(3, "completed", started_at=T0, ended_at=T0 + timedelta(seconds=40)),
            ],
            "aired",
            60,
        ),
        # Part of it aired, then the rest failed: partial, not failed.
        ([_r(1, "interrupted", seconds_aired=20), _r(2, "failed", reason="sink_error: x")], "partial", 20),
        # A late older receipt adds its seconds but does not undo the newer state.
        ([_r(5, "completed"), _r(4, "interrupted", seconds_aired=10)], "aired", 60),
    ],
)
def test_receipts_decide_one_state(receipts: list[ReceiptFacts], state: str, seconds: float) -> None:
    outcome = Outcome()
    for receipt in receipts:
        outcome = apply_receipt(outcome, receipt, duration_s=60)
    assert (outcome.state, outcome.seconds) == (state, pytest.approx(seconds))


def test_a_late_receipt_turns_missing_into_what_happened() -> None:
    missing = Outcome(state="missing")
    assert apply_receipt(missing, _r(7, "started", started_at=T0), duration_s=60).state == "missing"
    late = apply_receipt(missing, _r(8, "completed"), duration_s=60)
    assert (late.state, late.final_seq, late.seconds) == ("aired", 8, 60)


def test_a_box_outcome_of_a_broadcast_folds_its_content_items() -> None:
    assert box_state(["aired", "aired"]) == "aired"
    assert box_state(["aired", "failed"]) == "partial"
    assert box_state(["missing", "failed"]) == "missing"
    assert box_state(["failed", "skipped"]) == "failed"
    assert box_state(["skipped"]) == "skipped"
    assert box_state(["pending", "aired"]) == "pending"
    assert box_state([]) is None


def test_reasons_group_by_code() -> None:
    assert reason_code("stopped:e4-stop-x") == "stopped"
    assert reason_code("sink_error: ALSA gone") == "sink_error"
    assert reason_code(None) == ""


def _item(
    state: str, *, category: str = "legal", seconds: float = 0, device: str = "a", at: datetime = T0
) -> ItemFacts:
    return ItemFacts(device, "s1-0", "schedule", 1, at, at, category, "vi", 11, 10, state, seconds, None)


def test_deltas_of_a_change_are_what_changed_in_the_rollups() -> None:
    deltas = Deltas(HCM)
    before = [_item("pending"), _item("pending", category="chime")]
    after = [_item("aired", seconds=60), _item("aired", category="chime", seconds=3)]
    deltas.add_pair(before, -1)
    deltas.add_pair(after, 1)
    day, monday, month = date(2026, 3, 3), date(2026, 3, 2), date(2026, 3, 1)
    aired = [1, 0, 0, 0, 0, 60, 0]
    assert deltas.changed_airtime() == {
        ("d", day, 10, 11, "a", "legal", "vi"): aired,
        ("w", monday, 10, 11, "a", "legal", "vi"): aired,
        ("m", month, 10, 11, "a", "legal", "vi"): aired,
        ("c", day, 10, 0, "", "legal", "vi"): aired,
        ("k", monday, 10, 0, "", "legal", "vi"): aired,
        ("n", month, 10, 0, "", "legal", "vi"): aired,
        ("p", day, 0, 0, "", "legal", "vi"): aired,
    }  # chimes are not airtime
    assert deltas.changed_tallies() == {
        ("s1-0", 10): {"pending": -1, "aired": 1},
        ("s1-0", 0): {"pending": -1, "aired": 1},
    }
    assert deltas.changed_reasons() == {}
    deltas.broadcast(("s1-0", 10), 1)  # it now counts as aired in commune 10
    assert deltas.changed_airtime()[("k", monday, 10, 0, "", "legal", "vi")] == [1, 0, 0, 0, 0, 60, 1]
    missed = Deltas(HCM)
    missed.add_pair([_item("missing")], 1)
    assert missed.changed_reasons() == {
        ("c", day, 10, "missing", "no_receipt"): 1,
        ("n", month, 10, "missing", "no_receipt"): 1,
    }


def test_periods_in_local_days() -> None:
    week = period_of("week", date(2026, 3, 4))
    assert (week.start, week.end, week.label()) == (
        date(2026, 3, 2),
        date(2026, 3, 9),
        "Tuần 10/2026 (02/03–08/03/2026)",
    )
    assert period_of("quarter", date(2026, 5, 20)).label() == "Quý 2/2026"
    start, _end = period_of("day", date(2026, 3, 3)).bounds(HCM)
    assert start == datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    span = custom(date(2026, 1, 20), date(2026, 4, 10))
    assert span.months_inside() == [date(2026, 2, 1), date(2026, 3, 1)]
    assert span.edges() == [(date(2026, 1, 20), date(2026, 2, 1)), (date(2026, 4, 1), date(2026, 4, 11))]
    assert [b.label() for b in Period(date(2026, 1, 30), date(2026, 3, 3)).buckets("month")] == [
        "30/01/2026 – 31/01/2026",
        "Tháng 02/2026",
        "01/03/2026 – 02/03/2026",
    ]
    midnight = datetime(2026, 3, 2, 17, 0, tzinfo=UTC)
    assert split_by_day(midnight - timedelta(hours=1), midnight + timedelta(hours=2), HCM) == [
        (date(2026, 3, 2), 3600.0),
        (date(2026, 3, 3), 7200.0),
    ]


def test_a_box_is_online_until_its_next_snapshot_or_until_it_falls_silent() -> None:
    stale = timedelta(minutes=3)
    rows = [
        (T0, True, False),
        (T0 + timedelta(minutes=1), True, False),
        (T0 + timedelta(minutes=10), False, False),
    ]
    presence, intervals = credit(Presence(), rows, until=T0 + timedelta(minutes=20), stale=stale)
    # Online at 0 and 1 min, then silent: online until 1 + 3 min; the offline will at 10 min changes nothing.
    assert intervals == [
        (T0, T0 + timedelta(minutes=1)),
        (T0 + timedelta(minutes=1), T0 + timedelta(minutes=4)),
    ]
    assert presence.last_online_at is None
    # Carried over a window boundary without counting twice.
    first, part1 = credit(Presence(), [(T0, True, False)], until=T0 + timedelta(minutes=2), stale=stale)
    _second, part2 = credit(
        first,
        [(T0 + timedelta(minutes=2, seconds=30), True, False)],
        until=T0 + timedelta(minutes=3),
        stale=stale,
    )
    total = sum((b - a).total_seconds() for a, b in part1 + part2)
    assert total == 180
