"""The player's rules, as pure functions: order, lateness, and who may interrupt whom."""

from __future__ import annotations

import pytest

from edge_agent.schedule import (
    TONE_RANK,
    command_preempts,
    next_due,
    next_start_ms,
    open_items,
    resumed,
    skip_reason,
    timeline_entry,
    timeline_preempts,
)
from playlists.wire import PRIORITY_RANK

NOW = 1_767_225_600_000


def test_open_items_are_ordered_by_instant_then_priority_and_skip_handled_ones(controller):
    items = [
        controller.item("b", NOW + 10),
        controller.item("a", NOW + 10, priority="emergency"),
        controller.item("c", NOW + 5),
        controller.item("done", NOW + 1),
    ]
    timeline = controller.timeline(1, items, now_ms=NOW)

    assert [i.id for i in open_items(timeline, {"done"})] == ["c", "a", "b"]
    assert next_due(timeline, {"done"}, NOW + 5).id == "c"
    assert next_due(timeline, {"done"}, NOW + 4) is None
    assert next_start_ms(timeline, {"done", "c"}) == NOW + 10


@pytest.mark.parametrize(
    ("late_ms", "trouble", "reason"),
    [(5_000, None, None), (5_001, None, "late"), (5_001, NOW, "clock_jump"), (5_001, NOW - 1, "late")],
)
def test_an_item_more_than_five_seconds_late_is_skipped_as_late_or_clock_jump(
    controller, late_ms, trouble, reason
):
    item = controller.item("a", NOW)
    timeline = controller.timeline(1, [item], now_ms=NOW)

    assert skip_reason(timeline, item, NOW + late_ms, trouble_until_ms=trouble) == reason


def test_due_item_of_an_expired_timeline_or_a_stream_without_url_is_skipped(controller):
    item = controller.item("a", NOW)
    stream = controller.item("s", NOW, kind="stream", duration_ms=1_000)
    timeline = controller.timeline(1, [item, stream], now_ms=NOW, valid_for_ms=1)

    assert skip_reason(timeline, item, NOW + 1) == "expired"
    assert skip_reason(controller.timeline(1, [stream], now_ms=NOW), stream, NOW) == "no_stream_url"


@pytest.mark.parametrize(
    ("airing", "incoming", "timeline_wins", "command_wins"),
    [
        ("normal", "normal", False, True),
        ("normal", "priority", True, True),
        ("priority", "normal", False, False),
        ("emergency", "emergency", False, True),
        ("emergency", "priority", False, False),
    ],
)
def test_who_interrupts_whom(airing, incoming, timeline_wins, command_wins):
    assert timeline_preempts(PRIORITY_RANK[airing], PRIORITY_RANK[incoming]) is timeline_wins
    assert command_preempts(PRIORITY_RANK[airing], PRIORITY_RANK[incoming]) is command_wins


def test_a_test_tone_interrupts_nothing_and_anything_interrupts_it():
    assert not command_preempts(PRIORITY_RANK["normal"], TONE_RANK)
    assert timeline_preempts(TONE_RANK, PRIORITY_RANK["normal"])


def test_the_rest_of_an_interrupted_item_starts_where_it_was_cut(controller):
    timeline = controller.timeline(4, [controller.item("a", NOW, duration_ms=9_000)], now_ms=NOW)
    entry = timeline_entry(timeline, timeline.items[0])

    rest = resumed(resumed(entry, 2_000, NOW + 5_000), 1_500, NOW + 8_000)

    assert (rest.offset_ms, rest.start_ms, rest.origin, rest.rank) == (
        3_500,
        NOW + 8_000,
        "resume",
        entry.rank,
    )
    assert rest.fields == entry.fields and rest.fields["timeline_version"] == 4
