"""The scheduled push of the export (controller/export_api.py) to the province's URL: the leader's job
``export-push`` POSTs each feed's new records, page by page, signed with HMAC-SHA256.

Each feed's cursor (table ``exportcursor``) moves only when the receiver answers 2xx, in the same
transaction that records the delivery (``exportdelivery``): a failure retries the same page with
exponential backoff, then gives up until the next run, which starts from the same cursor — nothing
is skipped, and a page is sent again only if its delivery was not acknowledged (its
``X-Loa-Delivery`` id, which depends only on the feed and where the page starts, lets the receiver
recognise it). docs/export.md describes the request.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from sqlalchemy import Engine, delete
from sqlmodel import Session, col

from controller.export_api import KINDS, SCHEMA_VERSION, read_page
from controller.models import ExportCursor, ExportDelivery, utcnow
from controller.settings import Settings

log = logging.getLogger(__name__)
SIGNATURE_HEADER = "X-Loa-Signature"
USER_AGENT = f"loa-export/{SCHEMA_VERSION}"


def signature(secret: str, timestamp: str, body: bytes) -> str:
    """``sha256=`` and the hex HMAC-SHA256 of ``timestamp.body`` under the shared secret."""
    mac = hmac.new(secret.encode(), timestamp.encode() + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def delivery_id(kind: str, cursor_from: str | None) -> str:
    """The same for every attempt to deliver the page of ``kind`` that starts at ``cursor_from``."""
    return hashlib.sha256(f"{kind}\n{cursor_from or ''}".encode()).hexdigest()[:32]


class DeliveryFailed(Exception):
    def __init__(self, message: str, status: int | None = None) -> None:
        super().__init__(message)
        self.status = status


@dataclass
class PushReport:
    """What one run delivered: records per feed, and the failure that stopped it (if any)."""

    delivered: dict[str, int] = field(default_factory=dict)
    failed: str | None = None

    def line(self) -> str:
        sent = ", ".join(f"{kind} {n}" for kind, n in self.delivered.items() if n) or "nothing new"
        return sent + (f"; stopped: {self.failed}" if self.failed else "")


@dataclass
class ExportPush:
    """Pushes every feed's new records to ``url``."""

    engine: Engine
    url: str
    secret: str
    page_size: int = 500
    max_pages: int = 20  # per feed and run: a long backlog drains over several runs
    attempts: int = 4
    backoff_s: float = 2.0  # waits 2, 4, 8 s between attempts
    timeout_s: float = 30.0
    keep_deliveries: timedelta = timedelta(days=90)
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = utcnow

    @classmethod
    def from_settings(cls, engine: Engine, settings: Settings) -> ExportPush:
        return cls(
            engine,
            settings.export_push_url,
            settings.export_push_secret,
            keep_deliveries=timedelta(days=settings.export_delivery_keep_days),
        )

    def run(self) -> PushReport:
        """Deliver what is new in every feed; stop at the first page that cannot be delivered. The
        record of deliveries older than ``keep_deliveries`` goes first (one row a page, every run)."""
        self.prune()
        report = PushReport()
        for kind in KINDS:
            report.delivered[kind] = 0
            for _ in range(self.max_pages):
                try:
                    sent, more = self._push_page(kind)
                except DeliveryFailed as exc:
                    report.failed = f"{kind}: {exc}"
                    log.warning("export push to %s failed: %s", self.url, report.failed)
                    return report
                report.delivered[kind] += sent
                if not more:
                    break
        return report

    def prune(self) -> int:
        """Delete the records of deliveries older than ``keep_deliveries``; returns how many."""
        with Session(self.engine) as session:
            result = session.exec(
                delete(ExportDelivery).where(
                    col(ExportDelivery.started_at) < self.now() - self.keep_deliveries
                )
            )
            session.commit()
        return int(result.rowcount or 0)

    def _push_page(self, kind: str) -> tuple[int, bool]:
        now = self.now()
        with Session(self.engine) as session:
            stored = session.get(ExportCursor, kind)
            cursor_from = stored.cursor if stored else None
            page = read_page(session, kind, now=now, cursor=cursor_from, limit=self.page_size)
        if not page.records:
            return 0, False
        body = json.dumps(
            {**page.document(now=now), "cursor_from": cursor_from}, ensure_ascii=False, separators=(",", ":")
        ).encode()
        ident = delivery_id(kind, cursor_from)
        attempts, status, error = 0, None, None
        while attempts < self.attempts:
            attempts += 1
            try:
                status = self._post(body, ident)
                error = None
                break
            except DeliveryFailed as exc:
                status, error = exc.status, str(exc)[:500]
                if attempts < self.attempts:
                    self.sleep(self.backoff_s * 2 ** (attempts - 1))
        with Session(self.engine) as session:
            session.add(
                ExportDelivery(
                    delivery_id=ident,
                    kind=kind,
                    cursor_from=cursor_from,
                    cursor_to=page.cursor,
                    records=len(page.records),
                    attempts=attempts,
                    status="failed" if error else "delivered",
                    http_status=status,
                    error=error,
                    started_at=now,
                    finished_at=self.now(),
                )
            )
            if error is None:
                row = session.get(ExportCursor, kind) or ExportCursor(kind=kind, cursor="")
                row.cursor, row.updated_at = page.cursor or "", self.now()
                session.add(row)
            session.commit()
        if error is not None:
            raise DeliveryFailed(error, status)
        return len(page.records), page.more

    def _post(self, body: bytes, ident: str) -> int:
        timestamp = str(int(self.now().timestamp()))
        request = urllib.request.Request(
            self.url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json; charset=utf-8",
                "User-Agent": USER_AGENT,
                "X-Loa-Delivery": ident,
                "X-Loa-Timestamp": timestamp,
                SIGNATURE_HEADER: signature(self.secret, timestamp, body),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=self.timeout_s) as answer:
                return int(answer.status)
        except urllib.error.HTTPError as exc:
            raise DeliveryFailed(f"HTTP {exc.code}", exc.code) from None
        except (urllib.error.URLError, OSError) as exc:
            raise DeliveryFailed(str(getattr(exc, "reason", exc))) from None
