"""``loa install-systemd``: put Loa's units, config snippets, user and folders in place.

Idempotent: a second run changes nothing and says so. Unit files are Loa's and are replaced when
they differ; configuration files (``/etc/loa/controller.env``, the Mosquitto snippet) are the
operator's once written, so they are only created, never overwritten. ``--dry-run`` prints the
plan and touches nothing. ``--root DIR`` installs under DIR instead of ``/`` (a staging tree for a
package or a test): the ``loa`` user is then neither made nor given the files, and systemd is not
reloaded.
"""

from __future__ import annotations

import grp
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

USER = "loa"
HOME = "/var/lib/loa"
BROKER_GROUP = "mosquitto"

# (file in the source tree, where it goes, mode); units and scripts are replaced when they differ
CONTROLLER_UNITS = (
    ("systemd/loa-controller.service", "etc/systemd/system/loa-controller.service", 0o644),
    ("systemd/loa-broker-reload.path", "etc/systemd/system/loa-broker-reload.path", 0o644),
    ("systemd/loa-broker-reload.service", "etc/systemd/system/loa-broker-reload.service", 0o644),
    ("systemd/mosquitto.service.d/loa.conf", "etc/systemd/system/mosquitto.service.d/loa.conf", 0o644),
    ("systemd/loa-backup.service", "etc/systemd/system/loa-backup.service", 0o644),
    ("systemd/loa-backup.timer", "etc/systemd/system/loa-backup.timer", 0o644),
    ("deploy/loa-admin", "usr/local/bin/loa-admin", 0o755),
)
CONTROLLER_CONFIGS = (
    ("deploy/mosquitto/loa.conf", "etc/mosquitto/conf.d/loa.conf", 0o644),
    ("deploy/controller.env", "etc/loa/controller.env", 0o640),
)
AGENT_UNITS = (("systemd/loa-agent.service", "etc/systemd/system/loa-agent.service", 0o644),)


@dataclass(frozen=True)
class Folder:
    path: str
    mode: int
    owner: str  # user
    group: str


CONTROLLER_FOLDERS = (
    Folder("etc/loa", 0o750, "root", USER),
    Folder("etc/loa/tls", 0o750, "root", USER),
    Folder("var/lib/loa", 0o750, USER, USER),
    # The controller writes the broker's password and ACL files here; setgid, so they belong to
    # Mosquitto's group, which reads them (LOA_BROKER_FILES_GROUP=mosquitto).
    Folder("etc/mosquitto/loa", 0o2750, USER, BROKER_GROUP),
    Folder("var/backups/loa", 0o700, USER, USER),
)
AGENT_FOLDERS = (
    Folder("etc/loa", 0o750, "root", USER),
    Folder("var/lib/loa", 0o700, USER, USER),
)


class InstallError(RuntimeError):
    """The installation cannot go on; the message says why."""


@dataclass
class Step:
    """One thing to do; ``action`` None means it is already so."""

    description: str
    action: Callable[[], None] | None


def default_source() -> Path:
    """The source tree this ``loa`` was installed from (it holds systemd/ and deploy/)."""
    return Path(__file__).resolve().parents[1]


def plan(*, root: Path, source: Path, role: str) -> list[Step]:
    """Everything ``install-systemd`` would do, in order."""
    if not (source / "systemd").is_dir():
        raise InstallError(f"no systemd/ folder in {source}: pass --source with Loa's source tree")
    live = root.resolve() == Path("/")
    steps: list[Step] = []
    if live:
        steps += _user_steps(role)
    folders = CONTROLLER_FOLDERS if role == "controller" else AGENT_FOLDERS
    for folder in folders:
        steps.append(_folder_step(root, folder, live=live))
    units = CONTROLLER_UNITS if role == "controller" else AGENT_UNITS
    for src, dest, mode in units:
        steps.append(_copy_step(source / src, root / dest, mode, overwrite=True))
    if role == "controller":
        for src, dest, mode in CONTROLLER_CONFIGS:
            group = USER if dest.startswith("etc/loa/") and live else None
            steps.append(_copy_step(source / src, root / dest, mode, overwrite=False, group=group))
    if live and shutil.which("systemctl") and Path("/run/systemd/system").is_dir():
        steps.append(Step("systemctl daemon-reload", lambda: _run(["systemctl", "daemon-reload"])))
    return steps


def run(steps: list[Step], *, dry_run: bool, say: Callable[[str], None]) -> int:
    """Carry out (or with ``dry_run`` only print) the steps; returns how many changed something."""
    changed = 0
    for step in steps:
        if step.action is None:
            say(f"unchanged  {step.description}")
            continue
        changed += 1
        if dry_run:
            say(f"would      {step.description}")
            continue
        step.action()
        say(f"done       {step.description}")
    return changed


def _user_steps(role: str) -> list[Step]:
    steps = []
    groups = ["audio"] if role == "agent" else []
    if _exists(pwd.getpwnam, USER):
        steps.append(Step(f"system user {USER}", None))
    else:
        command = ["useradd", "--system", "--user-group", "--home-dir", HOME, "--no-create-home"]
        command += ["--shell", "/usr/sbin/nologin", *(["--groups", ",".join(groups)] if groups else []), USER]
        steps.append(Step(f"create system user {USER} ({' '.join(command)})", lambda: _run(command)))
    if role == "controller" and _exists(grp.getgrnam, BROKER_GROUP):
        members = grp.getgrnam(BROKER_GROUP).gr_mem
        description = f"{USER} in group {BROKER_GROUP} (to write the broker's account files)"
        if USER in members:
            steps.append(Step(description, None))
        else:
            steps.append(
                Step(description, lambda: _run(["usermod", "--append", "--groups", BROKER_GROUP, USER]))
            )
    return steps


def _folder_step(root: Path, folder: Folder, *, live: bool) -> Step:
    path = root / folder.path
    owner = f"{folder.owner}:{folder.group}" if live else "owner left as is (--root)"
    description = f"folder /{folder.path} mode {folder.mode:o}, {owner}"

    def make() -> None:
        path.mkdir(parents=True, exist_ok=True)
        ids = _ids(folder) if live else None  # now: the user may have been made by an earlier step
        if ids is not None:
            os.chown(path, *ids)
        path.chmod(folder.mode)

    if path.is_dir():
        info = path.stat()
        same_mode = (info.st_mode & 0o7777) == folder.mode
        if same_mode and (not live or (info.st_uid, info.st_gid) == _ids(folder)):
            return Step(description, None)
    return Step(description, make)


def _ids(folder: Folder) -> tuple[int, int] | None:
    """uid and gid of the folder's owners; None before the user exists (a dry run)."""
    try:
        uid = pwd.getpwnam(folder.owner).pw_uid
        gid = grp.getgrnam(folder.group).gr_gid
    except KeyError:
        if folder.group == BROKER_GROUP:  # no Mosquitto on this host: the folder is the loa user's
            return _ids(Folder(folder.path, folder.mode, folder.owner, USER))
        return None
    return uid, gid


def _copy_step(src: Path, dest: Path, mode: int, *, overwrite: bool, group: str | None = None) -> Step:
    if not src.is_file():
        raise InstallError(f"{src} is missing from the source tree")
    data = src.read_bytes()
    if dest.exists():
        if dest.read_bytes() == data:
            return Step(f"{dest} is up to date", None)
        if not overwrite:
            return Step(f"{dest} kept as you edited it (compare with {src})", None)
    verb = "replace" if dest.exists() else "install"

    def copy() -> None:
        _write(dest, data, mode, group)

    return Step(f"{verb} {dest} (mode {mode:o})", copy)


def _write(dest: Path, data: bytes, mode: int, group: str | None) -> None:
    """Whole or absent: temp, fsync, rename."""
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{dest.name}.", dir=dest.parent)
    try:
        os.fchmod(fd, mode)
        if group is not None and _exists(grp.getgrnam, group):
            os.fchown(fd, -1, grp.getgrnam(group).gr_gid)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, dest)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _exists(lookup: Callable[[str], object], name: str) -> bool:
    try:
        lookup(name)
    except KeyError:
        return False
    return True


def _run(command: list[str]) -> None:
    done = subprocess.run(command, capture_output=True, text=True, check=False)
    if done.returncode != 0:
        raise InstallError(f"{' '.join(command)} failed: {done.stderr.strip() or done.returncode}")
