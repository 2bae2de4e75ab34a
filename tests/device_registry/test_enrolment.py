"""Enrolment codes: typable, stored only as a hash, used before they expire."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from device_registry.enrolment import (
    CODE_ALPHABET,
    code_expired,
    code_hash,
    code_matches,
    new_enrolment_code,
    normalise_code,
)

NOW = datetime(2025, 9, 2, 8, 0, tzinfo=UTC)


def test_new_code_is_grouped_unambiguous_and_kept_only_as_its_hash() -> None:
    issued = new_enrolment_code(now=NOW)
    groups = issued.code.split("-")
    assert [len(g) for g in groups] == [4, 4, 2]
    assert set("".join(groups)) <= set(CODE_ALPHABET)
    assert not set("01OIL") & set(CODE_ALPHABET)
    assert issued.code not in issued.code_hash and len(issued.code_hash) == 64
    assert issued.expires_at == NOW + timedelta(hours=72)


def test_codes_differ() -> None:
    assert len({new_enrolment_code(now=NOW).code for _ in range(200)}) == 200


def test_typed_code_matches_whatever_the_case_spaces_and_dashes() -> None:
    issued = new_enrolment_code(now=NOW)
    sloppy = " " + issued.code.lower().replace("-", " ") + " "
    assert code_matches(sloppy, issued.code_hash)
    assert code_hash(sloppy) == issued.code_hash


@pytest.mark.parametrize("typed", ["", "ABCD-EFGH-J", "ABCD-EFGH-JKM", "ABCD-EFGH-J0", "ABCD-EFGH-JI"])
def test_text_that_is_not_a_code_matches_nothing(typed: str) -> None:
    assert normalise_code(typed) is None
    assert not code_matches(typed, code_hash("ABCD-EFGH-JK"))
    with pytest.raises(ValueError, match="not an enrolment code"):
        code_hash(typed)


def test_other_code_does_not_match() -> None:
    assert not code_matches("ABCD-EFGH-JM", code_hash("ABCD-EFGH-JK"))


def test_code_expires_at_its_instant() -> None:
    issued = new_enrolment_code(now=NOW, ttl=timedelta(hours=1))
    assert not code_expired(issued.expires_at, now=NOW + timedelta(minutes=59))
    assert code_expired(issued.expires_at, now=NOW + timedelta(hours=1))


def test_naive_times_and_empty_validity_are_refused() -> None:
    with pytest.raises(ValueError, match="aware"):
        new_enrolment_code(now=datetime(2025, 9, 2, 8, 0))
    with pytest.raises(ValueError, match="aware"):
        code_expired(NOW, now=datetime(2025, 9, 2, 8, 0))
    with pytest.raises(ValueError, match="positive"):
        new_enrolment_code(now=NOW, ttl=timedelta(0))
