"""Running the audio tools as one pipeline: every stage's failure is reported, one line, by name."""

from __future__ import annotations

from pathlib import Path

import pytest

from audio._run import run_piped
from audio.errors import AudioError


def test_a_pipeline_passes_data_along_and_returns_the_last_stages_stderr() -> None:
    last = ["sh", "-c", "wc -c >&2"]

    assert run_piped(["printf", "abcdef"], ["tr", "a-f", "A-F"], last, what="x", paths=[]).strip() == b"6"


def test_the_first_failing_stage_is_the_one_reported(tmp_path: Path) -> None:
    src = tmp_path / "input.wav"
    failing = ["sh", "-c", f"cat >/dev/null; echo 'Error opening file:{src}' >&2; exit 3"]

    with pytest.raises(AudioError, match=r"^cannot encode: Error opening input\.wav$"):
        run_piped(["printf", "x"], failing, ["cat"], what="cannot encode", paths=[src])


def test_a_failing_last_stage_is_reported() -> None:
    last = ["sh", "-c", "cat >/dev/null; echo bad meter >&2; exit 1"]

    with pytest.raises(AudioError, match=r"^cannot encode: bad meter$"):
        run_piped(["printf", "x"], ["cat"], last, what="cannot encode", paths=[])


def test_a_missing_tool_is_named() -> None:
    with pytest.raises(AudioError, match="no-such-tool-for-loa is not installed"):
        run_piped(["printf", "x"], ["no-such-tool-for-loa"], what="cannot encode", paths=[])
