"""CAP 1.2 alerts (OASIS Common Alerting Protocol) → emergency broadcast drafts.

The alert's text becomes an emergency bulletin waiting for approval; the zones its areas name
(by administrative code in a geocode, or by name in areaDesc) become the draft's targets. A person
still approves and confirms it: nothing airs from an alert alone.
"""

from __future__ import annotations

import json
import re
import unicodedata
from dataclasses import dataclass, field
from xml.etree.ElementTree import Element

from defusedxml import ElementTree
from defusedxml.common import DefusedXmlException
from sqlmodel import Session, col, select

from controller import audit_log
from controller.auth import commune_ids, commune_of
from controller.errors import Forbidden, InvalidInput
from controller.i18n import N_
from controller.models import Bulletin, Emergency, User, Zone

CAP_NS = "urn:oasis:names:tc:emergency:cap:1.2"
MAX_ALERT_BYTES = 512 * 1024


@dataclass
class CapAlert:
    identifier: str
    sender: str
    headline: str
    description: str
    instruction: str
    event: str
    severity: str
    area_names: list[str] = field(default_factory=list)
    geocodes: list[str] = field(default_factory=list)

    @property
    def text(self) -> str:
        parts = [self.headline, self.description, self.instruction]
        return "\n\n".join(p.strip() for p in parts if p and p.strip())


def parse_cap(raw: bytes) -> CapAlert:
    """Read a CAP 1.2 alert; prefers the Vietnamese <info>. Raises InvalidInput with the reason."""
    if len(raw) > MAX_ALERT_BYTES:
        raise InvalidInput(N_("The CAP alert is too large."), field="alert")
    try:
        root = ElementTree.fromstring(raw)
    except (ElementTree.ParseError, DefusedXmlException, ValueError) as exc:
        raise InvalidInput(
            N_("The CAP alert cannot be read (invalid XML): %(error)s"), field="alert", error=str(exc)
        ) from None
    if root.tag != f"{{{CAP_NS}}}alert":
        raise InvalidInput(N_("This is not a CAP 1.2 alert."), field="alert")

    def text(node: Element | None, name: str) -> str:
        found = node.find(f"{{{CAP_NS}}}{name}") if node is not None else None
        return (found.text or "").strip() if found is not None else ""

    if text(root, "status") not in ("Actual", "Exercise") or text(root, "msgType") not in ("Alert", "Update"):
        raise InvalidInput(
            N_("Only real CAP alerts are accepted (Actual/Exercise, Alert/Update)."), field="alert"
        )
    infos = root.findall(f"{{{CAP_NS}}}info")
    if not infos:
        raise InvalidInput(N_("The CAP alert has no info block."), field="alert")
    info = next((i for i in infos if text(i, "language").lower().startswith("vi")), infos[0])
    alert = CapAlert(
        identifier=text(root, "identifier"),
        sender=text(root, "sender"),
        headline=text(info, "headline"),
        description=text(info, "description"),
        instruction=text(info, "instruction"),
        event=text(info, "event"),
        severity=text(info, "severity"),
    )
    for area in info.findall(f"{{{CAP_NS}}}area"):
        alert.area_names.extend(n.strip() for n in re.split(r"[;,\n]", text(area, "areaDesc")) if n.strip())
        alert.geocodes.extend(
            text(g, "value") for g in area.findall(f"{{{CAP_NS}}}geocode") if text(g, "value")
        )
    if not alert.text:
        raise InvalidInput(N_("The CAP alert has nothing to read out."), field="alert")
    return alert


def _key(name: str) -> str:
    return unicodedata.normalize("NFC", name).casefold().strip()


def match_zones(session: Session, alert: CapAlert) -> list[Zone]:
    """Zones named by the alert: geocodes as our codes (w17329) or ward numbers (17329), or names."""
    zones = session.exec(select(Zone).where(col(Zone.kind).in_(("province", "commune", "village")))).all()
    by_code = {z.code: z for z in zones}
    by_name: dict[str, list[Zone]] = {}
    for zone in zones:
        by_name.setdefault(_key(zone.name), []).append(zone)
    found: dict[int, Zone] = {}
    for code in alert.geocodes:
        zone = by_code.get(code) or by_code.get(f"w{code}")
        if zone is not None and zone.id is not None:
            found[zone.id] = zone
    for name in alert.area_names:
        for zone in by_name.get(_key(name), []):
            if zone.id is not None:
                found[zone.id] = zone
    return sorted(found.values(), key=lambda z: z.name)


def import_cap(session: Session, *, user: User, raw: bytes) -> tuple[Bulletin, Emergency]:
    """Turn an alert into an emergency bulletin (submitted) and a draft broadcast to its zones."""
    if user.role not in ("admin", "approver"):
        raise Forbidden(N_("Only approvers, administrators or authorised systems may send CAP alerts."))
    alert = parse_cap(raw)
    zones = match_zones(session, alert)
    allowed = commune_ids(session, user)
    if allowed is not None:
        zones = [z for z in zones if (c := commune_of(session, z)) is not None and c.id in allowed]
    if not zones:
        raise InvalidInput(N_("None of the alert's areas is within the area you look after."), field="area")
    commune = next((z for z in zones if z.kind == "commune"), None)
    if commune is None:
        commune = next((c for z in zones if (c := commune_of(session, z)) is not None), None)
    if commune is None:  # a province-wide alert: file the bulletin under the first commune of the user
        commune = session.exec(select(Zone).where(Zone.kind == "commune").order_by(col(Zone.name))).first()
    assert commune is not None
    bulletin = Bulletin(
        commune_id=commune.id or 0,
        title=(alert.headline or alert.event or "Cảnh báo khẩn cấp")[:300],
        body=alert.text[:30_000],
        category="emergency",
        source_ref=f"CAP {alert.identifier} ({alert.sender})"[:300],
        status="submitted",
        author_id=user.id or 0,
    )
    session.add(bulletin)
    session.flush()
    emergency = Emergency(
        bulletin_id=bulletin.id or 0,
        zone_ids_json=json.dumps(sorted(z.id or 0 for z in zones)),
        status="draft",
        created_by=user.id or 0,
        source=f"CAP {alert.identifier}"[:300],
    )
    session.add(emergency)
    session.flush()
    audit_log.record(
        session,
        actor=user,
        action="emergency.cap_import",
        object_type="emergency",
        object_id=emergency.id,
        identifier=alert.identifier,
        sender=alert.sender,
        zones=[z.code for z in zones],
        severity=alert.severity,
    )
    session.commit()
    session.refresh(bulletin)
    session.refresh(emergency)
    return bulletin, emergency
