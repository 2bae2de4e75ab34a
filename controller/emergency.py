"""Emergency broadcasts ("Phát khẩn cấp"): one signed command per target zone reaches every box at once.

With the two-person rule on, a second authorised person must confirm within the configured minutes.
Every step is in the audit log.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from datetime import timedelta

from sqlmodel import Session, col, select

from controller import audit_log
from controller.auth import can_touch_zone, commune_ids
from controller.bulletins import approve_bulletin
from controller.commands import sign_command
from controller.errors import Conflict, Forbidden, InvalidInput, NotFound
from controller.i18n import N_
from controller.keys import Signer
from controller.models import Bulletin, Emergency, Media, User, Zone, utcnow
from controller.rendering import Renderer
from controller.settings import Settings
from controller.zones import visible_zone_ids
from playlists.wire import MediaRef, PlayNowArgs, TimelineItem, Topics, to_dict

Publish = Callable[[str, bytes, bool], None]
DECIDERS = {"admin", "approver"}
STATUS_NAMES = {
    "draft": N_("Draft from an alert, awaiting approval"),
    "pending": N_("Awaiting a second person's confirmation"),
    "sent": N_("Order sent"),
    "stopped": N_("Stopped"),
    "expired": N_("Confirmation expired"),
}


class EmergencyService:
    """Creates, confirms, sends and stops emergency broadcasts."""

    def __init__(self, *, settings: Settings, signer: Signer, topics: Topics, publish: Publish) -> None:
        self.settings, self.signer, self.topics, self.publish = settings, signer, topics, publish

    def create(
        self,
        session: Session,
        *,
        user: User,
        bulletin_id: int,
        zone_ids: Sequence[int],
        repeat: int = 1,
        after: str = "skip",
        source: str | None = None,
    ) -> Emergency:
        if user.role not in DECIDERS:
            raise Forbidden(N_("Only approvers and administrators may broadcast emergencies."))
        bulletin = session.get(Bulletin, bulletin_id)
        allowed = commune_ids(session, user)
        if bulletin is None or (allowed is not None and bulletin.commune_id not in allowed):
            raise InvalidInput(N_("Bulletin not found."), field="bulletin_id")
        if bulletin.status != "approved" or bulletin.media_sha256 is None:
            raise InvalidInput(
                N_("Only an approved bulletin can be broadcast as an emergency."), field="bulletin_id"
            )
        if not zone_ids:
            raise InvalidInput(N_("Choose at least one place to broadcast to."), field="zone_ids")
        for zone_id in zone_ids:
            zone = session.get(Zone, zone_id)
            if (
                zone is None
                or not can_touch_zone(session, user, zone)
                or (zone.kind == "province" and user.role != "admin")
            ):
                raise InvalidInput(
                    N_("One of the places is outside the area you look after."), field="zone_ids"
                )
        if not 1 <= repeat <= 20:
            raise InvalidInput(N_("The number of times is 1 to 20."), field="repeat")
        if after not in ("resume", "skip"):
            raise InvalidInput(N_("Invalid choice for what was interrupted."), field="after")
        emergency = Emergency(
            bulletin_id=bulletin_id,
            zone_ids_json=json.dumps(sorted(set(zone_ids))),
            repeat=repeat,
            after=after,
            created_by=user.id or 0,
            source=source,
        )
        session.add(emergency)
        session.flush()
        audit_log.record(
            session,
            actor=user,
            action="emergency.create",
            object_type="emergency",
            object_id=emergency.id,
            bulletin_id=bulletin_id,
            zones=sorted(set(zone_ids)),
            two_person=self.settings.emergency_two_person,
        )
        session.commit()
        if not self.settings.emergency_two_person:
            self._send(session, emergency, user)
        session.refresh(emergency)
        return emergency

    def confirm(self, session: Session, *, user: User, emergency_id: int) -> Emergency:
        emergency = self._get(session, user, emergency_id)
        if user.role not in DECIDERS:
            raise Forbidden(N_("Only approvers and administrators may confirm an emergency broadcast."))
        if emergency.status != "pending":
            raise Conflict(N_("This emergency broadcast is no longer awaiting confirmation."))
        if emergency.created_by == user.id:
            raise Forbidden(N_("A second person must confirm, not the one who created the order."))
        if utcnow() - emergency.created_at > timedelta(minutes=self.settings.emergency_confirm_minutes):
            emergency.status = "expired"
            session.add(emergency)
            audit_log.record(
                session,
                actor=user,
                action="emergency.expired",
                object_type="emergency",
                object_id=emergency.id,
            )
            session.commit()
            raise Conflict(N_("The time to confirm has passed; create a new order."))
        emergency.confirmed_by = user.id
        self._send(session, emergency, user)
        session.refresh(emergency)
        return emergency

    def stop(self, session: Session, *, user: User, emergency_id: int) -> Emergency:
        emergency = self._get(session, user, emergency_id)
        if user.role not in DECIDERS:
            raise Forbidden(N_("Only approvers and administrators may stop an emergency broadcast."))
        if emergency.status not in ("sent", "pending", "draft"):
            raise Conflict(N_("This order has already stopped or expired."))
        if emergency.status == "sent":
            for code in self._zone_codes(session, emergency):
                self._command(code, "stop", {}, f"e{emergency.id}-stop-{code}")
        emergency.status, emergency.stopped_at = "stopped", utcnow()
        session.add(emergency)
        audit_log.record(
            session, actor=user, action="emergency.stop", object_type="emergency", object_id=emergency.id
        )
        session.commit()
        session.refresh(emergency)
        return emergency

    def stop_all(self, session: Session, *, user: User) -> list[str]:
        """Silence every box the user is responsible for (the province, for an admin)."""
        if user.role not in DECIDERS:
            raise Forbidden(N_("Only approvers and administrators may stop everything."))
        allowed = commune_ids(session, user)
        if allowed is None:
            codes = list(session.exec(select(Zone.code).where(Zone.kind == "province")).all())
        else:
            codes = list(session.exec(select(Zone.code).where(col(Zone.id).in_(allowed))).all())
        stamp = utcnow().strftime("%Y%m%d%H%M%S")
        for code in codes:
            self._command(code, "stop", {}, f"stop-all-{stamp}-{code}")
        for emergency in session.exec(select(Emergency).where(Emergency.status == "sent")).all():
            if self._visible(session, user, emergency):
                emergency.status, emergency.stopped_at = "stopped", utcnow()
                session.add(emergency)
        audit_log.record(
            session, actor=user, action="emergency.stop_all", object_type="zone", object_id=",".join(codes)
        )
        session.commit()
        return codes

    def approve_draft(
        self, session: Session, *, user: User, emergency_id: int, renderer: Renderer
    ) -> Emergency:
        """A draft from a CAP alert: approve its bulletin (rendering it), then send or await confirmation."""
        emergency = self._get(session, user, emergency_id)
        if user.role not in DECIDERS:
            raise Forbidden(N_("Only approvers and administrators may approve an alert."))
        if emergency.status != "draft":
            raise Conflict(N_("This draft has already been dealt with."))
        bulletin = session.get(Bulletin, emergency.bulletin_id)
        assert bulletin is not None
        if bulletin.status == "submitted":
            approve_bulletin(session, user=user, bulletin=bulletin, renderer=renderer)
        emergency.status, emergency.created_by, emergency.created_at = "pending", user.id or 0, utcnow()
        session.add(emergency)
        audit_log.record(
            session,
            actor=user,
            action="emergency.approve_draft",
            object_type="emergency",
            object_id=emergency.id,
        )
        session.commit()
        if not self.settings.emergency_two_person:
            self._send(session, emergency, user)
        session.refresh(emergency)
        return emergency

    def list(self, session: Session, *, user: User) -> Sequence[Emergency]:
        rows = session.exec(select(Emergency).order_by(col(Emergency.id).desc()).limit(100)).all()
        return [e for e in rows if self._visible(session, user, e)]

    def _send(self, session: Session, emergency: Emergency, user: User) -> None:
        bulletin = session.get(Bulletin, emergency.bulletin_id)
        media = session.get(Media, bulletin.media_sha256) if bulletin and bulletin.media_sha256 else None
        if media is None:
            raise InvalidInput(N_("The bulletin has no approved audio yet."), field="bulletin_id")
        now = utcnow()
        ref = MediaRef(
            sha256=media.sha256,
            url=f"{self.settings.public_url.rstrip('/')}/media/{media.sha256}",
            bytes=media.bytes,
            duration_ms=media.duration_ms,
            mime=media.mime,
        )
        item = TimelineItem(
            id=f"e{emergency.id}",
            start_ms=int(now.timestamp() * 1000),
            duration_ms=media.duration_ms,
            kind="audio",
            priority="emergency",
            media=ref,
            bulletin_id=emergency.bulletin_id,
        )
        args = PlayNowArgs(item=item, repeat=emergency.repeat, after=emergency.after)  # type: ignore[arg-type]
        codes = self._zone_codes(session, emergency)
        for code in codes:
            self._command(code, "play_now", to_dict(args), f"e{emergency.id}-{code}")
        emergency.status, emergency.sent_at = "sent", now
        session.add(emergency)
        audit_log.record(
            session,
            actor=user,
            action="emergency.send",
            object_type="emergency",
            object_id=emergency.id,
            zones=codes,
            media_sha256=media.sha256,
        )
        session.commit()

    def _command(self, code: str, name: str, args: dict[str, object], command_id: str) -> None:
        envelope = sign_command(
            self.signer,
            command_id=command_id,
            target=f"zone:{code}",
            name=name,
            args=args,
            now=utcnow(),
            ttl=timedelta(seconds=self.settings.emergency_command_ttl_seconds),
        )
        self.publish(self.topics.zone_command(code), envelope, False)

    def _zone_codes(self, session: Session, emergency: Emergency) -> list[str]:
        ids = json.loads(emergency.zone_ids_json)
        return sorted(session.exec(select(Zone.code).where(col(Zone.id).in_(ids))).all())

    def _visible(self, session: Session, user: User, emergency: Emergency) -> bool:
        zones = visible_zone_ids(session, user=user)
        return zones is None or set(json.loads(emergency.zone_ids_json)) <= zones

    def _get(self, session: Session, user: User, emergency_id: int) -> Emergency:
        emergency = session.get(Emergency, emergency_id)
        if emergency is None or not self._visible(session, user, emergency):
            raise NotFound(N_("Emergency broadcast not found."))
        return emergency
