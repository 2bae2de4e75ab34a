"""The benchmarks' tests: bench/ (fleet.py, fleet_support.py …) is importable from here."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
