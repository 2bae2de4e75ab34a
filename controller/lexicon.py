"""The province's pronunciation lexicon: built-in entries plus what admins add in the panel.

Changing it re-renders nothing already approved: approved audio is frozen by its hash.
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import Session, col, select

from audio import Lexicon, LexiconError, Normalized, normalize
from controller import audio_text, audit_log
from controller.errors import Forbidden, InvalidInput, NotFound
from controller.i18n import N_
from controller.models import LexiconEntry, User, utcnow

KINDS = {"abbreviation": N_("Abbreviation"), "pronunciation": N_("Pronunciation of a name")}


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
    except LexiconError as exc:  # an entry stored before a rule that now refuses it
        raise audio_text.invalid_input(exc, field="text") from exc
    except ValueError as exc:
        raise InvalidInput(
            N_("The text cannot be normalised: %(error)s"), field="text", error=str(exc)
        ) from exc


def list_entries(session: Session) -> Sequence[LexiconEntry]:
    return session.exec(select(LexiconEntry).order_by(col(LexiconEntry.kind), col(LexiconEntry.term))).all()


def save_entry(session: Session, *, user: User, kind: str, term: str, spoken: str) -> LexiconEntry:
    """Add or change an entry (admins only); the entry is checked the way the normaliser will use it."""
    if user.role != "admin":
        raise Forbidden(N_("Only the province administrator may edit the pronunciation lexicon."))
    term, spoken = term.strip(), " ".join(spoken.split())
    if kind not in KINDS:
        raise InvalidInput(N_("Invalid kind of entry."), field="kind")
    if not term or not spoken:
        raise InvalidInput(N_("Type both how it is written and how it is read."), field="term")
    try:
        Lexicon(**{f"{kind}s": {term: spoken}})  # type: ignore[arg-type]
    except LexiconError as exc:
        raise audio_text.invalid_input(exc, field="spoken") from exc
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
        raise Forbidden(N_("Only the province administrator may edit the pronunciation lexicon."))
    entry = session.get(LexiconEntry, entry_id)
    if entry is None:
        raise NotFound(N_("Entry not found."))
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
