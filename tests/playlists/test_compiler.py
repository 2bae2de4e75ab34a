"""The timeline compiler places occurrences on boxes without clashes and within policies (pure)."""

from __future__ import annotations

import itertools
from datetime import UTC, date, datetime, time

from hypothesis import given, settings
from hypothesis import strategies as st

from playlists.compiler import Occurrence, compile_timelines, item_id, items_digest
from playlists.playlist import Segment
from playlists.policy import Session, VolumeLimit, Window, ZonePolicy, check
from playlists.texts import Text
from playlists.wire import MediaRef, Priority

MEDIA = MediaRef(sha256="a" * 64, url="http://x/media/" + "a" * 64, bytes=10, duration_ms=60_000)
AUDIO = (Segment("audio", 60_000, media=MEDIA, bulletin_id=7),)
DAY = datetime(2026, 12, 1, tzinfo=UTC)  # 07:00 in Hà Nội
T0 = int(DAY.timestamp() * 1000)
BIG = 10**10


def occ(
    schedule_id: int,
    start_ms: int,
    devices: tuple[str, ...],
    priority: Priority = "normal",
    segments: tuple[Segment, ...] = AUDIO,
) -> Occurrence:
    return Occurrence(
        schedule_id=schedule_id,
        created_order=schedule_id,
        start_ms=start_ms,
        segments=segments,
        priority=priority,
        device_ids=devices,
    )


def test_each_box_gets_only_its_occurrences_in_start_order() -> None:
    result = compile_timelines(
        [occ(2, T0 + 200_000, ("a",)), occ(1, T0 + 100_000, ("a", "b"))],
        ["a", "b", "c"],
        now_ms=T0,
        horizon_ms=BIG,
    )
    assert [i.id for i in result.timelines["a"]] == [item_id(1, T0 + 100_000), item_id(2, T0 + 200_000)]
    assert [i.id for i in result.timelines["b"]] == [item_id(1, T0 + 100_000)]
    assert result.timelines["c"] == ()
    assert result.conflicts == []


def test_a_playlist_becomes_back_to_back_items() -> None:
    segments = (
        Segment("audio", 3_000, media=MEDIA),
        Segment("silence", 2_000),
        Segment("stream", 600_000, stream_url="http://radio.example/vov1"),
        Segment("audio", 60_000, media=MEDIA, bulletin_id=7),
    )
    items = compile_timelines(
        [occ(1, T0, ("a",), segments=segments)], ["a"], now_ms=T0 - 1, horizon_ms=BIG
    ).timelines["a"]
    assert [(i.kind, i.start_ms - T0) for i in items] == [
        ("audio", 0),
        ("silence", 3_000),
        ("stream", 5_000),
        ("audio", 605_000),
    ]
    assert items[2].stream_url == "http://radio.example/vov1"
    assert len({i.id for i in items}) == 4


def test_higher_priority_wins_a_clash_and_the_loser_is_reported() -> None:
    result = compile_timelines(
        [occ(1, T0 + 100_000, ("a",)), occ(2, T0 + 130_000, ("a",), priority="emergency")],
        ["a"],
        now_ms=T0,
        horizon_ms=BIG,
    )
    assert [i.schedule_id for i in result.timelines["a"]] == [2]
    assert [(c.schedule_id, c.winner_schedule_id, c.reason) for c in result.conflicts] == [(1, 2, "clash")]


def test_within_a_tier_the_earlier_created_schedule_wins() -> None:
    result = compile_timelines(
        [occ(5, T0 + 100_000, ("a",)), occ(3, T0 + 110_000, ("a",))], ["a"], now_ms=T0, horizon_ms=BIG
    )
    assert [i.schedule_id for i in result.timelines["a"]] == [3]


def test_finished_and_beyond_horizon_occurrences_are_left_out() -> None:
    result = compile_timelines(
        [occ(1, T0, ("a",)), occ(2, T0 + 500_000, ("a",)), occ(3, T0 + 5_000_000, ("a",))],
        ["a"],
        now_ms=T0 + 100_000,
        horizon_ms=1_000_000,
    )
    assert [i.schedule_id for i in result.timelines["a"]] == [2]


QUIET = ZonePolicy(
    quiet_hours=(Window(start=time(11, 30), end=time(13, 30)), Window(start=time(21), end=time(5, 30))),
    max_sessions_per_day=2,
    volume_limits=(VolumeLimit(window=Window(start=time(5, 30), end=time(7, 30)), max_volume=60),),
)


def _local(hour: int, minute: int = 0) -> int:
    """Instant in ms of the given Hà Nội wall time on 01/12/2026."""
    return T0 + ((hour - 7) * 60 + minute) * 60_000


def test_policies_drop_quiet_hour_and_over_cap_sessions_but_not_emergencies() -> None:
    result = compile_timelines(
        [
            occ(1, _local(6), ("a",)),
            occ(2, _local(12), ("a",)),  # quiet hours
            occ(3, _local(16), ("a",)),
            occ(4, _local(17), ("a",)),  # third session of the day
            occ(5, _local(22), ("a",), priority="emergency"),  # overrides quiet hours
        ],
        ["a"],
        now_ms=T0 - 10 * 3_600_000,
        horizon_ms=BIG,
        policies={"a": QUIET},
    )
    assert [i.schedule_id for i in result.timelines["a"]] == [1, 3, 5]
    assert {(c.schedule_id, c.reason) for c in result.conflicts} == {(2, "quiet_hours"), (4, "max_sessions")}
    assert result.timelines["a"][0].volume == 60  # 06:00 is in the 60 % window
    assert result.timelines["a"][1].volume == 100


def test_conflicts_and_breaches_say_why_as_a_code_and_parameters() -> None:
    result = compile_timelines(
        [occ(i, _local(hour), ("a",)) for i, hour in ((1, 12), (2, 16), (3, 16), (4, 17), (5, 18))],
        ["a"],
        now_ms=T0 - 10 * 3_600_000,
        horizon_ms=BIG,
        policies={"a": QUIET},
    )
    texts = {c.schedule_id: c.text for c in result.conflicts}
    assert texts == {
        1: Text.of("compile.quiet_hours", window="11:30–13:30"),
        3: Text("compile.clash"),
        5: Text.of("policy.max_sessions", day=date(2026, 12, 1), limit=2),
    }
    assert str(texts[5]) == "Over the daily limit of airings (2) on 01/12/2026."  # English, for logs
    noon = Session("noon", datetime.fromtimestamp(_local(12) / 1000, UTC), 60_000, "normal")
    [quiet] = check(QUIET, [noon])
    assert quiet.text.code == "policy.quiet_hours" and quiet.text.args["window"] == "11:30–13:30"
    assert str(quiet.text) == "The airing at 12:00 01/12/2026 falls in quiet hours 11:30–13:30."
    long_day = ZonePolicy(max_minutes_per_day=1)
    evening = Session("evening", datetime.fromtimestamp(_local(18) / 1000, UTC), 60_000, "normal")
    assert [v.text for v in check(long_day, [noon, evening])] == [
        Text.of("policy.max_minutes", day=date(2026, 12, 1), limit=1)
    ]


def test_digest_is_stable_and_sensitive_to_changes() -> None:
    one = compile_timelines([occ(1, T0 + 100_000, ("a",))], ["a"], now_ms=T0, horizon_ms=BIG).timelines["a"]
    same = compile_timelines([occ(1, T0 + 100_000, ("a",))], ["a"], now_ms=T0 + 50, horizon_ms=BIG).timelines[
        "a"
    ]
    moved = compile_timelines([occ(1, T0 + 100_001, ("a",))], ["a"], now_ms=T0, horizon_ms=BIG).timelines["a"]
    assert items_digest(one) == items_digest(same) != items_digest(moved)


BOXES = ["a", "b", "c", "d"]
occurrences_strategy = st.lists(
    st.builds(
        occ,
        schedule_id=st.integers(1, 40),
        start_ms=st.integers(T0 - 3_600_000, T0 + 3 * 86_400_000).map(lambda ms: ms - ms % 60_000),
        devices=st.lists(st.sampled_from(BOXES), min_size=1, max_size=4, unique=True).map(tuple),
        priority=st.sampled_from(["normal", "priority", "emergency"]),
        segments=st.sampled_from(
            [
                AUDIO,
                (Segment("audio", 1_800_000, media=MEDIA),),
                (Segment("silence", 5_000), Segment("audio", 60_000, media=MEDIA)),
            ]
        ),
    ),
    max_size=30,
).map(lambda found: list({(o.schedule_id, o.start_ms): o for o in found}.values()))


@settings(max_examples=150, deadline=None)
@given(occurrences_strategy, st.sampled_from([None, QUIET]))
def test_compiler_properties(found: list[Occurrence], policy: ZonePolicy | None) -> None:
    policies = {b: policy for b in BOXES} if policy else {}
    full = compile_timelines(found, BOXES, now_ms=T0, horizon_ms=2 * 86_400_000, policies=policies)
    for box, items in full.timelines.items():
        # no two items overlap on a box
        for earlier, later in itertools.pairwise(items):
            assert earlier.start_ms + earlier.duration_ms <= later.start_ms
        # every item traces back to a schedule that targets this box
        for item in items:
            assert any(o.schedule_id == item.schedule_id and box in o.device_ids for o in found)
        # policies hold except for emergencies
        if policy is not None:
            kept = [
                o
                for o in found
                if box in o.device_ids
                and any(
                    i.schedule_id == o.schedule_id and i.id.startswith(f"s{o.schedule_id}-{o.start_ms}-")
                    for i in items
                )
            ]
            sessions = [Session(o, o.start, o.duration_ms, o.priority) for o in kept]
            assert check(policy, sessions) == []
    # deterministic and idempotent
    again = compile_timelines(
        list(reversed(found)), BOXES, now_ms=T0, horizon_ms=2 * 86_400_000, policies=policies
    )
    assert {b: items_digest(i) for b, i in again.timelines.items()} == {
        b: items_digest(i) for b, i in full.timelines.items()
    }
    # incremental: compiling a subset gives exactly the full result for it
    part = compile_timelines(found, ["b", "d"], now_ms=T0, horizon_ms=2 * 86_400_000, policies=policies)
    assert part.timelines == {b: full.timelines[b] for b in ("b", "d")}


def test_a_quiet_window_that_starts_where_it_ends_silences_nothing() -> None:
    empty = ZonePolicy(quiet_hours=(Window(start=time(6), end=time(6)),))
    at = datetime(2026, 3, 2, 23, 30, tzinfo=UTC)  # 06:30 in Hà Nội
    session = Session(key=1, start=at, duration_ms=60_000, priority="normal")
    assert check(empty, [session]) == []
    assert not empty.quiet_hours[0].covers(time(6, 30))
