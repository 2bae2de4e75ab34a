from __future__ import annotations

import sys
from pathlib import Path

import pytest

# The project is not installed in the venv and pyproject sets no pytest `pythonpath`, so make the
# repository root importable for `.venv/bin/pytest`; harmless once either of those is in place.
_ROOT = str(Path(__file__).resolve().parents[2])
if _ROOT not in sys.path:
    sys.path.insert(0, _ROOT)

from audio import EspeakNgEngine, MediaStore  # noqa: E402


@pytest.fixture
def store(tmp_path: Path) -> MediaStore:
    return MediaStore(tmp_path / "media")


@pytest.fixture
def espeak() -> EspeakNgEngine:
    return EspeakNgEngine()
