from __future__ import annotations

import json
from pathlib import Path

import pytest

from audio import make_tone, probe
from audio.cli import render_main

pytestmark = pytest.mark.integration


def test_a_text_file_is_spoken_into_the_output_and_described_in_one_json_line(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "bulletin.txt"
    text.write_text("Kính thưa bà con!\nXã thông báo lịch tiêm phòng.\n", encoding="utf-8")
    out = tmp_path / "bulletin.ogg"

    code = render_main([str(text), "--out", str(out), "--voice", "vi-vn-x-south", "--speed", "160"])

    printed = capsys.readouterr()
    assert code == 0 and printed.err == ""
    lines = printed.out.splitlines()
    assert len(lines) == 1
    described = json.loads(lines[0])
    assert described["codec"] == "opus" and described["output"] == str(out)
    assert abs(described["lufs"] - -16.0) <= 1.0
    assert described["bytes"] == out.stat().st_size
    assert probe(out).duration_ms == described["duration_ms"]


def test_voice_accent_and_speed_change_what_is_spoken(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    text = tmp_path / "bulletin.txt"
    text.write_text("Kính thưa bà con. Xã thông báo lịch tiêm phòng cho trẻ em.", encoding="utf-8")

    def render(*options: str) -> dict[str, object]:
        out = tmp_path / f"out{len(list(tmp_path.iterdir()))}.ogg"
        assert render_main([str(text), "--out", str(out), "--no-chimes", *options]) == 0
        described: dict[str, object] = json.loads(capsys.readouterr().out)
        return described

    slow, fast = render("--speed", "100"), render("--speed", "250")
    central, south, south_voice = render(), render("--accent", "south"), render("--voice", "vi-vn-x-south")

    assert int(str(slow["duration_ms"])) > 1.5 * int(str(fast["duration_ms"]))
    assert south["sha256"] == south_voice["sha256"] != central["sha256"]


def test_a_recording_is_processed_into_mp3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    tone = tmp_path / "recording.wav"
    make_tone(tone, seconds=3, dbfs=-30.0, channels=2)
    out = tmp_path / "out.mp3"

    code = render_main([str(tone), "--out", str(out), "--codec", "mp3", "--no-chimes"])

    described = json.loads(capsys.readouterr().out)
    assert code == 0
    assert (described["codec"], described["mime"]) == ("mp3", "audio/mpeg")
    assert probe(out).codec == "mp3"
    assert abs(described["duration_ms"] - 3000) < 100


@pytest.mark.parametrize(
    ("arguments", "complaint"),
    [
        (["missing.txt"], "missing.txt does not exist"),
        (["notes.md"], "notes.md is not a sound file"),
        (["bulletin.txt", "--voice", "vi", "--accent", "south"], "voice vi speaks the north accent"),
        (["bulletin.txt", "--voice", "festival"], "unknown TTS engine 'festival'"),
        (["bulletin.txt", "--voice", "absent.onnx"], "Piper voice file absent.onnx does not exist"),
    ],
)
def test_errors_are_one_line_on_stderr_and_exit_1(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], arguments: list[str], complaint: str
) -> None:
    (tmp_path / "bulletin.txt").write_text("Xin chào bà con.", encoding="utf-8")
    (tmp_path / "notes.md").write_text("# not sound\n", encoding="utf-8")
    first, *rest = arguments
    out = tmp_path / "out.ogg"

    code = render_main([str(tmp_path / first), "--out", str(out), *rest])

    printed = capsys.readouterr()
    assert code == 1 and printed.out == ""
    assert printed.err.count("\n") == 1 and printed.err.startswith("loa render: error: ")
    assert complaint in printed.err
    assert not out.exists()
