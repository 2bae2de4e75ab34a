"""The durable outbox of signed receipts (invariant 2: no report is lost or doubled).

A receipt is numbered, signed and committed (SQLite, WAL, synchronous=FULL) before anything else
happens; it leaves the outbox only when the controller's ack covers its seq. The same transaction can
mark a timeline item as handled (so that after a power cut an item already played is not played
again), note what is on air (so that a crash mid-item still ends in an ``interrupted`` receipt) and
mark a command done. Accepted command ids are kept for their validity window: a replay is refused.
"""

from __future__ import annotations

import json
import logging
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Literal

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from msgspec.structs import replace

from edge_agent.clock import Clock
from playlists.signing import sign
from playlists.wire import Receipt, ReceiptEvent, decode, decode_json, to_json

log = logging.getLogger(__name__)

OUTBOX_FILE = "outbox.db"
HANDLED_KEEP_MS = 30 * 24 * 3600 * 1000
COMMAND_KEEP_MS = 7 * 24 * 3600 * 1000  # past its expiry (plus this margin) a command is refused anyway
MAX_REASON = 500

_SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS receipts (seq INTEGER PRIMARY KEY, envelope BLOB NOT NULL);
CREATE TABLE IF NOT EXISTS handled (
    item_id TEXT PRIMARY KEY, scheduled_at_ms INTEGER, handled_at_ms INTEGER NOT NULL
);
CREATE TABLE IF NOT EXISTS commands (
    id TEXT PRIMARY KEY, expires_at_ms INTEGER NOT NULL, accepted_at_ms INTEGER NOT NULL,
    done INTEGER NOT NULL DEFAULT 0
);
CREATE TABLE IF NOT EXISTS on_air (slot INTEGER PRIMARY KEY CHECK (slot = 1), receipt TEXT NOT NULL);
"""

ReceiptListener = Callable[[Receipt, bytes], None]
Airing = Literal["start", "end"]


class Outbox:
    """Signed receipts waiting for the controller's ack, handled items, accepted commands."""

    def __init__(self, path: Path, *, device_id: str, private_key: Ed25519PrivateKey, clock: Clock) -> None:
        self.path = path
        self._device_id = device_id
        self._key = private_key
        self._clock = clock
        self._lock = threading.Lock()
        self._listeners: list[ReceiptListener] = []
        self.reset_from: Path | None = None  # where an unreadable outbox was moved aside, if it was
        self._db = self._open(path)
        with self._lock, self._transaction():
            now = clock.now_ms()
            self._db.execute("DELETE FROM handled WHERE handled_at_ms < ?", (now - HANDLED_KEEP_MS,))
            self._db.execute(
                "DELETE FROM commands WHERE done = 1 AND expires_at_ms < ?", (now - COMMAND_KEEP_MS,)
            )

    def _open(self, path: Path) -> sqlite3.Connection:
        path.parent.mkdir(parents=True, exist_ok=True)
        try:
            return _connect(path)
        except sqlite3.DatabaseError as exc:
            # Playing on matters more than this file; the ack handling re-numbers what follows.
            aside = path.with_name(f"{path.name}.corrupt-{int(time.time())}")
            log.critical("outbox %s is unreadable (%s); moved to %s, starting a new one", path, exc, aside)
            path.rename(aside)
            for suffix in ("-wal", "-shm"):
                path.with_name(path.name + suffix).unlink(missing_ok=True)
            self.reset_from = aside
            return _connect(path)

    def add_listener(self, callback: ReceiptListener) -> None:
        """Call ``callback(receipt, envelope)`` after each receipt is committed (to publish it)."""
        self._listeners.append(callback)

    def append(
        self,
        *,
        event: ReceiptEvent,
        item_id: str | None = None,
        timeline_version: int | None = None,
        scheduled_at_ms: int | None = None,
        started_at_ms: int | None = None,
        ended_at_ms: int | None = None,
        media_sha256: str | None = None,
        reason: str | None = None,
        command_id: str | None = None,
        seconds_aired: float | None = None,
        handled: bool = False,
        airing: Airing | None = None,
        command_done: bool = False,
    ) -> Receipt:
        """Number, sign and commit a receipt, atomically with its side notes.

        ``handled`` marks ``item_id`` handled; ``airing="start"`` notes the receipt as what is on air,
        ``airing="end"`` clears that note; ``command_done`` marks ``command_id`` done.
        """
        if handled and item_id is None:
            raise ValueError("handled=True needs an item_id")
        if command_done and command_id is None:
            raise ValueError("command_done=True needs a command_id")
        with self._lock, self._transaction():
            seq = self._last_seq() + 1
            receipt = Receipt(
                device_id=self._device_id,
                seq=seq,
                event=event,
                item_id=item_id,
                timeline_version=timeline_version,
                scheduled_at_ms=scheduled_at_ms,
                started_at_ms=started_at_ms,
                ended_at_ms=ended_at_ms,
                media_sha256=media_sha256,
                reason=reason[:MAX_REASON] if reason is not None else None,
                command_id=command_id,
                seconds_aired=round(seconds_aired, 3) if seconds_aired is not None else None,
                recorded_at_ms=self._clock.now_ms(),
            )
            envelope = sign(receipt, self._key, self._device_id)
            self._db.execute("INSERT INTO receipts (seq, envelope) VALUES (?, ?)", (seq, envelope))
            self._set_last_seq(seq)
            if handled:
                self._db.execute(
                    "INSERT OR IGNORE INTO handled (item_id, scheduled_at_ms, handled_at_ms)"
                    " VALUES (?, ?, ?)",
                    (item_id, scheduled_at_ms, receipt.recorded_at_ms),
                )
            if airing == "start":
                self._db.execute(
                    "INSERT OR REPLACE INTO on_air (slot, receipt) VALUES (1, ?)",
                    (to_json(receipt).decode(),),
                )
            elif airing == "end":
                self._db.execute("DELETE FROM on_air")
            if command_done:
                self._db.execute("UPDATE commands SET done = 1 WHERE id = ?", (command_id,))
        log.info(
            "receipt %d %s item=%s command=%s reason=%s",
            seq,
            event,
            item_id,
            command_id,
            reason,
            extra={"device": self._device_id, "seq": seq, "item": item_id},
        )
        for callback in self._listeners:
            try:
                callback(receipt, envelope)
            except Exception:
                log.exception("receipt listener failed for seq %d", seq)
        return receipt

    def recover(self) -> list[Receipt]:
        """After a crash: close what was on air and the commands left unfinished, with receipts."""
        with self._lock:
            on_air = self._db.execute("SELECT receipt FROM on_air").fetchone()
            unfinished = self._db.execute(
                "SELECT id FROM commands WHERE done = 0 ORDER BY accepted_at_ms"
            ).fetchall()
        written = []
        if on_air is not None:
            started = decode_json(Receipt, on_air[0])
            written.append(
                self.append(
                    event="interrupted",
                    item_id=started.item_id,
                    timeline_version=started.timeline_version,
                    scheduled_at_ms=started.scheduled_at_ms,
                    started_at_ms=started.started_at_ms,
                    media_sha256=started.media_sha256,
                    command_id=started.command_id,
                    reason="agent_restarted",
                    airing="end",
                )
            )
        for (command_id,) in unfinished:
            written.append(
                self.append(
                    event="failed", command_id=command_id, reason="agent_restarted", command_done=True
                )
            )
        return written

    def accept_command(self, command_id: str, *, expires_at_ms: int) -> bool:
        """Remember ``command_id`` before executing it; False if it was accepted before (a replay)."""
        with self._lock, self._transaction():
            cursor = self._db.execute(
                "INSERT OR IGNORE INTO commands (id, expires_at_ms, accepted_at_ms) VALUES (?, ?, ?)",
                (command_id, expires_at_ms, self._clock.now_ms()),
            )
        return cursor.rowcount == 1

    def settle_command(self, command_id: str) -> None:
        """Mark an accepted command finished without a receipt: one whose receipt comes later by
        another way (an update's, once its trial ends), so a restart does not report it failed."""
        with self._lock, self._transaction():
            self._db.execute("UPDATE commands SET done = 1 WHERE id = ?", (command_id,))

    def command_seen(self, command_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM commands WHERE id = ?", (command_id,)).fetchone()
        return row is not None

    def pending(self, *, from_seq: int = 1, limit: int | None = None) -> list[tuple[int, bytes]]:
        """Unacknowledged receipts as (seq, signed envelope), in seq order."""
        with self._lock:
            rows = self._db.execute(
                "SELECT seq, envelope FROM receipts WHERE seq >= ? ORDER BY seq LIMIT ?",
                (from_seq, -1 if limit is None else limit),
            ).fetchall()
        return [(int(seq), bytes(envelope)) for seq, envelope in rows]

    def pending_seqs(self) -> list[int]:
        """The seqs of the unacknowledged receipts, in order (without reading their envelopes)."""
        with self._lock:
            return [int(seq) for (seq,) in self._db.execute("SELECT seq FROM receipts ORDER BY seq")]

    def envelopes(self, seqs: list[int]) -> dict[int, bytes]:
        """The signed envelopes of those of ``seqs`` still unacknowledged."""
        found: dict[int, bytes] = {}
        with self._lock:
            for start in range(0, len(seqs), 500):  # within SQLite's limit on bound parameters
                chunk = seqs[start : start + 500]
                marks = ",".join("?" * len(chunk))
                query = f"SELECT seq, envelope FROM receipts WHERE seq IN ({marks})"  # placeholders only
                found.update((int(seq), bytes(envelope)) for seq, envelope in self._db.execute(query, chunk))
        return found

    def backlog(self) -> tuple[int, int | None]:
        """``(pending_count(), first_pending_seq())`` in one query (for the status)."""
        with self._lock:
            count, first = self._db.execute("SELECT COUNT(*), MIN(seq) FROM receipts").fetchone()
        return int(count), int(first) if first is not None else None

    def pending_count(self) -> int:
        return self.backlog()[0]

    def first_pending_seq(self) -> int | None:
        """The lowest seq not yet acknowledged (None: all are); everything below it was deleted on ack."""
        return self.backlog()[1]

    def last_seq(self) -> int:
        """The highest seq ever assigned (0 before the first receipt)."""
        with self._lock:
            return self._last_seq()

    def acknowledge(self, seq: int) -> int:
        """Delete receipts with seq <= ``seq`` (the controller committed them); returns how many."""
        with self._lock, self._transaction():
            last = self._last_seq()
            if seq > last:
                self._renumber_after(seq, last)
                return 0
            deleted = self._db.execute("DELETE FROM receipts WHERE seq <= ?", (seq,)).rowcount
        if deleted:
            log.info("ack %d: %d receipt(s) committed by the controller", seq, deleted)
        return int(deleted)

    def _renumber_after(self, ack: int, last: int) -> None:
        # The controller has committed seqs this outbox never made: it is a new or restored outbox
        # for a device id that had a previous life. Continue after the controller's numbering, or
        # the controller would drop our receipts as duplicates of the old ones.
        log.warning("ack %d is beyond the last seq %d of this outbox; renumbering after %d", ack, last, ack)
        rows = self._db.execute("SELECT envelope FROM receipts ORDER BY seq").fetchall()
        self._db.execute("DELETE FROM receipts")
        seq = ack
        for (envelope,) in rows:
            seq += 1
            old = decode(Receipt, json.loads(bytes(envelope))["payload"])
            new = replace(old, seq=seq)
            self._db.execute(
                "INSERT INTO receipts (seq, envelope) VALUES (?, ?)",
                (seq, sign(new, self._key, self._device_id)),
            )
        self._set_last_seq(seq)

    def is_handled(self, item_id: str) -> bool:
        with self._lock:
            row = self._db.execute("SELECT 1 FROM handled WHERE item_id = ?", (item_id,)).fetchone()
        return row is not None

    def handled_ids(self) -> set[str]:
        with self._lock:
            return {str(item_id) for (item_id,) in self._db.execute("SELECT item_id FROM handled")}

    def close(self) -> None:
        with self._lock:
            self._db.close()

    def _last_seq(self) -> int:
        row = self._db.execute("SELECT value FROM meta WHERE key = 'last_seq'").fetchone()
        return int(row[0]) if row else 0

    def _set_last_seq(self, seq: int) -> None:
        self._db.execute("INSERT OR REPLACE INTO meta (key, value) VALUES ('last_seq', ?)", (seq,))

    @contextmanager
    def _transaction(self) -> Iterator[None]:
        self._db.execute("BEGIN IMMEDIATE")
        try:
            yield
        except BaseException:
            self._db.execute("ROLLBACK")
            raise
        self._db.execute("COMMIT")


def _connect(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    try:
        db.execute("PRAGMA journal_mode=WAL")
        db.execute("PRAGMA synchronous=FULL")
        db.execute("PRAGMA cache_size=-256")  # 256 KiB: the box is small and the tables tiny
        db.executescript(_SCHEMA)
        for table in ("receipts", "handled", "commands", "on_air"):
            db.execute(f"SELECT COUNT(*) FROM {table}").fetchone()
    except BaseException:
        db.close()
        raise
    return db
