from __future__ import annotations

import hashlib
import random
import struct
import zlib
from collections.abc import Callable
from pathlib import Path

import pytest

from audio import MediaStore, ProcessingSettings, UploadRejected, make_tone, probe, render_upload
from audio.texts import Text

pytestmark = pytest.mark.integration

PLAIN = ProcessingSettings(chimes=False)


def _files(store: MediaStore) -> list[Path]:
    return [p for p in store.root.rglob("*") if p.is_file()] if store.root.exists() else []


def _png(path: Path) -> Path:
    """A real 1×1 PNG picture."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))

    header = struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0)
    body = chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\0\xff\0\0")) + chunk(b"IEND", b"")
    path.write_bytes(b"\x89PNG\r\n\x1a\n" + body)
    return path


@pytest.fixture(scope="module")
def tones(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """A quiet mono tone and a loud stereo one, as an uploaded recording might be."""
    folder = tmp_path_factory.mktemp("tones")
    quiet, loud = folder / "quiet.wav", folder / "loud.wav"
    make_tone(quiet, seconds=5, dbfs=-30.0)
    make_tone(loud, seconds=5, dbfs=-6.0, channels=2)
    return {"quiet": quiet, "loud": loud}


def test_upload_becomes_our_own_mono_48_khz_opus_of_the_same_length(
    tones: dict[str, Path], store: MediaStore
) -> None:
    media = render_upload(tones["loud"], store=store, settings=PLAIN)

    found = probe(store.path_for(media.sha256))
    assert (found.format_name, found.codec, found.channels, found.sample_rate) == ("ogg", "opus", 1, 48000)
    assert abs(media.duration_ms - 5000) < 100
    assert abs(media.lufs - -16.0) <= 1.0


def test_an_upload_already_in_the_broadcast_format_is_still_transcoded(
    tones: dict[str, Path], store: MediaStore, tmp_path: Path
) -> None:
    first = render_upload(tones["loud"], store=store, settings=PLAIN)
    upload = tmp_path / "ready.ogg"
    upload.write_bytes(store.path_for(first.sha256).read_bytes())

    again = render_upload(upload, store=store, settings=PLAIN)

    assert again.sha256 != hashlib.sha256(upload.read_bytes()).hexdigest()
    assert probe(store.path_for(again.sha256)).codec == "opus"


def test_quiet_and_loud_uploads_come_out_equally_loud(tones: dict[str, Path], store: MediaStore) -> None:
    quiet = render_upload(tones["quiet"], store=store, settings=PLAIN)
    loud = render_upload(tones["loud"], store=store, settings=PLAIN)
    other_target = render_upload(tones["loud"], store=store, settings=ProcessingSettings(target_lufs=-23.0))

    assert abs(quiet.lufs - loud.lufs) <= 0.5
    assert abs(other_target.lufs - -23.0) <= 1.0


def _zero_bytes(tmp_path: Path, make: Callable[..., Path]) -> Path:
    (path := tmp_path / "empty.mp3").write_bytes(b"")
    return path


def _text(tmp_path: Path, make: Callable[..., Path]) -> Path:
    (path := tmp_path / "notes.mp3").write_text("Kính thưa bà con\n" * 50, encoding="utf-8")
    return path


def _picture(tmp_path: Path, make: Callable[..., Path]) -> Path:
    return _png(tmp_path / "photo.wav")


def _random_bytes(tmp_path: Path, make: Callable[..., Path]) -> Path:
    (path := tmp_path / "upload.bin").write_bytes(random.Random(7).randbytes(64 * 1024))
    return path


def _silent_video(tmp_path: Path, make: Callable[..., Path]) -> Path:
    return make(tmp_path / "clip.mp4", "-f", "lavfi", "-i", "testsrc=d=2:s=64x48:r=10", "-c:v", "mpeg4")


def _playlist(tmp_path: Path, make: Callable[..., Path]) -> Path:
    make(tmp_path / "part.wav", "-f", "lavfi", "-i", "sine=f=440:d=2")
    (path := tmp_path / "list.ffconcat").write_text("ffconcat version 1.0\nfile part.wav\n", encoding="utf-8")
    return path


def _truncated_mp3(tmp_path: Path, make: Callable[..., Path]) -> Path:
    whole = make(
        tmp_path / "whole.mp3", "-f", "lavfi", "-i", "sine=f=440:d=20", "-c:a", "libmp3lame", "-b:a", "64k"
    )
    (path := tmp_path / "cut.mp3").write_bytes(whole.read_bytes()[: whole.stat().st_size // 2])
    return path


def _damaged_mp3(tmp_path: Path, make: Callable[..., Path]) -> Path:
    whole = make(
        tmp_path / "whole.mp3", "-f", "lavfi", "-i", "sine=f=440:d=20", "-c:a", "libmp3lame", "-b:a", "64k"
    )
    data = bytearray(whole.read_bytes())
    data[40000:40400] = random.Random(1).randbytes(400)
    (path := tmp_path / "damaged.mp3").write_bytes(bytes(data))
    return path


def _silence(tmp_path: Path, make: Callable[..., Path]) -> Path:
    return make(tmp_path / "silence.wav", "-f", "lavfi", "-i", "anullsrc=r=16000:cl=mono:d=3")


@pytest.mark.parametrize(
    ("make_upload", "code", "english", "text"),
    [
        (_zero_bytes, "empty", r"^empty\.mp3 is empty \(0 bytes\)$", "upload.empty"),
        (_text, "not_audio", r"^notes\.mp3 is not a sound file ffmpeg can read", "upload.not_audio"),
        (
            _picture,
            "no_audio_stream",
            r"^photo\.wav has no sound in it \(png_pipe: video\)$",
            "upload.no_audio_stream",
        ),
        (
            _random_bytes,
            "not_audio",
            r"^upload\.bin is not a sound file ffmpeg can read \(Invalid data",
            "upload.not_audio",
        ),
        (
            _silent_video,
            "no_audio_stream",
            r"^clip\.mp4 has no sound in it \(mov,mp4.*: video\)$",
            "upload.no_audio_stream",
        ),
        (
            _playlist,
            "playlist",
            r"^list\.ffconcat is a playlist or stream description \(concat\)",
            "upload.playlist",
        ),
        (
            _truncated_mp3,
            "truncated",
            r"^cut\.mp3 is cut short: it says 20\.\d s but only 1\d\.\d s decode$",
            "upload.truncated",
        ),
        (_damaged_mp3, "decode_error", r"^damaged\.mp3 is damaged: ", "upload.damaged"),
        (_silence, "silent", r"^silence\.wav has no sound to broadcast", "upload.silent"),
    ],
)
def test_unfit_uploads_are_refused_with_a_reason_and_a_text_and_nothing_is_stored(
    tmp_path: Path,
    store: MediaStore,
    ffmpeg_make: Callable[..., Path],
    make_upload: Callable[[Path, Callable[..., Path]], Path],
    code: str,
    english: str,
    text: str,
) -> None:
    upload = make_upload(tmp_path, ffmpeg_make)

    with pytest.raises(UploadRejected, match=english) as caught:
        render_upload(upload, store=store)

    assert caught.value.code == code
    assert caught.value.text.code == text and str(caught.value.text).startswith("The ")
    assert str(tmp_path) not in str(caught.value)
    assert _files(store) == []


def test_size_and_duration_caps_are_configurable(tones: dict[str, Path], store: MediaStore) -> None:
    with pytest.raises(UploadRejected, match=r"quiet\.wav is 0\.4 MB; uploads may be at most 0 MB") as big:
        render_upload(tones["quiet"], store=store, settings=ProcessingSettings(max_upload_bytes=1000))
    with pytest.raises(UploadRejected, match=r"plays 0\.1 min; recordings may be at most 0\.05 min") as long:
        render_upload(tones["quiet"], store=store, settings=ProcessingSettings(max_duration_s=3))

    assert (big.value.code, long.value.code) == ("too_large", "too_long")
    assert big.value.text == Text.of("upload.too_large", size_mb=0.4, limit_mb=0)
    assert long.value.text == Text.of("upload.too_long", length_min=0.1, limit_min=0.1)
    assert str(long.value.text) == "The recording is too long (0.1 min); at most 0.1 min."
    assert _files(store) == []


def test_missing_upload_is_reported_by_name(tmp_path: Path, store: MediaStore) -> None:
    with pytest.raises(UploadRejected, match=r"missing\.wav.*No such file") as caught:
        render_upload(tmp_path / "missing.wav", store=store)

    assert caught.value.code == "missing" and caught.value.text == Text("upload.missing")
