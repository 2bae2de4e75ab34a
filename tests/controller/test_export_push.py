"""The export push against a real HTTP receiver on a free port that refuses the first attempts: it
retries with backoff, signs every request, moves each feed's cursor only on success (nothing skipped,
nothing sent again after it was accepted), and records every delivery."""

from __future__ import annotations

import hashlib
import hmac
import json
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
from sqlmodel import col, select

from controller.export_push import ExportPush
from controller.models import ExportCursor, ExportDelivery, utcnow
from controller.settings import Settings
from tests.controller.conftest import World, approved_bulletin, make_world

SECRET = "test-secret-of-the-province"  # test fixture only


@dataclass
class Receiver:
    """Answers 503 to the first ``refuse`` requests, then 200; keeps what it accepted."""

    refuse: int = 0
    seen: int = 0
    accepted: list[tuple[dict[str, str], dict[str, Any]]] = field(default_factory=list)
    url: str = ""

    def records(self, kind: str) -> list[dict[str, Any]]:
        return [r for _h, body in self.accepted if body["kind"] == kind for r in body["records"]]


@pytest.fixture
def receiver() -> Iterator[Receiver]:
    state = Receiver()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            body = self.rfile.read(int(self.headers["Content-Length"]))
            state.seen += 1
            if state.seen <= state.refuse:
                self.send_response(503)
                self.end_headers()
                return
            expected = hmac.new(
                SECRET.encode(), self.headers["X-Loa-Timestamp"].encode() + b"." + body, hashlib.sha256
            ).hexdigest()
            if self.headers["X-Loa-Signature"] != f"sha256={expected}":
                self.send_response(401)
                self.end_headers()
                return
            state.accepted.append((dict(self.headers), json.loads(body)))
            self.send_response(204)
            self.end_headers()

        def log_message(self, format: str, *args: Any) -> None:
            """Quiet: the test reads what arrived from ``state``, not from stderr."""

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    state.url = f"http://127.0.0.1:{server.server_address[1]}/loa"
    yield state
    server.shutdown()
    server.server_close()


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    yield from make_world(Path(tmp_path_factory.mktemp("export-push")))


def _push(world: World, receiver: Receiver, waits: list[float]) -> ExportPush:
    return ExportPush(
        world.services.engine,
        receiver.url,
        SECRET,
        page_size=2,
        attempts=3,
        sleep=waits.append,
        now=lambda: utcnow() + timedelta(hours=1),  # past the devices feed's lag
        timeout_s=5,
    )


def _deliveries(world: World) -> list[tuple[str, str, int, int | None]]:
    with world.session() as session:
        rows = session.exec(select(ExportDelivery).order_by(col(ExportDelivery.id))).all()
    return [(d.kind, d.status, d.attempts, d.http_status) for d in rows]


def test_the_push_retries_with_backoff_and_delivers_each_record_once(
    world: World, receiver: Receiver
) -> None:
    approved_bulletin(world)  # three bulletin changes: create, submit, approve
    receiver.refuse = 2
    waits: list[float] = []
    report = _push(world, receiver, waits).run()
    assert report.failed is None and report.delivered["bulletins"] == 3
    assert waits == [2.0, 4.0]  # two refusals, then accepted on the third attempt
    bulletins = receiver.records("bulletins")
    assert [r["event"] for r in bulletins] == ["bulletin.create", "bulletin.submit", "bulletin.approve"]
    assert {r["id"] for r in receiver.records("devices")} >= {"box-a1", "box-a2", "box-b1"}
    first_headers, first_body = receiver.accepted[0]
    assert first_body["schema_version"] == "1.0" and first_body["cursor_from"] is None
    assert len(first_headers["X-Loa-Delivery"]) == 32
    assert _deliveries(world)[0] == ("bulletins", "delivered", 3, 204)
    # Nothing new: nothing is sent. One more change: only it.
    sent = len(receiver.accepted)
    assert _push(world, receiver, waits).run().line() == "nothing new"
    assert len(receiver.accepted) == sent
    approved_bulletin(world)
    _push(world, receiver, waits).run()
    assert [r["event"] for r in receiver.records("bulletins")][3:] == [
        "bulletin.create",
        "bulletin.submit",
        "bulletin.approve",
    ]
    seqs = [r["seq"] for r in receiver.records("bulletins")]
    assert seqs == sorted(set(seqs))  # none twice, none out of order


def test_a_failed_run_keeps_the_cursor_and_the_next_run_resends_the_same_page(
    world: World, receiver: Receiver
) -> None:
    with world.session() as session:
        before = session.get(ExportCursor, "bulletins")
        cursor = before.cursor if before else None
    approved_bulletin(world)
    receiver.refuse = 3  # every attempt of this run
    waits: list[float] = []
    report = _push(world, receiver, waits).run()
    assert report.failed is not None and report.failed.startswith("bulletins: HTTP 503")
    assert waits == [2.0, 4.0] and receiver.accepted == []
    with world.session() as session:
        after = session.get(ExportCursor, "bulletins")
    assert (after.cursor if after else None) == cursor
    assert _deliveries(world)[-1] == ("bulletins", "failed", 3, 503)
    failed_id = _last_delivery_id(world)
    _push(world, receiver, waits).run()  # the receiver is back
    headers, body = receiver.accepted[0]
    assert headers["X-Loa-Delivery"] == failed_id and body["cursor_from"] == cursor
    assert [r["event"] for r in receiver.records("bulletins")] == [
        "bulletin.create",
        "bulletin.submit",
        "bulletin.approve",
    ]


def _last_delivery_id(world: World) -> str:
    with world.session() as session:
        row = session.exec(select(ExportDelivery).order_by(col(ExportDelivery.id).desc())).first()
    assert row is not None
    return row.delivery_id


def test_the_record_of_old_deliveries_is_pruned_each_run(world: World, receiver: Receiver) -> None:
    """One row a page and run would grow for ever: rows older than ``keep_deliveries`` go."""
    now = utcnow()
    with world.session() as session:
        for age_days in (200, 91, 89):
            session.add(
                ExportDelivery(
                    delivery_id=f"old-{age_days}",
                    kind="bulletins",
                    cursor_to="x",
                    status="delivered",
                    started_at=now - timedelta(days=age_days),
                )
            )
        session.commit()
    push = _push(world, receiver, [])
    push.now = lambda: now
    push.run()
    with world.session() as session:
        kept = {d.delivery_id for d in session.exec(select(ExportDelivery)).all()}
    assert "old-89" in kept and not kept & {"old-91", "old-200"}
    assert push.prune() == 0  # nothing more to delete


def test_a_push_url_needs_a_secret(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="LOA_EXPORT_PUSH_SECRET"):
        Settings(data_dir=tmp_path, export_push_url="http://127.0.0.1:9/loa")
    assert Settings(
        data_dir=tmp_path, export_push_url="http://x/loa", export_push_secret=SECRET
    ).export_push_url


def test_the_leader_runs_the_push_only_when_a_url_is_set(tmp_path: Path) -> None:
    import sqlite3

    from fastapi.testclient import TestClient

    from controller.app import create_app
    from controller.db import migrate

    settings = Settings(
        data_dir=tmp_path, export_push_url="http://127.0.0.1:9/loa", export_push_secret=SECRET
    )
    migrate(settings.resolved_database_url)
    with TestClient(create_app(settings, connect_mqtt=False)), sqlite3.connect(tmp_path / "loa.db") as db:
        jobs = dict(db.execute("SELECT id, next_run_time FROM apscheduler_jobs").fetchall())
    assert "export-push" in jobs and "asrun-fold" in jobs
