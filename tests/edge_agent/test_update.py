"""Agent updates: a release is checked before anything changes, tried, kept, or rolled back.

The releases are wheels built here from this repository's own agent code (with another version
number, and for the bad ones a crash or a broken import), the way ``pip wheel`` lays them out.
"""

from __future__ import annotations

import subprocess
import sys
import threading
import time
import zipfile
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from edge_agent import __version__
from edge_agent.launcher import data_dir_of
from edge_agent.update import MAX_TRIAL_STARTS, Releases, UpdateError, UpdateState
from loa.mosquitto import Mosquitto
from playlists.wire import Receipt, Status, decode_json
from tests.edge_agent.conftest import (
    DEVICE_ID,
    ROOT,
    TOPICS,
    Controller,
    MediaServer,
    Probe,
    agent_config,
    now_ms,
)

REQUIRES = (
    "cryptography>=41",
    "msgspec>=0.19",
    'paho-mqtt<3,>=2.1; extra == "agent"',
    'fastapi>=0.115; extra == "controller"',  # not on a box, and not needed by the agent
)


def make_wheel(
    folder: Path,
    version: str,
    *,
    name: str = "loa",
    requires: tuple[str, ...] = REQUIRES,
    main_py: str | None = None,
    broken_import: bool = False,
    extra: dict[str, str] | None = None,
) -> Path:
    """A wheel of this repository's agent, as version ``version``."""
    path = folder / f"{name}-{version}-py3-none-any.whl"
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as wheel:
        for package in ("edge_agent", "playlists"):
            for source in sorted((ROOT / package).rglob("*.py")):
                arcname = source.relative_to(ROOT).as_posix()
                text = source.read_text()
                if arcname == "edge_agent/__init__.py":
                    text = text.replace(f'__version__ = "{__version__}"', f'__version__ = "{version}"')
                elif arcname == "edge_agent/__main__.py" and main_py is not None:
                    text = main_py
                elif arcname == "edge_agent/main.py" and broken_import:
                    text = "raise ImportError('this release is broken')\n" + text
                wheel.writestr(arcname, text)
        meta = ["Metadata-Version: 2.1", f"Name: {name}", f"Version: {version}"]
        meta += [f"Requires-Dist: {r}" for r in requires]
        wheel.writestr(f"{name}-{version}.dist-info/METADATA", "\n".join(meta) + "\n\nThe description.\n")
        wheel.writestr(f"{name}-{version}.dist-info/WHEEL", "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n")
        for arcname, text in (extra or {}).items():
            wheel.writestr(arcname, text)
    return path


@pytest.fixture(scope="module")
def wheels(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("wheels")
    return {
        "good": make_wheel(folder, "9.1.0"),
        "crash": make_wheel(folder, "9.2.0", main_py="raise SystemExit(3)\n"),
        "broken": make_wheel(folder, "9.3.0", broken_import=True),
    }


def test_a_release_is_staged_tried_and_kept(tmp_path: Path, wheels: dict[str, Path]) -> None:
    releases = Releases(tmp_path)
    assert releases.launch() is None, "no update yet: the installed agent runs"
    releases.stage(wheels["good"], version="9.1.0", command_id="cmd-1")
    release = releases.launch()
    assert release == tmp_path / "releases" / "9.1.0"
    assert (release / "edge_agent" / "__init__.py").read_text().count('"9.1.0"') == 1
    assert not (release / "controller").exists(), "only the agent's own packages are unpacked"
    assert releases.state().trial is not None and releases.state().trial.starts == 1
    assert releases.on_trial("9.1.0")
    assert not releases.confirm("0.0.1"), "only the release on trial can confirm itself"
    assert releases.confirm("9.1.0")
    state = releases.state()
    assert state.trial is None and state.current == "9.1.0" and state.previous is None
    assert state.outcome is not None and state.outcome.ok and state.outcome.command_id == "cmd-1"
    releases.clear_outcome()
    assert releases.launch() == release, "a kept release starts without counting"
    assert releases.state() == UpdateState(current="9.1.0")


def test_a_release_that_keeps_failing_is_rolled_back(tmp_path: Path, wheels: dict[str, Path]) -> None:
    releases = Releases(tmp_path)
    releases.stage(wheels["good"], version="9.1.0", command_id="cmd-1")
    releases.launch()
    releases.confirm("9.1.0")
    releases.clear_outcome()
    releases.stage(wheels["crash"], version="9.2.0", command_id="cmd-2")
    for _start in range(MAX_TRIAL_STARTS):
        assert releases.launch() == tmp_path / "releases" / "9.2.0"
    assert releases.launch() == tmp_path / "releases" / "9.1.0", "back to the release before"
    state = releases.state()
    assert state.current == "9.1.0" and state.trial is None
    assert state.outcome is not None and not state.outcome.ok
    assert (state.outcome.command_id, state.outcome.version) == ("cmd-2", "9.2.0")


@pytest.mark.parametrize(
    ("kind", "code"),
    [
        ("wrong_version", "wrong_release"),
        ("other_project", "wrong_release"),
        ("missing_dependency", "missing_dependency"),
        ("path_escape", "bad_wheel"),
        ("not_a_zip", "bad_wheel"),
        ("broken", "broken_release"),
    ],
)
def test_a_bad_release_is_refused_and_nothing_changes(
    tmp_path: Path, wheels: dict[str, Path], kind: str, code: str
) -> None:
    folder = tmp_path / "bad"
    folder.mkdir()
    wheel = {
        "wrong_version": lambda: make_wheel(folder, "9.4.0"),
        "other_project": lambda: make_wheel(folder, "9.5.0", name="evil"),
        "missing_dependency": lambda: make_wheel(folder, "9.5.0", requires=("no-such-package-loa-test>=1",)),
        "path_escape": lambda: make_wheel(folder, "9.5.0", extra={"../../escape.py": "x = 1\n"}),
        "not_a_zip": lambda: _write(folder / "loa-9.5.0-py3-none-any.whl", b"not a zip"),
        "broken": lambda: wheels["broken"],
    }[kind]()
    version = "9.3.0" if kind == "broken" else "9.5.0"
    releases = Releases(tmp_path / "box")
    with pytest.raises(UpdateError) as refused:
        releases.stage(wheel, version=version, command_id="cmd-x")
    assert refused.value.code == code
    assert releases.state() == UpdateState() and not (tmp_path / "box" / "update.json").exists()
    assert not (tmp_path / "escape.py").exists() and not (tmp_path / "box" / "escape.py").exists()
    assert releases.launch() is None


def test_a_damaged_state_file_runs_the_installed_agent(tmp_path: Path) -> None:
    (tmp_path / "update.json").write_text('{"current": ')
    assert Releases(tmp_path).launch() is None


def test_the_launcher_reads_data_dir_relative_to_the_config(tmp_path: Path) -> None:
    config = tmp_path / "etc" / "agent.toml"
    config.parent.mkdir()
    config.write_text('device_id = "box-1"\ndata_dir = "../state"\nfuture_key = 1\n')
    assert data_dir_of(config) == tmp_path / "etc" / ".." / "state"
    config.write_text("not toml [")
    assert data_dir_of(config) is None


# -- the whole story, with the launcher restarted like systemd does it ---------------------------


class Supervisor:
    """``Restart=always`` for the launcher: start it again whenever it exits, and note exit codes."""

    def __init__(self, config_path: Path, log_path: Path) -> None:
        self.config_path, self.log_path = config_path, log_path
        self.exit_codes: list[int] = []
        self._stop = threading.Event()
        self._process: subprocess.Popen[bytes] | None = None
        self._thread = threading.Thread(target=self._loop, daemon=True)

    def start(self) -> Supervisor:
        self._thread.start()
        return self

    def _loop(self) -> None:
        while not self._stop.is_set():
            with self.log_path.open("ab") as log:
                self._process = subprocess.Popen(
                    [sys.executable, "-m", "edge_agent.launcher", "--config", str(self.config_path)],
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                )
            code = self._process.wait()
            if not self._stop.is_set():
                self.exit_codes.append(code)
            self._stop.wait(0.2)

    def stop(self) -> None:
        self._stop.set()
        if self._process is not None and self._process.poll() is None:
            self._process.terminate()
        self._thread.join(20)


@pytest.fixture
def supervised(
    tmp_path: Path, broker: Mosquitto, media_server: MediaServer, controller: Controller
) -> Iterator[Supervisor]:
    from edge_agent.config import write_config

    config = agent_config(
        tmp_path,
        broker_port=broker.port,
        media_url=media_server.url,
        controller=controller,
        update_confirm_s=2,
        update_trial_s=60,
    )
    path = tmp_path / "agent.toml"
    write_config(path, config)
    supervisor = Supervisor(path, tmp_path / "agent.log").start()
    yield supervisor
    supervisor.stop()


def test_an_update_command_moves_the_box_on_and_a_bad_one_comes_back(
    supervised: Supervisor,
    probe_factory: Callable[..., Probe],
    controller: Controller,
    media_server: MediaServer,
    wheels: dict[str, Path],
) -> None:
    probe = probe_factory([TOPICS.status(DEVICE_ID), TOPICS.report(DEVICE_ID)])

    def running(version: str) -> Callable[[str, bytes], bool]:
        def match(topic: str, payload: bytes) -> bool:
            if topic != TOPICS.status(DEVICE_ID) or not payload:
                return False
            status = decode_json(Status, payload)
            return status.state == "online" and status.agent_version == version

        return match

    def receipt_for(command_id: str) -> Callable[[str, bytes], bool]:
        def match(topic: str, payload: bytes) -> bool:
            return topic == TOPICS.report(DEVICE_ID) and _receipt(payload).command_id == command_id

        return match

    def update(kind: str, version: str) -> str:
        data = wheels[kind].read_bytes()
        ref = media_server.add(data, mime="application/zip")
        args = {"version": version, "url": ref.url, "sha256": ref.sha256, "bytes": ref.bytes}
        command = controller.command(now_ms=now_ms(), name="update", args=args)
        probe.publish(TOPICS.command(DEVICE_ID), controller.sign(command))
        return command.id

    probe.wait_for(running(__version__), timeout_s=30)
    kept = update("good", "9.1.0")
    probe.wait_for(running("9.1.0"), timeout_s=60)
    _topic, payload = probe.wait_for(receipt_for(kept), timeout_s=30)
    assert _receipt(payload).event == "command_done", "kept once connected for update_confirm_s"

    failing = update("crash", "9.2.0")
    _topic, payload = probe.wait_for(receipt_for(failing), timeout_s=90)
    receipt = _receipt(payload)
    assert (receipt.event, receipt.reason) == ("failed", "update_rolled_back:9.2.0")
    probe.wait_for(running("9.1.0"), timeout_s=30)
    assert supervised.exit_codes.count(3) == MAX_TRIAL_STARTS, supervised.exit_codes
    assert supervised.exit_codes[:2] == [75, 75], "each update restarts the agent on purpose"
    time.sleep(0.5)
    assert Releases(supervised.config_path.parent / "box").state().current == "9.1.0"


def _receipt(payload: bytes) -> Receipt:
    import json

    from playlists.wire import decode

    return decode(Receipt, json.loads(payload)["payload"])


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path
