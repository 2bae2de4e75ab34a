"""Issue 9's fault suite: the scenarios of bench/faults.py (importable from here) at the size
``FAULTS_SIZE`` names: ``ci`` by default (what scripts/test runs), ``issue`` or ``large``."""

from __future__ import annotations

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2] / "bench"))
