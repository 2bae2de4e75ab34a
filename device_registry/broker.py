"""Mosquitto's password and ACL files, built from the device registry, so the broker lets no one in
where they don't belong.

Accounts. Each box logs in with its device id as username and a random password the controller
hands it once at enrolment; the controller keeps only the Mosquitto hash (``$7$`` format, made
here with hashlib, identical to what ``mosquitto_passwd`` 2.x writes). The controller has its own
account, whose name can never be a device id (it must contain a character that device ids
cannot, such as ``_``): ``pattern`` lines apply to every user, and a box named like the controller
would otherwise share its rules and its password-file line.

Rules (the ACL file; nothing is granted that is not listed, anonymous access is off):

- a box reads its own ``timeline``, ``command`` and ``ack`` and the ``command`` topic of each of
  its zones, and writes only its own ``status`` (also its will) and ``report``; the own-topic rules
  are ``pattern`` lines with ``%u``, the zones a ``user`` block per box;
- the controller reads every box's ``status`` and ``report`` and writes every box's ``timeline``,
  ``command`` and ``ack`` and every zone's ``command``.

How Mosquitto 2.0.11 enforces them (tests/device_registry/test_broker_acl.py): a refused PUBLISH
gets PUBACK "not authorised" and reaches no one; every SUBSCRIBE is granted, but nothing the
subscriber may not read is delivered, retained messages included; a will on a topic the box may
not write is accepted at CONNECT and silently dropped when it would be published.

Revocation. A revoked box is left out of both files. On reload (SIGHUP) Mosquitto 2.0.11 re-checks
every connected client's username and password against the new password file and at once closes
the connection of those that no longer match (observed: within ~0.1 s of the SIGHUP; paho reports
"unspecified error"; other clients stay connected); their next CONNECT is refused "not authorised".
So a reload is all it takes: no session takeover or broker restart is needed. A changed password
cuts the box off the same way. The box's will is *not* published when the broker cuts it off, so
the controller marks a revoked box offline itself. ACL changes (a box moved to another zone) apply
on reload to connected clients too, message by message, without a reconnect.

The broker must be able to read both files after a reload. Mosquitto started as root drops to the
``mosquitto`` user; if that user cannot read the password file on reload, Mosquitto (observed with
2.0.11) disconnects *every* client. Files are written atomically (a reload never sees half a file),
mode 0600 by default, and given to the broker's user with ``owner=(uid, gid)`` when the controller
may do so; a controller that runs as another, unprivileged user writes ``mode=0o640,
owner=(-1, <mosquitto's gid>)`` and belongs to that group.

Recommended broker settings besides ``password_file`` and ``acl_file``: ``allow_anonymous false``,
and ``use_username_as_clientid true`` so that one box cannot take over another's client id (which
would kick the other off and resume its session). With it, two controller processes sharing one
account would kick each other: each needs its own account then.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import os
import re
import secrets
import signal
import tempfile
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from device_registry.credentials import valid_device_id
from playlists.files import fsync_dir
from playlists.wire import Topics

__all__ = [
    "BoxAccount",
    "BrokerAccounts",
    "BrokerConfigError",
    "ControllerAccount",
    "acl_file_text",
    "apply_broker_accounts",
    "mosquitto_hash",
    "password_file_text",
    "password_matches",
    "reload_broker",
    "valid_zone_code",
    "write_broker_files",
]

# What mosquitto_passwd 2.0 uses. The passwords are random 256-bit tokens made by the controller,
# not human choices, so stretching adds no safety; a low count keeps thousands of reconnects cheap.
DEFAULT_ITERATIONS = 101
_SALT_BYTES = 12
# $6$<salt>$<sha512(password + salt)> (Mosquitto 1.x) or $7$<iterations>$<salt>$<pbkdf2-sha512>.
_HASH_RE = re.compile(
    r"^(?:\$6\$|\$7\$(?P<iterations>[1-9][0-9]{0,6})\$)"
    r"(?P<salt>[A-Za-z0-9+/]+={0,2})\$(?P<hash>[A-Za-z0-9+/]+={0,2})$"
)
# Zone codes become one level of an MQTT topic: no wildcards, separators or spaces.
ZONE_CODE_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")
_USERNAME_RE = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_ROOT_RE = re.compile(r"^[A-Za-z0-9_.-]+(?:/[A-Za-z0-9_.-]+)*$")


class BrokerConfigError(ValueError):
    """The registry holds something that cannot go into a broker file safely; the message says what."""


@dataclass(frozen=True, kw_only=True)
class BoxAccount:
    """One box's broker account: username = device id, the Mosquitto hash of its password, the
    codes of the zones whose commands it obeys, and whether it has been revoked."""

    device_id: str
    password_hash: str
    zones: tuple[str, ...] = ()
    revoked: bool = False


@dataclass(frozen=True, kw_only=True)
class ControllerAccount:
    """The controller's broker account; its username must not be a possible device id."""

    username: str
    password_hash: str


@dataclass(frozen=True, kw_only=True)
class BrokerAccounts:
    """Everything the broker files are built from."""

    controller: ControllerAccount
    boxes: tuple[BoxAccount, ...]
    topic_root: str = "loa/v1"
    replicas: tuple[ControllerAccount, ...] = ()
    """Accounts of further controller replicas, with the controller's rights: replicas need a
    username each, because ``use_username_as_clientid`` makes one username one connection."""

    @property
    def controllers(self) -> tuple[ControllerAccount, ...]:
        return (self.controller, *self.replicas)


def mosquitto_hash(password: str, *, iterations: int = DEFAULT_ITERATIONS, salt: bytes | None = None) -> str:
    """The ``$7$`` PBKDF2-SHA512 hash Mosquitto 2.x checks passwords against."""
    if not 1 <= iterations <= 9_999_999:
        raise ValueError("iterations must be between 1 and 9999999")
    salt = secrets.token_bytes(_SALT_BYTES) if salt is None else salt
    digest = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, iterations, dklen=64)
    return f"$7${iterations}${_b64(salt)}${_b64(digest)}"


def valid_zone_code(code: str) -> bool:
    """Whether ``code`` can name a zone in topics (letters, digits, ``-`` and ``_``)."""
    return bool(ZONE_CODE_RE.match(code))


def password_matches(password: str, stored: str) -> bool:
    """Whether ``password`` is the one behind a Mosquitto ``$6$`` or ``$7$`` hash."""
    match = _HASH_RE.match(stored)
    if match is None:
        return False
    try:
        salt = base64.b64decode(match["salt"], validate=True)
        expected = base64.b64decode(match["hash"], validate=True)
    except binascii.Error:
        return False
    if match["iterations"] is None:
        actual = hashlib.sha512(password.encode() + salt).digest()
    else:
        actual = hashlib.pbkdf2_hmac("sha512", password.encode(), salt, int(match["iterations"]), dklen=64)
    return hmac.compare_digest(actual, expected)


def password_file_text(accounts: BrokerAccounts) -> str:
    """The password file: the controller, then every box not revoked, sorted by device id."""
    _check(accounts)
    lines = [f"{controller.username}:{controller.password_hash}" for controller in accounts.controllers]
    lines += [f"{box.device_id}:{box.password_hash}" for box in _active(accounts.boxes)]
    return "\n".join(lines) + "\n"


def acl_file_text(accounts: BrokerAccounts) -> str:
    """The ACL file: boxes' own topics by pattern, the controller's rights, each box's zones."""
    _check(accounts)
    topics = Topics(accounts.topic_root)
    own = topics.timeline("%u"), topics.command("%u"), topics.ack("%u")
    lines = [
        "# Generated by Loa from the device registry; edits are overwritten.",
        "# Every box: its own topics (%u is the username, which is the device id).",
        *(f"pattern read {topic}" for topic in own),
        f"pattern write {topics.status('%u')}",
        f"pattern write {topics.report('%u')}",
    ]
    for controller in accounts.controllers:
        lines += [
            "",
            "# The controller." if controller is accounts.controller else "# A controller replica.",
            f"user {controller.username}",
            f"topic read {topics.status('+')}",
            f"topic read {topics.report('+')}",
            f"topic write {topics.timeline('+')}",
            f"topic write {topics.command('+')}",
            f"topic write {topics.ack('+')}",
            f"topic write {topics.zone_command('+')}",
        ]
    for box in _active(accounts.boxes):
        if box.zones:
            lines += ["", f"user {box.device_id}"]
            lines += [f"topic read {topics.zone_command(zone)}" for zone in sorted(set(box.zones))]
    return "\n".join(lines) + "\n"


def write_broker_files(
    accounts: BrokerAccounts,
    *,
    password_file: Path,
    acl_file: Path,
    owner: tuple[int, int] | None = None,
    mode: int = 0o600,
) -> None:
    """Write both files whole or not at all (temp, fsync, rename) with ``mode``, owned by ``owner``
    (uid, gid; -1 keeps one) when given."""
    if mode & 0o137:
        raise BrokerConfigError(f"mode {mode:o} lets others than the broker read or change the files")
    acl = acl_file_text(accounts)
    passwords = password_file_text(accounts)
    _write_private(acl_file, acl.encode(), owner, mode)
    _write_private(password_file, passwords.encode(), owner, mode)


def reload_broker(broker: int | Path | Callable[[], None]) -> None:
    """Make Mosquitto re-read its files: SIGHUP to a pid, to the pid in a pid file, or call ``broker``."""
    if callable(broker):
        broker()
        return
    pid = broker if isinstance(broker, int) else int(broker.read_text().strip())
    os.kill(pid, signal.SIGHUP)


def apply_broker_accounts(
    accounts: BrokerAccounts,
    *,
    password_file: Path,
    acl_file: Path,
    reload: int | Path | Callable[[], None],
    owner: tuple[int, int] | None = None,
    mode: int = 0o600,
) -> None:
    """Write the files and reload the broker: new boxes may log in, revoked ones are cut off at once."""
    write_broker_files(accounts, password_file=password_file, acl_file=acl_file, owner=owner, mode=mode)
    reload_broker(reload)


def _active(boxes: Iterable[BoxAccount]) -> list[BoxAccount]:
    return sorted((box for box in boxes if not box.revoked), key=lambda box: box.device_id)


def _check(accounts: BrokerAccounts) -> None:
    # Every value lands inside a line of a file Mosquitto parses: refuse anything that could add a
    # line, a wildcard or a separator.
    if not _ROOT_RE.match(accounts.topic_root):
        raise BrokerConfigError(f"topic root {accounts.topic_root!r} must be plain topic levels")
    seen: set[str] = set()
    for controller in accounts.controllers:
        if not _USERNAME_RE.match(controller.username) or valid_device_id(controller.username):
            raise BrokerConfigError(
                f"controller username {controller.username!r} must be letters, digits, _.@- and "
                "must not be a possible device id (put an _ in it)"
            )
        if controller.username in seen:
            raise BrokerConfigError(f"controller username {controller.username!r} appears twice")
        seen.add(controller.username)
        _check_hash(controller.username, controller.password_hash)
    for box in accounts.boxes:
        if not valid_device_id(box.device_id):
            raise BrokerConfigError(f"device id {box.device_id!r} is not valid")
        if box.device_id in seen:
            raise BrokerConfigError(f"device id {box.device_id!r} appears twice")
        seen.add(box.device_id)
        _check_hash(box.device_id, box.password_hash)
        for zone in box.zones:
            if not valid_zone_code(zone):
                raise BrokerConfigError(f"box {box.device_id}: zone code {zone!r} is not valid")


def _check_hash(username: str, password_hash: str) -> None:
    if not _HASH_RE.match(password_hash):
        raise BrokerConfigError(f"account {username}: password hash is not in Mosquitto's $6$/$7$ format")


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode()


def _write_private(path: Path, data: bytes, owner: tuple[int, int] | None, mode: int) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        if owner is not None:
            os.fchown(fd, *owner)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    fsync_dir(path.parent)
