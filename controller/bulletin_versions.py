"""A bulletin's versions, its history, and a word-level diff between two versions.

Every save of a bulletin's content is a numbered version (written by controller/bulletins.py); its
status changes (submitted, approved, rejected with a comment) are in the audit log. The history
interleaves both, oldest first. The diff is computed here and rendered by the template, which
escapes every piece of it.
"""

from __future__ import annotations

import json
import re
import unicodedata
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from difflib import SequenceMatcher

from sqlmodel import Session, col, select

from controller.bulletins import ACCENT_NAMES, CATEGORIES, VERSIONED, text_sha256
from controller.i18n import N_, gettext
from controller.models import AuditEvent, Bulletin, BulletinVersion, User
from controller.rendering import Voice

ACTIONS = {
    "bulletin.create": N_("Written"),
    "bulletin.edit": N_("Edited"),
    "bulletin.recording": N_("Recording uploaded"),
    "bulletin.submit": N_("Submitted for approval"),
    "bulletin.approve": N_("Approved"),
    "bulletin.reject": N_("Rejected"),
}
FIELD_NAMES = {
    "category": N_("Category"),
    "language": N_("Language"),
    "source_ref": N_("Legal reference"),
    "voice": N_("Voice"),
    "accent": N_("Accent"),
    "speed": N_("Speed"),
    "recording_sha256": N_("Recording"),
}
# Past this many token pairs a changed passage is shown removed and added whole: the word diff of two
# unrelated 30,000-character texts would take seconds.
MAX_WORD_PAIRS = 1_000_000
_TOKEN = re.compile(r"\w+|[^\w\s]|\s+")
_SENTENCE = re.compile(r"(?<=[.!?;:])\s+")


@dataclass(frozen=True)
class HistoryEntry:
    """One step of a bulletin's life: who did what, when (and the version it made, or the comment)."""

    at: datetime
    actor: str
    action: str
    version: int | None = None
    comment: str | None = None

    @property
    def label(self) -> str:
        return gettext(ACTIONS[self.action]) if self.action in ACTIONS else self.action


@dataclass(frozen=True)
class Piece:
    """A run of text the same in both versions (``same``), only in the older (``del``) or only in
    the newer (``ins``)."""

    op: str
    text: str


@dataclass(frozen=True)
class FieldChange:
    """A field other than the title and the text, as shown before and after."""

    name: str
    old: str
    new: str


@dataclass(frozen=True)
class VersionDiff:
    """What changed from version ``old`` to version ``new``."""

    old: BulletinVersion
    new: BulletinVersion
    title: list[Piece]
    body: list[Piece]
    fields: list[FieldChange]

    @property
    def changed(self) -> bool:
        return bool(self.fields) or any(p.op != "same" for p in (*self.title, *self.body))


def versions(session: Session, bulletin: Bulletin) -> list[BulletinVersion]:
    """The bulletin's versions, oldest first. A bulletin written before versions were kept and never
    edited since has one, its content now (not stored: reading changes nothing)."""
    rows = session.exec(
        select(BulletinVersion)
        .where(BulletinVersion.bulletin_id == bulletin.id)
        .order_by(col(BulletinVersion.number))
    ).all()
    if rows:
        return list(rows)
    return [
        BulletinVersion(
            bulletin_id=bulletin.id or 0,
            number=1,
            **{name: getattr(bulletin, name) for name in VERSIONED},
            text_sha256=text_sha256(bulletin),
            author_id=bulletin.author_id,
            created_at=bulletin.created_at,
        )
    ]


def approved_version(bulletin: Bulletin, rows: Sequence[BulletinVersion]) -> int | None:
    """The number of the version that was approved, if the bulletin is approved."""
    if bulletin.status != "approved" or not bulletin.text_sha256:
        return None
    return next((v.number for v in reversed(rows) if v.text_sha256 == bulletin.text_sha256), None)


def history(session: Session, bulletin: Bulletin) -> list[HistoryEntry]:
    """Every decision on the bulletin from the audit log, oldest first, with who made it."""
    events = session.exec(
        select(AuditEvent)
        .where(AuditEvent.object_type == "bulletin", AuditEvent.object_id == str(bulletin.id))
        .order_by(col(AuditEvent.seq))
    ).all()
    ids = {e.actor_id for e in events if e.actor_id is not None}
    names = (
        dict(session.exec(select(User.id, User.full_name).where(col(User.id).in_(ids))).all()) if ids else {}
    )
    entries = []
    for event in events:
        detail = json.loads(event.detail) if event.detail else {}
        version = detail.get("version")
        entries.append(
            HistoryEntry(
                at=event.at,
                actor=names.get(event.actor_id, "—") if event.actor_id is not None else "—",
                action=event.action,
                version=version if isinstance(version, int) else None,
                comment=detail.get("comment") if event.action == "bulletin.reject" else None,
            )
        )
    return entries


def author_names(session: Session, rows: Sequence[BulletinVersion]) -> dict[int, str]:
    """The full names of who saved the given versions, by user id."""
    query = select(User.id, User.full_name).where(col(User.id).in_({v.author_id for v in rows}))
    return {i: name for i, name in session.exec(query).all() if i is not None}


def compare(old: BulletinVersion, new: BulletinVersion) -> VersionDiff:
    """The word-level diff of the title and the text, and the other fields that changed."""
    fields = []
    for name, shown in _SHOWN.items():
        before, after = shown(old), shown(new)
        if before != after:
            fields.append(FieldChange(name, before, after))
    return VersionDiff(old, new, word_diff(old.title, new.title), word_diff(old.body, new.body), fields)


def _voice(v: BulletinVersion) -> str:
    return Voice(v.engine, v.voice).label


_SHOWN: dict[str, Callable[[BulletinVersion], str]] = {
    "category": lambda v: gettext(CATEGORIES[v.category]) if v.category in CATEGORIES else v.category,
    "language": lambda v: v.language,
    "source_ref": lambda v: v.source_ref or "—",
    "voice": _voice,
    "accent": lambda v: gettext(ACCENT_NAMES[v.accent]) if v.accent in ACCENT_NAMES else v.accent,
    "speed": lambda v: str(v.speed),
    "recording_sha256": lambda v: (v.recording_sha256 or "—")[:16],
}


def word_diff(old: str, new: str) -> list[Piece]:
    """``old`` → ``new`` as runs kept, removed and added, word by word: lines are matched first,
    then the sentences of changed lines, then their words (Vietnamese syllables, punctuation,
    spaces), so that a long text is compared quickly. Pure."""
    pieces: list[Piece] = []
    _diff(
        unicodedata.normalize("NFC", old),
        unicodedata.normalize("NFC", new),
        [lambda t: t.splitlines(keepends=True), _sentences, _TOKEN.findall],
        pieces,
    )
    return _joined(_joined(pieces))  # the second pass bridges spaces the first has just joined


def _joined(pieces: list[Piece]) -> list[Piece]:
    """Adjacent pieces of one kind made one; a run of changes separated only by spaces made one
    removal and one addition ("ngày mai" → "thứ Hai", not "ngày" → "thứ", "mai" → "Hai")."""
    out: list[Piece] = []
    old: list[str] = []
    new: list[str] = []

    def flush() -> None:
        out.extend(Piece(op, "".join(texts)) for op, texts in (("del", old), ("ins", new)) if "".join(texts))
        old.clear()
        new.clear()

    for i, piece in enumerate(pieces):
        if piece.op == "same":
            inside = (old or new) and i + 1 < len(pieces) and pieces[i + 1].op != "same"
            if inside and piece.text.strip(" ") == "":
                old.append(piece.text)
                new.append(piece.text)
                continue
            flush()
            if out and out[-1].op == "same":
                out[-1] = Piece("same", out[-1].text + piece.text)
            elif piece.text:
                out.append(piece)
        else:
            (old if piece.op == "del" else new).append(piece.text)
    flush()
    return out


def _sentences(text: str) -> list[str]:
    parts, start = [], 0
    for match in _SENTENCE.finditer(text):
        parts.append(text[start : match.end()])
        start = match.end()
    return [*parts, text[start:]] if start < len(text) else parts


def _diff(old: str, new: str, splitters: list[Callable[[str], list[str]]], out: list[Piece]) -> None:
    split, finer = splitters[0], splitters[1:]
    a, b = split(old), split(new)
    if not finer and len(a) * len(b) > MAX_WORD_PAIRS:
        out += [Piece("del", old), Piece("ins", new)]
        return
    for tag, i1, i2, j1, j2 in SequenceMatcher(None, a, b, autojunk=False).get_opcodes():
        before, after = "".join(a[i1:i2]), "".join(b[j1:j2])
        if tag == "equal":
            out.append(Piece("same", before))
        elif tag == "replace" and finer:
            _diff(before, after, finer, out)
        else:
            out += [Piece("del", before), Piece("ins", after)]
