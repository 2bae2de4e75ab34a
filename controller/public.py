"""What a commune's public page may show: the approved bulletins that went on air on its boxes.

"On air" is what the as-run fold (controller/asrun_fold.py) read from the boxes' signed receipts: an
occurrence of a scheduled broadcast that aired whole or in part on at least one box of the commune.
Nothing else is public: not a bulletin that is only scheduled, not one no longer approved, not an
emergency's alert (it may have been stopped as a mistake), and nothing about boxes, people or
schedules. The page answers with plain values (:class:`PublicBulletin`), so a template cannot reach
further.
"""

from __future__ import annotations

import math
import unicodedata
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Subquery, func
from sqlmodel import Session, col, select

from controller.errors import NotFound
from controller.i18n import N_
from controller.models import Bulletin, Media, Occurrence, Zone

AIRED = ("aired", "partial")
PER_PAGE = 10
FEED_ITEMS = 50
MIME_EXTENSIONS = {"audio/ogg": "ogg", "audio/opus": "opus", "audio/mpeg": "mp3", "audio/wav": "wav"}


@dataclass(frozen=True)
class PublicBulletin:
    """A bulletin as the public sees it."""

    id: int
    title: str
    body: str
    category: str
    source_ref: str | None
    first_aired_at: datetime
    last_aired_at: datetime
    media_sha256: str
    media_bytes: int
    media_mime: str
    duration_ms: int

    @property
    def extension(self) -> str:
        return MIME_EXTENSIONS.get(self.media_mime, "bin")


@dataclass(frozen=True)
class PublicCommune:
    """A commune with something aired, and when it last aired."""

    code: str
    name: str
    last_aired_at: datetime


@dataclass(frozen=True)
class BulletinPage:
    """One page of a commune's aired bulletins, and how many there are."""

    commune: Zone
    items: list[PublicBulletin]
    page: int
    pages: int
    total: int


def _on_air() -> tuple[Any, ...]:
    """The occurrences that count: a scheduled broadcast's item that aired, whole or in part, when."""
    return (
        col(Occurrence.bulletin_id).is_not(None),
        col(Occurrence.started_at).is_not(None),
        Occurrence.source == "schedule",
        col(Occurrence.state).in_(AIRED),
    )


def _aired(commune_id: int, bulletin_id: int | None = None) -> Subquery:
    """Per bulletin aired in the commune (or just ``bulletin_id``): when it first and last aired."""
    query: Any = (
        select(
            col(Occurrence.bulletin_id).label("bulletin_id"),
            func.min(Occurrence.started_at).label("first_at"),
            func.max(Occurrence.started_at).label("last_at"),
        )
        .where(Occurrence.commune_id == commune_id, *_on_air())
        .group_by(col(Occurrence.bulletin_id))
    )
    if bulletin_id is not None:
        query = query.where(Occurrence.bulletin_id == bulletin_id)
    aired: Subquery = query.subquery()
    return aired


def _public(query: Any, aired: Subquery) -> Any:
    """Only approved bulletins with their frozen audio."""
    return (
        query.join(Bulletin, col(Bulletin.id) == aired.c.bulletin_id)
        .join(Media, col(Media.sha256) == Bulletin.media_sha256)
        .where(Bulletin.status == "approved")
    )


def fold_text(text: str) -> str:
    """Lower case without Vietnamese marks, so that "nghi loc" finds "Xã Nghi Lộc". Pure."""
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()


def communes_on_air(session: Session, *, q: str = "") -> list[PublicCommune]:
    """Communes with at least one bulletin aired publicly, by name, matching ``q`` if given.

    One probe per commune down the index ix_occurrence_public, newest first, stopping at the first
    public airing: a province's year of occurrences (two million) is never aggregated.
    """
    last = (
        select(Occurrence.started_at)
        .join(Bulletin, col(Bulletin.id) == Occurrence.bulletin_id)
        .where(Occurrence.commune_id == Zone.id, *_on_air())
        .where(Bulletin.status == "approved", col(Bulletin.media_sha256).is_not(None))
        .order_by(col(Occurrence.started_at).desc())
        .limit(1)
        .correlate(Zone)
        .scalar_subquery()
    )
    rows = session.exec(select(Zone.code, Zone.name, last).where(Zone.kind == "commune")).all()
    needle = fold_text(q.strip())
    found = [
        PublicCommune(code, name, at)
        for code, name, at in rows
        if at is not None and (not needle or needle in fold_text(name) or needle in code.casefold())
    ]
    return sorted(found, key=lambda c: fold_text(c.name))


def commune_by_code(session: Session, code: str) -> Zone:
    """The commune (or ward) whose code is in the address; 'not found' otherwise."""
    commune = session.exec(select(Zone).where(Zone.code == code, Zone.kind == "commune")).first()
    if commune is None:
        raise NotFound(N_("No commune has this address."))
    return commune


def _bulletins(
    session: Session, *, commune_id: int, bulletin_id: int | None, offset: int, limit: int
) -> list[PublicBulletin]:
    aired = _aired(commune_id, bulletin_id)
    query = _public(select(Bulletin, Media, aired.c.first_at, aired.c.last_at).select_from(aired), aired)
    query = query.order_by(aired.c.last_at.desc(), col(Bulletin.id).desc()).offset(offset).limit(limit)
    return [
        PublicBulletin(
            id=bulletin.id or 0,
            title=bulletin.title,
            body=bulletin.body,
            category=bulletin.category,
            source_ref=None if bulletin.category == "emergency" else bulletin.source_ref,
            first_aired_at=first_at,
            last_aired_at=last_at,
            media_sha256=media.sha256,
            media_bytes=media.bytes,
            media_mime=media.mime,
            duration_ms=media.duration_ms,
        )
        for bulletin, media, first_at, last_at in session.exec(query).all()
    ]


def aired_bulletins(
    session: Session, *, commune: Zone, page: int = 1, per_page: int = PER_PAGE
) -> BulletinPage:
    """One page of the commune's aired bulletins, the last aired first."""
    aired = _aired(commune.id or 0)
    total = session.exec(_public(select(func.count()).select_from(aired), aired)).one()
    pages = max(1, math.ceil(total / per_page))
    page = min(max(1, page), pages)
    items = _bulletins(
        session, commune_id=commune.id or 0, bulletin_id=None, offset=(page - 1) * per_page, limit=per_page
    )
    return BulletinPage(commune, items, page, pages, total)


def aired_bulletin(session: Session, *, commune: Zone, bulletin_id: int) -> PublicBulletin:
    """One bulletin aired in the commune; anything else is 'not found', whether it exists or not."""
    found = _bulletins(session, commune_id=commune.id or 0, bulletin_id=bulletin_id, offset=0, limit=1)
    if not found:
        raise NotFound(N_("This bulletin has not been broadcast in this commune."))
    return found[0]
