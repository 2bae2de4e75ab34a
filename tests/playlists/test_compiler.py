"""The timeline compiler places occurrences on boxes without clashes (pure, no I/O)."""

from __future__ import annotations

from playlists.compiler import Occurrence, compile_timelines, item_id, items_digest
from playlists.wire import MediaRef, Priority

MEDIA = MediaRef(sha256="a" * 64, url="http://x/media/" + "a" * 64, bytes=10, duration_ms=60_000)


def occ(
    schedule_id: int, start_ms: int, devices: tuple[str, ...], priority: Priority = "normal"
) -> Occurrence:
    return Occurrence(
        schedule_id=schedule_id,
        created_order=schedule_id,
        start_ms=start_ms,
        media=MEDIA,
        priority=priority,
        device_ids=devices,
    )


def test_each_box_gets_only_its_occurrences_in_start_order() -> None:
    result = compile_timelines(
        [occ(2, 200_000, ("a",)), occ(1, 100_000, ("a", "b"))], ["a", "b", "c"], now_ms=0, horizon_ms=10**9
    )
    assert [i.id for i in result.timelines["a"]] == [item_id(1, 100_000), item_id(2, 200_000)]
    assert [i.id for i in result.timelines["b"]] == [item_id(1, 100_000)]
    assert result.timelines["c"] == ()
    assert result.conflicts == []


def test_higher_priority_wins_a_clash_and_the_loser_is_reported() -> None:
    result = compile_timelines(
        [occ(1, 100_000, ("a",)), occ(2, 130_000, ("a",), priority="emergency")],
        ["a"],
        now_ms=0,
        horizon_ms=10**9,
    )
    assert [i.schedule_id for i in result.timelines["a"]] == [2]
    assert [(c.loser_schedule_id, c.winner_schedule_id) for c in result.conflicts] == [(1, 2)]


def test_within_a_tier_the_earlier_created_schedule_wins() -> None:
    result = compile_timelines(
        [occ(5, 100_000, ("a",)), occ(3, 110_000, ("a",))], ["a"], now_ms=0, horizon_ms=10**9
    )
    assert [i.schedule_id for i in result.timelines["a"]] == [3]


def test_finished_and_beyond_horizon_occurrences_are_left_out() -> None:
    result = compile_timelines(
        [occ(1, 0, ("a",)), occ(2, 500_000, ("a",)), occ(3, 5_000_000, ("a",))],
        ["a"],
        now_ms=100_000,
        horizon_ms=1_000_000,
    )
    assert [i.schedule_id for i in result.timelines["a"]] == [2]


def test_digest_is_stable_and_sensitive_to_changes() -> None:
    one = compile_timelines([occ(1, 100_000, ("a",))], ["a"], now_ms=0, horizon_ms=10**9).timelines["a"]
    same = compile_timelines([occ(1, 100_000, ("a",))], ["a"], now_ms=50, horizon_ms=10**9).timelines["a"]
    moved = compile_timelines([occ(1, 100_001, ("a",))], ["a"], now_ms=0, horizon_ms=10**9).timelines["a"]
    assert items_digest(one) == items_digest(same) != items_digest(moved)
