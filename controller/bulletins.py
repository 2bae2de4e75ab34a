"""Bulletins and their approval workflow: draft → submitted → approved / rejected.

How a bulletin is read (engine and voice, accent, speed) is chosen when it is written, pre-filled
from its commune's speech defaults (set by an admin, else the province's, else the settings', whose
accent follows the province's region). Approval freezes the text, that choice and the audio the
approver heard, by hash; nothing approved is ever rendered again. A draft or a rejected bulletin
can be edited; every save of its content is kept as a numbered version (controller/bulletin_versions.py
reads them).
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.exc import IntegrityError
from sqlmodel import Session, col, func, select

from controller import audit_log, chimes, media_grants
from controller.auth import PERMISSIONS, can_touch_zone, commune_ids, require
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.i18n import N_, decimal
from controller.models import Bulletin, BulletinVersion, Media, User, Zone, utcnow
from controller.rendering import Renderer, Speech, Voice, check_speech

CATEGORIES = {
    "legal": N_("Legal dissemination and education"),
    "policy": N_("Guidelines and policies"),
    "notice": N_("Notice"),
    "emergency": N_("Emergency"),
}
STATUS_NAMES = {
    "draft": N_("Draft"),
    "submitted": N_("Awaiting approval"),
    "approved": N_("Approved"),
    "rejected": N_("Rejected"),
}
ACCENT_NAMES = {
    "north": N_("Northern accent"),
    "central": N_("Central accent"),
    "south": N_("Southern accent"),
}
MAX_BODY_CHARS = 30_000
# What a version keeps: the content and how it is read (not the status, which the audit log tells).
VERSIONED = (
    "title",
    "body",
    "category",
    "language",
    "source_ref",
    "engine",
    "voice",
    "accent",
    "speed",
    "recording_sha256",
)


def text_sha256(bulletin: Bulletin) -> str:
    """The hash that freezes what was approved: title, body, how it is read, and any recording."""
    frozen = "\n".join(
        [
            bulletin.title,
            bulletin.engine,
            bulletin.voice or "",
            bulletin.accent,
            str(bulletin.speed),
            str(bulletin.recording_sha256),
            bulletin.body,
        ]
    )
    return hashlib.sha256(frozen.encode()).hexdigest()


def _saved(
    session: Session,
    bulletin: Bulletin,
    *,
    user: User,
    action: str,
    version: int | None = None,
    **detail: Any,
) -> Bulletin:
    """Store a bulletin's change together with its audit event (and its content as version number
    ``version``, if given), in one commit."""
    session.add(bulletin)
    session.flush()
    if version is not None:
        session.add(_version_row(bulletin, number=version, author_id=user.id or 0))
        detail["version"] = version
    audit_log.record(
        session, actor=user, action=action, object_type="bulletin", object_id=bulletin.id, **detail
    )
    session.commit()
    session.refresh(bulletin)
    return bulletin


def _version_row(
    bulletin: Bulletin, *, number: int, author_id: int, at: datetime | None = None
) -> BulletinVersion:
    return BulletinVersion(
        bulletin_id=bulletin.id or 0,
        number=number,
        **{name: getattr(bulletin, name) for name in VERSIONED},
        text_sha256=text_sha256(bulletin),
        author_id=author_id,
        created_at=at or utcnow(),
    )


def current_version(session: Session, bulletin: Bulletin) -> int:
    """The number of the bulletin's latest version; 0 for a bulletin written before versions were kept."""
    number = session.exec(
        select(func.max(BulletinVersion.number)).where(BulletinVersion.bulletin_id == bulletin.id)
    ).one()
    return number or 0


def _next_version(session: Session, bulletin: Bulletin) -> int:
    """The number the bulletin's next save takes. A bulletin from before versions were kept first
    gets its content so far as version 1 (call this before changing it)."""
    number = current_version(session, bulletin)
    if number == 0:
        session.add(_version_row(bulletin, number=1, author_id=bulletin.author_id, at=bulletin.updated_at))
        number = 1
    return number + 1


def _checked_content(*, title: str, body: str, category: str) -> tuple[str, str]:
    """The title and body stripped, or InvalidInput naming the field to correct."""
    title, body = title.strip(), body.strip()
    if not title:
        raise InvalidInput(N_("Please type the bulletin's title."), field="title")
    if len(title) > 300:
        raise InvalidInput(N_("The title is longer than 300 characters."), field="title")
    if not body:
        raise InvalidInput(N_("Please type the bulletin's text."), field="body")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(
            N_("The text is longer than %(limit)s characters."),
            field="body",
            limit=decimal(MAX_BODY_CHARS, "#,##0"),
        )
    if category not in CATEGORIES:
        raise InvalidInput(N_("Invalid bulletin category."), field="category")
    return title, body


def create_bulletin(
    session: Session,
    *,
    user: User,
    commune_id: int,
    title: str,
    body: str,
    speech: Speech,
    voices: Collection[Voice],
    category: str = "legal",
    source_ref: str | None = None,
) -> Bulletin:
    """A draft, read as ``speech`` says (one of ``voices``, the ones installed)."""
    require(user, "bulletin.write")
    title, body = _checked_content(title=title, body=body, category=category)
    check_speech(voice=speech.voice, accent=speech.accent, speed=speech.speed, voices=voices)
    commune = session.get(Zone, commune_id)
    if commune is None or commune.kind != "commune" or not can_touch_zone(session, user, commune):
        raise InvalidInput(N_("You do not look after this commune."), field="commune_id")
    bulletin = Bulletin(
        commune_id=commune_id,
        title=title,
        body=body,
        category=category,
        source_ref=(source_ref or "").strip() or None,
        engine=speech.voice.engine,
        voice=speech.voice.voice,
        accent=speech.accent,
        speed=speech.speed,
        author_id=user.id or 0,
    )
    return _saved(session, bulletin, user=user, action="bulletin.create", version=1)


def edit_bulletin(
    session: Session,
    *,
    user: User,
    bulletin: Bulletin,
    title: str,
    body: str,
    speech: Speech,
    voices: Collection[Voice],
    category: str,
    source_ref: str | None = None,
    base_version: int | None = None,
) -> Bulletin:
    """Change a draft or a rejected bulletin; the new content is kept as its next version.

    ``base_version`` is the version the editor started from: if someone saved another meanwhile,
    nothing is changed (Conflict) rather than silently losing their edit. Saving the same content
    again changes nothing and adds no version.
    """
    require(user, "bulletin.write")
    commune = session.get(Zone, bulletin.commune_id)
    if commune is None or not can_touch_zone(session, user, commune):
        raise NotFound(N_("Bulletin not found."))
    if bulletin.status not in ("draft", "rejected"):
        raise Conflict(N_("Only a draft or a rejected bulletin can be edited."))
    title, body = _checked_content(title=title, body=body, category=category)
    check_speech(voice=speech.voice, accent=speech.accent, speed=speech.speed, voices=voices)
    if base_version is not None and base_version != current_version(session, bulletin):
        raise Conflict(
            N_(
                "Someone else saved this bulletin while you were editing it. Your text is below: "
                "open the bulletin again to see their changes before saving."
            )
        )
    wanted = {
        "title": title,
        "body": body,
        "category": category,
        "source_ref": (source_ref or "").strip() or None,
        "engine": speech.voice.engine,
        "voice": speech.voice.voice,
        "accent": speech.accent,
        "speed": speech.speed,
    }
    changed = sorted(name for name, value in wanted.items() if getattr(bulletin, name) != value)
    if not changed:
        return bulletin
    number = _next_version(session, bulletin)
    for name in changed:
        setattr(bulletin, name, wanted[name])
    bulletin.updated_at = utcnow()
    try:
        return _saved(session, bulletin, user=user, action="bulletin.edit", version=number, fields=changed)
    except IntegrityError:  # another save took that version number between our read and our commit
        session.rollback()
        raise Conflict(N_("Someone else saved this bulletin at the same moment. Please try again.")) from None


def speech_of(bulletin: Bulletin) -> Speech:
    """How ``bulletin`` is read."""
    return Speech(Voice(bulletin.engine, bulletin.voice), bulletin.accent, bulletin.speed)


def get_bulletin(session: Session, *, user: User, bulletin_id: int) -> Bulletin:
    """A bulletin the user may see; another commune's bulletin is 'not found'."""
    require(user, "bulletin.view")
    bulletin = session.get(Bulletin, bulletin_id)
    if bulletin is None:
        raise NotFound(N_("Bulletin not found."))
    allowed = commune_ids(session, user)
    if allowed is not None and bulletin.commune_id not in allowed:
        raise NotFound(N_("Bulletin not found."))
    return bulletin


def list_bulletins(session: Session, *, user: User, status: str | None = None) -> Sequence[Bulletin]:
    require(user, "bulletin.view")
    query = select(Bulletin).order_by(col(Bulletin.id).desc())
    allowed = commune_ids(session, user)
    if allowed is not None:
        query = query.where(col(Bulletin.commune_id).in_(allowed))
    if status:
        query = query.where(Bulletin.status == status)
    return session.exec(query).all()


def submit_bulletin(session: Session, *, user: User, bulletin: Bulletin) -> Bulletin:
    require(user, "bulletin.write")
    if bulletin.status not in ("draft", "rejected"):
        raise Conflict(N_("Only a draft or a rejected bulletin can be submitted."))
    bulletin.status = "submitted"
    bulletin.submitted_at = bulletin.updated_at = utcnow()
    return _saved(session, bulletin, user=user, action="bulletin.submit")


def preview_bulletin(session: Session, *, user: User, bulletin: Bulletin, renderer: Renderer) -> Media:
    """Render a bulletin not yet approved so that its editor and approver can hear it first."""
    if user.role not in PERMISSIONS["bulletin.write"] | PERMISSIONS["bulletin.decide"]:
        raise Forbidden(N_("Your account may not do this."))
    if bulletin.status == "approved":
        raise Conflict(N_("The bulletin is approved: its audio is frozen."))
    if bulletin.recording_sha256 is not None:
        media = session.get(Media, bulletin.recording_sha256)
        if media is None:
            raise Conflict(N_("The bulletin's recording was not found."))
        return media
    media = _render(session, bulletin, renderer)
    session.commit()
    return media


def previewed(session: Session, *, bulletin: Bulletin, renderer: Renderer) -> Media | None:
    """The audio approval would freeze, if it is made already: the recording, or speech rendered before."""
    if bulletin.recording_sha256 is not None:
        return session.get(Media, bulletin.recording_sha256)
    if bulletin.status == "approved":
        return session.get(Media, bulletin.media_sha256) if bulletin.media_sha256 else None
    speech = speech_of(bulletin)
    return renderer.rendered_before(
        session,
        text=_spoken_text(bulletin),
        accent=speech.accent,
        speed=speech.speed,
        voice=speech.voice,
        chimes=chimes.files_for(session, zone_id=bulletin.commune_id, store=renderer.store),
    )


def approve_bulletin(
    session: Session, *, user: User, bulletin: Bulletin, renderer: Renderer, heard_sha256: str | None = None
) -> Bulletin:
    """Approve and render: the text and the audio are frozen by hash from here on.

    ``heard_sha256`` is the audio the approver listened to; if the bulletin would now sound different
    (the lexicon changed meanwhile, say), nothing is approved and they are asked to listen again.
    """
    require(user, "bulletin.decide")
    if bulletin.status != "submitted":
        raise Conflict(N_("Only a bulletin awaiting approval can be approved."))
    if bulletin.recording_sha256 is not None:
        media = session.get(Media, bulletin.recording_sha256)
        if media is None:
            raise Conflict(N_("The bulletin's recording was not found."))
    else:
        media = _render(session, bulletin, renderer)
    if heard_sha256 and heard_sha256 != media.sha256:
        session.commit()  # the new audio is kept, for the approver to hear
        raise Conflict(
            N_(
                "The bulletin's audio has changed since you listened to it (the pronunciation lexicon may "
                "just have been edited). Please listen again before approving."
            )
        )
    bulletin.status = "approved"
    bulletin.approver_id = user.id
    bulletin.decided_at = bulletin.updated_at = utcnow()
    bulletin.text_sha256 = text_sha256(bulletin)
    bulletin.media_sha256 = media.sha256
    bulletin.decision_comment = None
    return _saved(
        session,
        bulletin,
        user=user,
        action="bulletin.approve",
        text_sha256=bulletin.text_sha256,
        media_sha256=media.sha256,
    )


def _spoken_text(bulletin: Bulletin) -> str:
    return f"{bulletin.title}.\n\n{bulletin.body}"


def _render(session: Session, bulletin: Bulletin, renderer: Renderer) -> Media:
    speech = speech_of(bulletin)
    media = renderer.render_text(
        session,
        text=_spoken_text(bulletin),
        accent=speech.accent,
        speed=speech.speed,
        voice=speech.voice,
        chimes=chimes.files_for(session, zone_id=bulletin.commune_id, store=renderer.store),
    )
    media_grants.grant(session, sha256=media.sha256, commune_id=bulletin.commune_id)
    return media


def attach_recording(
    session: Session, *, user: User, bulletin: Bulletin, path: Path, renderer: Renderer
) -> Bulletin:
    """An uploaded recording airs instead of synthetic speech (e.g. a bulletin in Thái or Mông)."""
    require(user, "bulletin.write")
    if bulletin.status not in ("draft", "rejected"):
        raise Conflict(N_("A recording can only be added to a draft or a rejected bulletin."))
    media = renderer.render_upload(
        session,
        path=path,
        chimes=chimes.files_for(session, zone_id=bulletin.commune_id, store=renderer.store),
    )
    media_grants.grant(session, sha256=media.sha256, commune_id=bulletin.commune_id)
    number = _next_version(session, bulletin)
    bulletin.recording_sha256 = media.sha256
    bulletin.updated_at = utcnow()
    return _saved(
        session,
        bulletin,
        user=user,
        action="bulletin.recording",
        version=number,
        media_sha256=media.sha256,
        lufs=media.lufs,
    )


def reject_bulletin(session: Session, *, user: User, bulletin: Bulletin, comment: str) -> Bulletin:
    require(user, "bulletin.decide")
    if bulletin.status != "submitted":
        raise Conflict(N_("Only a bulletin awaiting approval can be rejected."))
    comment = comment.strip()
    if not comment:
        raise InvalidInput(
            N_("Please give the reason for rejection so that the writer can correct it."), field="comment"
        )
    bulletin.status = "rejected"
    bulletin.approver_id = user.id
    bulletin.decision_comment = comment[:2000]
    bulletin.decided_at = bulletin.updated_at = utcnow()
    return _saved(session, bulletin, user=user, action="bulletin.reject", comment=comment)
