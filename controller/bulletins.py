"""Bulletins and their approval workflow: draft → submitted → approved / rejected.

How a bulletin is read (engine and voice, accent, speed) is chosen when it is written, pre-filled
from its commune's speech defaults (set by an admin, else the province's, else the settings', whose
accent follows the province's region). Approval freezes the text, that choice and the audio the
approver heard, by hash; nothing approved is ever rendered again.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection, Sequence
from pathlib import Path
from typing import Any

from sqlmodel import Session, col, select

from controller import audit_log
from controller.auth import PERMISSIONS, can_touch_zone, commune_ids, require
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.models import Bulletin, Media, User, Zone, utcnow
from controller.rendering import Renderer, Speech, Voice, check_speech

CATEGORIES = {
    "legal": "Phổ biến, giáo dục pháp luật",
    "policy": "Chủ trương, chính sách",
    "notice": "Thông báo",
    "emergency": "Khẩn cấp",
}
STATUS_NAMES_VI = {
    "draft": "Bản nháp",
    "submitted": "Chờ duyệt",
    "approved": "Đã duyệt",
    "rejected": "Bị từ chối",
}
ACCENT_NAMES_VI = {"north": "Giọng Bắc", "central": "Giọng Trung", "south": "Giọng Nam"}
MAX_BODY_CHARS = 30_000


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


def _saved(session: Session, bulletin: Bulletin, *, user: User, action: str, **detail: Any) -> Bulletin:
    """Store a bulletin's change together with its audit event, in one commit."""
    session.add(bulletin)
    session.flush()
    audit_log.record(
        session, actor=user, action=action, object_type="bulletin", object_id=bulletin.id, **detail
    )
    session.commit()
    session.refresh(bulletin)
    return bulletin


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
    title, body = title.strip(), body.strip()
    if not title:
        raise InvalidInput("Vui lòng nhập tiêu đề bản tin.", field="title")
    if len(title) > 300:
        raise InvalidInput("Tiêu đề dài quá 300 ký tự.", field="title")
    if not body:
        raise InvalidInput("Vui lòng nhập nội dung bản tin.", field="body")
    if len(body) > MAX_BODY_CHARS:
        raise InvalidInput(f"Nội dung dài quá {MAX_BODY_CHARS:,} ký tự.".replace(",", "."), field="body")
    if category not in CATEGORIES:
        raise InvalidInput("Loại bản tin không hợp lệ.", field="category")
    check_speech(voice=speech.voice, accent=speech.accent, speed=speech.speed, voices=voices)
    commune = session.get(Zone, commune_id)
    if commune is None or commune.kind != "commune" or not can_touch_zone(session, user, commune):
        raise InvalidInput("Bạn không phụ trách xã này.", field="commune_id")
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
    return _saved(session, bulletin, user=user, action="bulletin.create")


def speech_of(bulletin: Bulletin) -> Speech:
    """How ``bulletin`` is read."""
    return Speech(Voice(bulletin.engine, bulletin.voice), bulletin.accent, bulletin.speed)


def get_bulletin(session: Session, *, user: User, bulletin_id: int) -> Bulletin:
    """A bulletin the user may see; another commune's bulletin is 'not found'."""
    require(user, "bulletin.view")
    bulletin = session.get(Bulletin, bulletin_id)
    if bulletin is None:
        raise NotFound("Không tìm thấy bản tin.")
    allowed = commune_ids(session, user)
    if allowed is not None and bulletin.commune_id not in allowed:
        raise NotFound("Không tìm thấy bản tin.")
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
        raise Conflict("Chỉ gửi duyệt được bản nháp hoặc bản tin bị từ chối.")
    bulletin.status = "submitted"
    bulletin.submitted_at = bulletin.updated_at = utcnow()
    return _saved(session, bulletin, user=user, action="bulletin.submit")


def preview_bulletin(session: Session, *, user: User, bulletin: Bulletin, renderer: Renderer) -> Media:
    """Render a bulletin not yet approved so that its editor and approver can hear it first."""
    if user.role not in PERMISSIONS["bulletin.write"] | PERMISSIONS["bulletin.decide"]:
        raise Forbidden("Tài khoản của bạn không có quyền thực hiện thao tác này.")
    if bulletin.status == "approved":
        raise Conflict("Bản tin đã duyệt: âm thanh đã được chốt.")
    if bulletin.recording_sha256 is not None:
        media = session.get(Media, bulletin.recording_sha256)
        if media is None:
            raise Conflict("Không tìm thấy tệp ghi âm của bản tin.")
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
        session, text=_spoken_text(bulletin), accent=speech.accent, speed=speech.speed, voice=speech.voice
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
        raise Conflict("Chỉ duyệt được bản tin đang chờ duyệt.")
    if bulletin.recording_sha256 is not None:
        media = session.get(Media, bulletin.recording_sha256)
        if media is None:
            raise Conflict("Không tìm thấy tệp ghi âm của bản tin.")
    else:
        media = _render(session, bulletin, renderer)
    if heard_sha256 and heard_sha256 != media.sha256:
        session.commit()  # the new audio is kept, for the approver to hear
        raise Conflict(
            "Âm thanh của bản tin đã thay đổi từ lúc bạn nghe thử (có thể từ điển phát âm vừa được sửa). "
            "Vui lòng nghe lại trước khi duyệt."
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
    return renderer.render_text(
        session, text=_spoken_text(bulletin), accent=speech.accent, speed=speech.speed, voice=speech.voice
    )


def attach_recording(
    session: Session, *, user: User, bulletin: Bulletin, path: Path, renderer: Renderer
) -> Bulletin:
    """An uploaded recording airs instead of synthetic speech (e.g. a bulletin in Thái or Mông)."""
    require(user, "bulletin.write")
    if bulletin.status not in ("draft", "rejected"):
        raise Conflict("Chỉ thêm ghi âm cho bản nháp hoặc bản tin bị từ chối.")
    media = renderer.render_upload(session, path=path)
    bulletin.recording_sha256 = media.sha256
    bulletin.updated_at = utcnow()
    return _saved(
        session, bulletin, user=user, action="bulletin.recording", media_sha256=media.sha256, lufs=media.lufs
    )


def reject_bulletin(session: Session, *, user: User, bulletin: Bulletin, comment: str) -> Bulletin:
    require(user, "bulletin.decide")
    if bulletin.status != "submitted":
        raise Conflict("Chỉ từ chối được bản tin đang chờ duyệt.")
    comment = comment.strip()
    if not comment:
        raise InvalidInput("Vui lòng ghi lý do từ chối để người soạn sửa lại.", field="comment")
    bulletin.status = "rejected"
    bulletin.approver_id = user.id
    bulletin.decision_comment = comment[:2000]
    bulletin.decided_at = bulletin.updated_at = utcnow()
    return _saved(session, bulletin, user=user, action="bulletin.reject", comment=comment)
