"""Agent updates: a new release of the agent's own code, staged beside the one running, tried, then
kept or rolled back (docs/agent.md, "Updates").

A release is the project's wheel (``loa-<version>-py3-none-any.whl``), announced by a signed ``update``
command with its URL, size and sha256; the box fetches it like media (bearer token, resumable,
verified). Only the agent's own pure-Python packages are taken from it, into
``<data_dir>/releases/<version>/``; its third-party dependencies must already be installed (the box's
virtualenv), and a release that needs another one is refused before anything changes.

``update.json`` records which release runs (``current``, or the installed package when none), the one
before it (``previous``) and the release on trial. The launcher (``edge_agent.launcher``, what systemd
starts) counts every start of a release on trial and, after ``MAX_TRIAL_STARTS``, goes back to the
previous one. A release on trial confirms itself once it has been connected to the broker for a while;
one that crashes, hangs (no watchdog) or never connects is rolled back. Either way the outcome becomes a
receipt for the update command: ``command_done``, or ``failed`` with ``update_rolled_back:<version>``.
"""

from __future__ import annotations

import logging
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path, PurePosixPath

import msgspec
from msgspec.structs import replace

from playlists.files import atomic_write_bytes

log = logging.getLogger(__name__)

UPDATE_FILE = "update.json"
RELEASES_DIR = "releases"
PACKAGES = ("edge_agent", "playlists")  # what ``python -m edge_agent`` imports of ours
DISTRIBUTION = "loa"
MAX_TRIAL_STARTS = 3
MAX_WHEEL_BYTES = 50 * 1024 * 1024
SMOKE_TIMEOUT_S = 120
_VERSION = re.compile(r"^[0-9A-Za-z][0-9A-Za-z.+!_-]{0,63}$")


class UpdateError(Exception):
    """An update refused; ``code`` goes into the failed receipt (``update_failed:<code>``)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


class Trial(msgspec.Struct, frozen=True):
    version: str
    command_id: str
    starts: int = 0


class Outcome(msgspec.Struct, frozen=True):
    """How an update ended, waiting to be reported as a receipt for its command."""

    command_id: str
    version: str
    ok: bool
    reason: str | None = None


class UpdateState(msgspec.Struct, frozen=True):
    current: str | None = None  # the release that runs; None: the installed package
    previous: str | None = None  # where a failed trial goes back to
    trial: Trial | None = None
    outcome: Outcome | None = None


class Releases:
    """The releases folder and ``update.json`` of one box."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / RELEASES_DIR
        self.state_path = data_dir / UPDATE_FILE

    def state(self) -> UpdateState:
        try:
            return msgspec.json.decode(self.state_path.read_bytes(), type=UpdateState)
        except FileNotFoundError:
            return UpdateState()
        except (OSError, msgspec.DecodeError) as exc:  # whole or absent, but a disk can still lie
            log.error("%s unreadable (%s): running the installed agent", self.state_path, exc)
            return UpdateState()

    def save(self, state: UpdateState) -> None:
        atomic_write_bytes(self.state_path, msgspec.json.encode(state))

    def path(self, version: str) -> Path:
        return self.root / version

    # -- on the running agent -----------------------------------------------------------------

    def stage(self, wheel: Path, *, version: str, command_id: str) -> None:
        """Check ``wheel`` and unpack it as release ``version``, on trial from the next start.

        Raises UpdateError (nothing changed) when the wheel is not a loa release of that version,
        needs a dependency the box lacks, or does not even import.
        """
        if not _VERSION.match(version) or version in (".", ".."):
            raise UpdateError("bad_version", f"unusable version {version!r}")
        import zipfile  # here, not at import: the running agent stays small

        members = _release_members(wheel, version)
        staging = self.root / f".staging-{version}"
        shutil.rmtree(staging, ignore_errors=True)
        staging.mkdir(parents=True)
        try:
            with zipfile.ZipFile(wheel) as archive:
                for name in members:
                    archive.extract(name, staging)
            _smoke_test(staging)
            target = self.path(version)
            shutil.rmtree(target, ignore_errors=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        state = self.state()
        trial = Trial(version=version, command_id=command_id)
        self.save(UpdateState(current=version, previous=state.current, trial=trial))
        self._prune(keep={version, state.current})
        log.warning("release %s staged; on trial from the next start", version)

    def confirm(self, running_version: str) -> bool:
        """The release on trial works (it is the one running and it reached the broker): keep it."""
        state = self.state()
        trial = state.trial
        if trial is None or trial.version != running_version:
            return False
        kept = Outcome(command_id=trial.command_id, version=trial.version, ok=True)
        self.save(replace(state, trial=None, outcome=kept))
        log.warning("release %s confirmed", running_version)
        return True

    def on_trial(self, running_version: str) -> bool:
        trial = self.state().trial
        return trial is not None and trial.version == running_version

    def outcome(self) -> Outcome | None:
        return self.state().outcome

    def clear_outcome(self) -> None:
        state = self.state()
        if state.outcome is not None:
            self.save(replace(state, outcome=None))

    # -- in the launcher ----------------------------------------------------------------------

    def launch(self) -> Path | None:
        """Which release to start now (None: the installed package); counts a start of a release on
        trial, and rolls back once it has had ``MAX_TRIAL_STARTS``."""
        state = self.state()
        if state.trial is not None:
            trial = state.trial
            if trial.starts >= MAX_TRIAL_STARTS:
                back = state.previous or "the installed agent"
                log.error("release %s started %d times: back to %s", trial.version, trial.starts, back)
                state = UpdateState(
                    current=state.previous,
                    outcome=Outcome(
                        command_id=trial.command_id, version=trial.version, ok=False, reason="rolled_back"
                    ),
                )
            else:
                state = replace(state, trial=replace(trial, starts=trial.starts + 1))
            self.save(state)
        if state.current is None:
            return None
        release = self.path(state.current)
        if not (release / "edge_agent" / "__init__.py").is_file():
            log.error("release %s is missing: running the installed agent", state.current)
            return None
        return release

    def _prune(self, keep: set[str | None]) -> None:
        if not self.root.is_dir():
            return
        for folder in self.root.iterdir():
            if folder.is_dir() and folder.name not in keep and not folder.name.startswith("."):
                shutil.rmtree(folder, ignore_errors=True)


def wheel_version(wheel: Path) -> str:
    """The version of a ``loa`` wheel (what the controller checks when a release is added)."""
    import zipfile

    try:
        with zipfile.ZipFile(wheel) as archive:
            found = [n for n in archive.namelist() if re.fullmatch(r"[^/]+\.dist-info/METADATA", n)]
            if len(found) != 1:
                raise UpdateError("wrong_release", "not a wheel: no single .dist-info/METADATA")
            fields = _metadata(archive.read(found[0]).decode(errors="replace"))
    except zipfile.BadZipFile as exc:
        raise UpdateError("bad_wheel", f"not a zip file: {exc}") from None
    name, version = fields.get("Name", [""])[0], fields.get("Version", [""])[0]
    if name.lower() != DISTRIBUTION:
        raise UpdateError("wrong_release", f"a wheel of {name or '?'}, not of {DISTRIBUTION}")
    if not _VERSION.match(version):
        raise UpdateError("bad_version", f"unusable version {version!r}")
    _release_members(wheel, version, dependencies=False)  # what a box checks, but its own packages
    return version


def _release_members(wheel: Path, version: str, *, dependencies: bool = True) -> list[str]:
    """The wheel's files to unpack, after checking what it is and what it needs."""
    import zipfile
    from importlib import metadata

    if wheel.stat().st_size > MAX_WHEEL_BYTES:
        raise UpdateError("too_large", f"{wheel.name} is over {MAX_WHEEL_BYTES} bytes")
    try:
        with zipfile.ZipFile(wheel) as archive:
            names = archive.namelist()
            dist_info = f"{DISTRIBUTION}-{version}.dist-info"
            try:
                fields = _metadata(archive.read(f"{dist_info}/METADATA").decode())
            except KeyError:
                raise UpdateError("wrong_release", f"no {dist_info}/METADATA in {wheel.name}") from None
    except zipfile.BadZipFile as exc:
        raise UpdateError("bad_wheel", f"{wheel.name}: {exc}") from None
    if fields.get("Name", [""])[0].lower() != DISTRIBUTION or fields.get("Version", [""])[0] != version:
        raise UpdateError("wrong_release", f"{wheel.name} is not {DISTRIBUTION} {version}")
    for requirement in fields.get("Requires-Dist", []) if dependencies else ():
        name, _, marker = requirement.partition(";")
        if "extra" in marker and "agent" not in marker:
            continue  # the controller's and the developers' dependencies
        project = re.match(r"[A-Za-z0-9][A-Za-z0-9._-]*", name.strip())
        if project is None:
            continue
        try:
            metadata.distribution(project.group())
        except metadata.PackageNotFoundError:
            missing = project.group()
            raise UpdateError("missing_dependency", f"{missing} is not installed on this box") from None
    members = []
    for name in names:
        path = PurePosixPath(name)
        if path.is_absolute() or ".." in path.parts:
            raise UpdateError("bad_wheel", f"unsafe path {name!r} in {wheel.name}")
        if path.parts and (path.parts[0] in PACKAGES or path.parts[0] == dist_info):
            members.append(name)
    if not any(PurePosixPath(n).parts[:2] == ("edge_agent", "__main__.py") for n in members):
        raise UpdateError("wrong_release", f"{wheel.name} holds no agent")
    return members


def _metadata(text: str) -> dict[str, list[str]]:
    """The header fields of a core-metadata file (RFC 822 style, first block only)."""
    fields: dict[str, list[str]] = {}
    for line in text.split("\n\n", 1)[0].splitlines():
        key, sep, value = line.partition(":")
        if sep and not line[:1].isspace():
            fields.setdefault(key.strip(), []).append(value.strip())
    return fields


def _smoke_test(release: Path) -> None:
    """Import the new agent in a fresh interpreter, as the launcher would start it."""
    env = {**os.environ, "PYTHONPATH": str(release), "PYTHONDONTWRITEBYTECODE": "1"}
    probe = "import edge_agent, edge_agent.main, edge_agent.launcher; print(edge_agent.__file__)"
    try:
        done = subprocess.run(
            [sys.executable, "-P", "-c", probe],
            env=env,
            capture_output=True,
            text=True,
            timeout=SMOKE_TIMEOUT_S,
        )
    except subprocess.TimeoutExpired:
        raise UpdateError("broken_release", "importing the new agent hung") from None
    if done.returncode != 0 or not done.stdout.strip().startswith(str(release)):
        tail = (done.stderr or done.stdout).strip().splitlines()[-1:] or ["?"]
        raise UpdateError("broken_release", f"the new agent does not import: {tail[0]}")
