"""The problems of a registration file in the reader's language: Vietnamese as before by default
(tests/device_registry/test_csv_import.py holds the wording), English for a reader who chose it."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from controller import i18n
from controller.registry_text import MESSAGES, line_words, words
from device_registry import csv_import
from device_registry.csv_import import VILLAGE_KINDS, LineError, parse_devices_csv
from device_registry.texts import ENGLISH, Text
from tests.controller.conftest import World, make_world
from tests.controller.i18n_support import vietnamese_literals
from tests.controller.planning_support import login

# Every parameter any code takes, so that one sample of each code fills all of its placeholders.
SAMPLE = {
    "cells": 7,
    "header": 6,
    "error": "unexpected end of data",
    "cell": "'ghi chu'",
    "columns": "device_id, name",
    "name": "'Xóm 1'",
    "id": "'loa-01'",
    "first": 2,
    "limit": 200,
    "code": "'w9'",
    "typed": "'abc'",
    "value": "105.6",
    "low": "6",
    "high": "24",
    "kind": "'làng'",
    "commune": "w17329",
}
BAD_BOXES = "device_id,name,zone_code\nbox-d1,Loa,va1\nBOX D2!,Loa,va1\nbox-d3,Loa,nowhere\n"
VIETNAMESE_WORDS = re.compile(r"\b(?:Dòng|thiếu|không|mã loa|trùng)\b")
# Vietnamese that is data, not a sentence: the village kinds and the column names a file may use.
DATA = {
    *VILLAGE_KINDS,
    *(
        alias
        for columns in (csv_import._DEVICE_COLUMNS, csv_import._VILLAGE_COLUMNS)
        for aliases in columns.values()
        for alias in aliases
    ),
    "đ",
    "Đ",
    "thôn, xóm, bản, khối or tổ dân phố",
}


def test_every_code_of_the_registry_has_a_message_id() -> None:
    assert set(MESSAGES) == set(ENGLISH)


@pytest.mark.parametrize("code", sorted(ENGLISH))
def test_each_problem_reads_as_its_english_in_english_and_otherwise_in_vietnamese(code: str) -> None:
    text = Text.of(code, **SAMPLE)
    with i18n.use_language("en"):
        assert words(text) == str(text)
    assert words(text) != str(text)  # outside a request: Vietnamese


def test_a_line_is_named_in_the_readers_language_and_in_english_for_logs() -> None:
    [error] = parse_devices_csv("device_id,name,zone_code\nloa-01,,w1\n").errors
    assert error == LineError(2, Text("box_name.missing"))
    assert str(error) == "Line 2: the box name is missing"
    assert line_words(error) == "Dòng 2: thiếu tên loa"
    with i18n.use_language("en"):
        assert line_words(error) == str(error)


def test_the_registry_package_writes_no_vietnamese_sentence() -> None:
    root = Path(__file__).resolve().parents[2] / "device_registry"
    for name in ("csv_import.py", "texts.py"):
        assert vietnamese_literals(root / name, data=DATA) == []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("registry-text")))


@pytest.fixture
def english(world: World) -> Iterator[None]:
    """The reader chose English; the cookie is dropped afterwards."""
    world.client.cookies.set(i18n.COOKIE, "en")
    yield
    world.client.cookies.delete(i18n.COOKIE)


def test_the_api_refuses_a_box_file_in_the_readers_language(world: World, english: None) -> None:
    refused = world.client.post(
        "/api/v1/devices/import",
        files={"file": ("loa.csv", BAD_BOXES.encode(), "text/csv")},
        headers=world.token("tech"),
    )
    assert refused.status_code == 422 and refused.json()["field"] == "file"
    assert refused.json()["detail"] == (
        "The list of boxes cannot be imported: Line 3: box id 'box d2!' is invalid (only lower-case"
        " letters without accents, digits and hyphens, at most 63 characters); Line 4: zone code"
        " 'nowhere' does not exist."
    )


def test_the_villages_page_refuses_a_file_in_the_readers_language(world: World, english: None) -> None:
    csrf = login(world, "admin")
    bad = "commune_code,name,kind\nw999999,Sai,thôn\nx12,,\n"
    refused = world.client.post(
        "/villages/import", data={"csrf_token": csrf}, files={"file": ("thon.csv", bad.encode(), "text/csv")}
    )
    assert refused.status_code == 422
    assert "Line 2: commune/ward code &#39;w999999&#39; does not exist" in refused.text
    assert "Line 3: the village name is missing" in refused.text
    assert VIETNAMESE_WORDS.search(refused.text.split("<main", 1)[-1]) is None
