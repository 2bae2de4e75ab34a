"""Why an upload is refused, in the reader's language: Vietnamese as before by default, English for a
reader who chose it, in the panel and in API errors."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from audio.errors import TtsError
from audio.testing import FakeTtsEngine
from audio.texts import ENGLISH, Text
from audio.tts import speak_in_chunks
from controller import i18n
from controller.audio_text import MESSAGES, words
from tests.controller.conftest import World, make_world
from tests.controller.i18n_support import vietnamese_literals
from tests.controller.planning_support import login

# One text of each code, with its Vietnamese wording as audio/uploads.py wrote it before it had codes.
BEFORE = [
    (Text("upload.missing"), "Không tìm thấy tệp tải lên."),
    (Text("upload.not_a_file"), "Tệp tải lên không phải là một tệp thường."),
    (Text("upload.empty"), "Tệp tải lên rỗng (0 byte)."),
    (Text.of("upload.too_large", size_mb=12.5, limit_mb=10), "Tệp quá lớn (12,5 MB); tối đa 10 MB."),
    (Text("upload.not_audio"), "Tệp không phải là tệp âm thanh, hoặc định dạng không đọc được."),
    (Text("upload.playlist"), "Tệp là danh sách phát hoặc địa chỉ luồng, không phải bản ghi âm."),
    (
        Text("upload.no_audio_stream"),
        "Tệp không có tiếng (không có luồng âm thanh), ví dụ ảnh hoặc video không tiếng.",
    ),
    (Text("upload.undecodable"), "Tệp âm thanh bị hỏng, không giải mã được."),
    (Text("upload.damaged"), "Tệp âm thanh bị hỏng ở giữa, không giải mã trọn vẹn được."),
    (
        Text.of("upload.truncated", found_s=10.4, claimed_s=20.0),
        "Tệp âm thanh bị thiếu (tải lên chưa hết): chỉ đọc được 10,4 trên 20 giây.",
    ),
    (Text("upload.silent"), "Bản ghi chỉ có im lặng."),
    (
        Text.of("upload.too_long", length_min=31.5, limit_min=30.0),
        "Bản ghi quá dài (31,5 phút); tối đa 30 phút.",
    ),
]
# A text of each code for lexicon entries, with its Vietnamese wording.
LEXICON = [
    (Text("lexicon.written_empty"), "Mục từ chưa có cách viết."),
    (
        Text.of("lexicon.bad_abbreviation", written="AB CD"),
        "Từ viết tắt “AB CD”: phải bắt đầu bằng chữ cái hoặc chữ số và không có dấu cách.",
    ),
    (
        Text.of("lexicon.not_words", written="UBND", spoken="Ủy ban 5"),
        "“UBND” → “Ủy ban 5”: cách đọc phải là các từ (có thể có dấu phẩy), không có chữ số hay ký hiệu.",
    ),
    (
        Text.of("lexicon.abbreviation_in_spoken", written="UBND", spoken="UBND tỉnh"),
        "“UBND” → “UBND tỉnh”: cách đọc không được chứa chữ viết tắt.",
    ),
    (
        Text.of("lexicon.single_letter", written="VITC", spoken="vitamin C"),
        "“VITC” → “vitamin C”: hãy viết chữ cái đứng riêng bằng tên của nó (“ca”, không phải “k”).",
    ),
]
NOT_AUDIO = ("tin.mp3", "Kính thưa bà con\n".encode() * 50, "audio/mpeg")  # text, whatever its name says


def test_every_code_of_the_audio_package_has_a_message_id_and_a_sample_here() -> None:
    assert set(MESSAGES) == set(ENGLISH) == {text.code for text, _vi in BEFORE + LEXICON}


@pytest.mark.parametrize(("text", "vietnamese"), BEFORE + LEXICON, ids=lambda v: getattr(v, "code", ""))
def test_refusals_read_in_vietnamese_and_as_their_english_in_english(text: Text, vietnamese: str) -> None:
    assert words(text) == vietnamese  # outside a request: Vietnamese
    with i18n.use_language("en"):
        assert words(text) == str(text)


def test_the_audio_package_writes_no_vietnamese_sentence_for_people() -> None:
    root = Path(__file__).resolve().parents[2] / "audio"
    for name in ("uploads.py", "texts.py", "errors.py", "chimes.py", "render.py"):
        assert vietnamese_literals(root / name) == []


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("audio-text")))


@pytest.fixture
def draft(world: World) -> Iterator[int]:
    """A draft bulletin of commune A; the language cookie is dropped afterwards."""
    created = world.client.post(
        "/api/v1/bulletins",
        headers=world.token("editor_a"),
        json={"commune_id": world.commune_a, "title": "Bản tin ghi âm", "body": "(ghi âm)"},
    )
    yield int(created.json()["id"])
    world.client.cookies.delete(i18n.COOKIE)


def test_the_api_refuses_an_upload_in_the_readers_language(world: World, draft: int) -> None:
    editor, url = world.token("editor_a"), f"/api/v1/bulletins/{draft}/recording"
    refused = world.client.post(url, headers=editor, files={"file": NOT_AUDIO})
    assert refused.status_code == 422 and refused.json()["field"] == "recording"
    assert refused.json()["detail"] == "Tệp không phải là tệp âm thanh, hoặc định dạng không đọc được."
    world.client.cookies.set(i18n.COOKIE, "en")
    refused = world.client.post(url, headers=editor, files={"file": NOT_AUDIO})
    assert refused.status_code == 422 and refused.json()["field"] == "recording"
    assert refused.json()["detail"] == "The file is not a sound file, or its format cannot be read."


def test_the_bulletin_page_refuses_an_upload_in_the_readers_language(world: World, draft: int) -> None:
    csrf = login(world, "editor_a")
    url = f"/bulletins/{draft}/recording"
    refused = world.client.post(url, data={"csrf_token": csrf}, files={"recording": NOT_AUDIO})
    assert refused.status_code == 422
    assert "Tệp không phải là tệp âm thanh, hoặc định dạng không đọc được." in refused.text
    world.client.cookies.set(i18n.COOKIE, "en")
    refused = world.client.post(url, data={"csrf_token": csrf}, files={"recording": NOT_AUDIO})
    assert refused.status_code == 422
    assert "The file is not a sound file, or its format cannot be read." in refused.text
    assert "định dạng" not in refused.text


def test_an_unusable_lexicon_entry_is_refused_in_the_readers_language(world: World) -> None:
    admin = world.token("admin")
    entry = {"kind": "abbreviation", "term": "VITC", "spoken": "vitamin C"}
    refused = world.client.put("/api/v1/lexicon", headers=admin, json=entry)
    assert refused.status_code == 422 and refused.json()["field"] == "spoken"
    assert refused.json()["detail"] == LEXICON[-1][1]
    world.client.cookies.set(i18n.COOKIE, "en")
    refused = world.client.put("/api/v1/lexicon", headers=admin, json=entry)
    world.client.cookies.delete(i18n.COOKIE)
    assert (
        refused.json()["detail"] == "“VITC” → “vitamin C”: write a single letter by its name (“ca”, not “k”)."
    )


class StumblingEngine:
    """Speaks in chunks as espeak-ng does, and fails on the chunk that has "vấp" in it."""

    name = "espeak-ng"

    def synthesize(self, text: str, *, accent: str = "central", speed: int = 150) -> bytes:
        def speak(chunk: str) -> bytes:
            if "vấp" in chunk:
                raise TtsError("espeak-ng failed with voice vi: Segmentation fault")
            return FakeTtsEngine().synthesize(chunk, accent=accent, speed=speed)

        return speak_in_chunks(text, speak, engine_name=self.name, workers=1, max_chars=40)


def test_a_speech_failure_names_the_part_of_the_text_in_the_readers_language(
    world: World, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The editor is told which part to look at, in Vietnamese; the engine's English stays a
    technical detail at the end."""
    monkeypatch.setattr(world.services.renderer, "engine", StumblingEngine())
    body = "Câu thứ nhất đọc bình thường. Câu thứ hai thì bị vấp ở đây. Câu thứ ba cũng vậy."
    created = world.client.post(
        "/api/v1/bulletins",
        headers=world.token("editor_a"),
        json={"commune_id": world.commune_a, "title": "Bản tin thử", "body": body},
    )
    bid = created.json()["id"]
    assert world.client.post(f"/api/v1/bulletins/{bid}/submit", headers=world.token("editor_a")).is_success
    approver = world.token("approver_a")
    failed = world.client.post(f"/api/v1/bulletins/{bid}/preview", headers=approver)
    assert failed.status_code == 502
    detail = failed.json()["detail"]
    # The title is read first: the body's second sentence is the third part of four.
    assert detail.startswith("Bộ đọc không đọc được đoạn 3/4 của văn bản (“Câu thứ hai thì bị vấp ở đây.”).")
    technical = "espeak-ng failed on chunk 3 of 4 (sentence 3: “Câu thứ hai thì bị vấp ở đây.”): espeak-ng"
    assert detail.endswith(f"Chi tiết kỹ thuật: {technical} failed with voice vi: Segmentation fault")
    world.client.cookies.set(i18n.COOKIE, "en")
    failed = world.client.post(f"/api/v1/bulletins/{bid}/preview", headers=approver)
    world.client.cookies.delete(i18n.COOKIE)
    assert failed.json()["detail"].startswith("The speech engine could not read part 3 of 4 of the text")
