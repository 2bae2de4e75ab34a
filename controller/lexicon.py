"""The province's pronunciation lexicon: built-in entries plus what admins add in the panel.

Changing it re-renders nothing already approved: approved audio is frozen by its hash.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from audio import Lexicon, LexiconError, Normalized, normalize
from controller import audit_log
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.models import LexiconEntry, User, utcnow

KINDS = {"abbreviation": "Chữ viết tắt", "pronunciation": "Cách đọc tên riêng"}


def current_lexicon(session: Session) -> Lexicon:
    """The built-in lexicon with the province's entries on top."""
    entries = session.exec(select(LexiconEntry)).all()
    overrides = Lexicon(
        abbreviations={e.term: e.spoken for e in entries if e.kind == "abbreviation"},
        pronunciations={e.term: e.spoken for e in entries if e.kind == "pronunciation"},
    )
    return Lexicon.default().merged(overrides)


def spoken_form(session: Session, *, text: str, accent: str) -> Normalized:
    """How a text will be read, and the abbreviations nobody taught the lexicon yet."""
    try:
        return normalize(text, accent=accent, lexicon=current_lexicon(session))
    except ValueError as exc:
        raise InvalidInput(f"Không chuẩn hóa được văn bản: {exc}", field="text") from exc


def list_entries(session: Session) -> Sequence[LexiconEntry]:
    return session.exec(select(LexiconEntry).order_by(col(LexiconEntry.kind), col(LexiconEntry.term))).all()


def save_entry(session: Session, *, user: User, kind: str, term: str, spoken: str) -> LexiconEntry:
    """Add or change an entry (admins only); the entry is checked the way the normaliser will use it."""
    if user.role != "admin":
        raise Forbidden("Chỉ quản trị tỉnh được sửa từ điển phát âm.")
    term, spoken = term.strip(), " ".join(spoken.split())
    if kind not in KINDS:
        raise InvalidInput("Loại mục từ không hợp lệ.", field="kind")
    if not term or not spoken:
        raise InvalidInput("Nhập cả từ viết và cách đọc.", field="term")
    try:
        Lexicon(**{f"{kind}s": {term: spoken}})  # type: ignore[arg-type]
    except LexiconError as exc:
        raise InvalidInput(f"Mục từ không dùng được: {exc}", field="spoken") from exc
    entry = session.exec(
        select(LexiconEntry).where(LexiconEntry.kind == kind, LexiconEntry.term == term)
    ).first()
    if entry is None:
        entry = LexiconEntry(kind=kind, term=term, spoken=spoken, updated_by=user.id or 0)
    else:
        entry.spoken, entry.updated_by, entry.updated_at = spoken, user.id or 0, utcnow()
    session.add(entry)
    session.flush()
    audit_log.record(
        session,
        actor=user,
        action="lexicon.save",
        object_type="lexicon",
        object_id=entry.id,
        kind=kind,
        term=term,
        spoken=spoken,
    )
    session.commit()
    session.refresh(entry)
    return entry


def delete_entry(session: Session, *, user: User, entry_id: int) -> None:
    if user.role != "admin":
        raise Forbidden("Chỉ quản trị tỉnh được sửa từ điển phát âm.")
    entry = session.get(LexiconEntry, entry_id)
    if entry is None:
        raise NotFound("Không tìm thấy mục từ.")
    session.delete(entry)
    audit_log.record(
        session,
        actor=user,
        action="lexicon.delete",
        object_type="lexicon",
        object_id=entry_id,
        term=entry.term,
    )
    session.commit()
