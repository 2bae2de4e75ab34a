"""The normaliser against a table of bulletin language: ``data/normalize_cases.tsv``.

Each row is ``accent<TAB>written<TAB>spoken``; a ``\\n`` in the written text stands for a line break.
The table is plain text so that a Vietnamese editor can add a case without touching Python.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import NamedTuple

import pytest

from audio.normalize import normalize

_TABLE = Path(__file__).parent / "data" / "normalize_cases.tsv"


class Case(NamedTuple):
    accent: str
    written: str
    spoken: str


def _load() -> list[pytest.ParameterSet]:
    cases = []
    for number, line in enumerate(_TABLE.read_text(encoding="utf-8").splitlines(), start=1):
        if not line.strip() or line.startswith("#"):
            continue
        accent, written, spoken = line.split("\t")
        case = Case(accent, written.replace("\\n", "\n"), spoken)
        cases.append(pytest.param(case, id=f"{number}-{accent}-{written[:40]}"))
    return cases


CASES = _load()


def test_the_table_is_large_and_covers_every_accent() -> None:
    accents = {param.values[0].accent for param in CASES}  # type: ignore[union-attr]
    assert len(CASES) >= 300
    assert accents == {"north", "central", "south"}


@pytest.mark.parametrize("case", CASES)
def test_written_bulletin_language_is_spoken_as_expected(case: Case) -> None:
    result = normalize(case.written, accent=case.accent)

    assert result.text == case.spoken
    assert not re.search(r"[0-9]", result.text)
