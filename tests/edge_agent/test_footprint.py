"""The box's memory budget (issue #5: ≤ 40 MB idle): the agent imports none of the controller's stack.

Checked in a fresh interpreter, since this test process has the controller loaded already.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER_STACK = ("pydantic", "pydantic_core", "fastapi", "starlette", "sqlalchemy", "sqlmodel", "jinja2")


def _run(code: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=60, check=False
    )


def test_the_agent_imports_nothing_of_the_controllers_stack():
    result = _run(
        "import sys, edge_agent.main\n"
        f"loaded = [m for m in {CONTROLLER_STACK!r} if m in sys.modules]\n"
        "assert not loaded, loaded"
    )

    assert result.returncode == 0, result.stderr


def test_loading_the_device_key_leaves_crypto_serialization_unloaded(tmp_path):
    # cryptography's serialization package costs ~2 MB resident; the box's own PEM needs none of it.
    result = _run(
        "import sys\n"
        "from pathlib import Path\n"
        "import edge_agent.main\n"
        "from edge_agent.identity import load_or_create_device_key\n"
        f"load_or_create_device_key(Path({str(tmp_path)!r}))\n"
        f"load_or_create_device_key(Path({str(tmp_path)!r}))\n"
        "assert 'cryptography.hazmat.primitives.serialization' not in sys.modules"
    )

    assert result.returncode == 0, result.stderr
