"""The audit log and the receipts are hash-chained; ``verify`` catches any row changed behind its back."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from itertools import pairwise
from pathlib import Path

import pytest
import sqlalchemy as sa
from alembic import command
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select
from sqlmodel.sql.sqltypes import UTCDateTime

from controller import audit_log, checkpoints
from controller.audit_chain import GENESIS, hash_of_event, hash_of_receipt
from controller.audit_verify import AuditError, Summary, verify_all
from controller.db import alembic_config, make_engine, migrate
from controller.models import AuditCheckpoint, AuditEvent, ChainHead, Receipt
from controller.receipts import handle_report, row_fields
from playlists.signing import public_key_b64, public_key_from_b64, sign
from playlists.wire import Receipt as ReceiptDoc
from tests.controller.conftest import PASSWORD, World, approved_bulletin
from tests.databases import database_url

NOW = datetime(2026, 11, 30, 3, 0, tzinfo=UTC)


def _receipt(world: World, device_id: str, seq: int) -> bytes:
    doc = ReceiptDoc(
        device_id=device_id,
        seq=seq,
        event="completed",
        item_id="s1-1000",
        started_at_ms=1000,
        recorded_at_ms=2000,
    )
    return sign(doc, world.device_keys[device_id], device_id)


def _store(world: World, device_id: str, *seqs: int) -> None:
    for seq in seqs:
        assert handle_report(world.services.engine, device_id=device_id, raw=_receipt(world, device_id, seq))


def _verify(world: World, *kept: Path) -> Summary:
    """As ``loa audit verify`` does: the database, the exported checkpoint files, copies kept elsewhere."""
    files = [*checkpoints.files(world.services.settings), *kept]
    return verify_all(
        world.services.engine, controller_key=world.services.signer.private_key.public_key(), files=files
    )


def _checkpoint(world: World, now: datetime = NOW) -> Path:
    _doc, path = checkpoints.write(
        world.services.engine, signer=world.services.signer, settings=world.services.settings, now=now
    )
    return path


def _history(world: World) -> None:
    """Logins, a bulletin's decisions, receipts from two boxes, and a checkpoint of it all."""
    approved_bulletin(world)
    _store(world, "box-a1", 1, 2, 3)
    _store(world, "box-b1", 1, 2)
    _checkpoint(world)


def _events(engine: Engine) -> list[AuditEvent]:
    with Session(engine) as session:
        return list(session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all())


def test_every_decision_login_and_receipt_is_linked_to_the_one_before(world: World) -> None:
    _history(world)
    events = _events(world.services.engine)
    assert [e.seq for e in events] == list(range(1, len(events) + 1))
    assert events[0].prev_hash == GENESIS
    assert all(e.prev_hash == before.hash for before, e in pairwise(events))
    assert all(e.hash == hash_of_event(e) for e in events)
    actions = [e.action for e in events]
    assert {"device.add", "login", "bulletin.create", "bulletin.approve"} <= set(actions)
    with world.session() as session:
        receipts = session.exec(select(Receipt).order_by(col(Receipt.chain_seq))).all()
        head = session.get(ChainHead, "receipt")
    assert [r.chain_seq for r in receipts] == [1, 2, 3, 4, 5]
    assert all(r.hash == hash_of_receipt(r) for r in receipts)
    assert head is not None and (head.seq, head.hash) == (5, receipts[-1].hash)
    summary = _verify(world)
    assert (summary.events, summary.receipts, summary.checkpoints) == (len(events), 5, 2)  # row, file
    assert summary.audit_head == events[-1].hash


def test_logins_are_audited_with_their_failures_but_never_the_password(world: World) -> None:
    client = world.client
    assert client.post("/login", data={"username": "editor_a", "password": "nope-123"}).status_code == 401
    assert client.post("/login", data={"username": "ghost", "password": "nope-123"}).status_code == 401
    assert client.post("/login", data={"username": "editor_a", "password": PASSWORD}).status_code in (
        200,
        303,
    )
    logins = [
        (e.action, e.object_id, e.detail or "") for e in _events(world.services.engine) if "login" in e.action
    ]
    assert [(a, json.loads(d)["reason"]) for a, _o, d in logins if a == "login.failed"] == [
        ("login.failed", "wrong password"),
        ("login.failed", "unknown user"),
    ]
    assert (
        logins[1][1] == "ghost" and logins[-1][0] == "login" and json.loads(logins[-1][2]) == {"kind": "web"}
    )
    assert not any(secret in d for _a, _o, d in logins for secret in ("nope-123", PASSWORD))


def test_concurrent_appends_from_threads_stay_one_chain(world: World) -> None:
    engine = world.services.engine
    errors: list[BaseException] = []

    def decide(n: int) -> None:
        try:
            for i in range(8):
                with Session(engine) as session:
                    audit_log.record(
                        session, actor=None, action="test.append", object_type="t", object_id=f"{n}-{i}"
                    )
                    session.commit()
        except BaseException as exc:  # the assertion below reports it
            errors.append(exc)

    def report(device_id: str) -> None:
        try:
            _store(world, device_id, *range(1, 11))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=decide, args=(n,)) for n in range(6)]
    threads += [threading.Thread(target=report, args=(d,)) for d in world.device_keys]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    appended = [e for e in _events(engine) if e.action == "test.append"]
    assert len(appended) == 48 and len({e.object_id for e in appended}) == 48
    summary = _verify(world)
    assert summary.receipts == 30 and summary.events == len(_events(engine))


def _sql(engine: Engine, statement: str, **params: object) -> None:
    with engine.begin() as db:
        db.execute(text(statement), params)


def _seq_of(engine: Engine, action: str) -> int:
    return next(e.seq or 0 for e in _events(engine) if e.action == action)


def _edit_detail(engine: Engine) -> str:
    seq = _seq_of(engine, "bulletin.approve")
    _sql(engine, "UPDATE auditevent SET detail = :d WHERE seq = :s", d='{"comment": "ok"}', s=seq)
    return f"audit seq {seq} "


def _delete_row(engine: Engine) -> str:
    seq = _seq_of(engine, "bulletin.submit")
    _sql(engine, "DELETE FROM auditevent WHERE seq = :s", s=seq)
    return f"audit seq {seq} is missing"


def _swap_rows(engine: Engine) -> str:
    """Swap what two events say (who did what to which object), keeping their places."""
    first = _seq_of(engine, "bulletin.submit")
    a, b = (e for e in _events(engine) if e.seq in (first, first + 1))
    for row, other in ((a, b), (b, a)):
        _sql(
            engine,
            "UPDATE auditevent SET actor_id = :actor, action = :action, object_id = :obj, detail = :detail "
            "WHERE id = :id",
            actor=other.actor_id,
            action=other.action,
            obj=other.object_id,
            detail=other.detail,
            id=row.id,
        )
    return f"audit seq {first} "


def _append_row(engine: Engine) -> str:
    """An event added at the end with a correct hash, but without the chain's head."""
    last = _events(engine)[-1]
    seq = (last.seq or 0) + 1
    forged = AuditEvent(at=NOW, action="bulletin.approve", object_type="bulletin", object_id="9", seq=seq)
    forged.prev_hash = last.hash
    forged.hash = hash_of_event(forged)
    with Session(engine) as session:
        session.add(forged)
        session.commit()
    return f"audit seq {seq} lies beyond the chain head (seq {seq - 1}): inserted"


def _edit_envelope(engine: Engine) -> str:
    with Session(engine) as session:
        receipt = session.exec(select(Receipt).where(Receipt.device_id == "box-a1", Receipt.seq == 2)).one()
    forged = receipt.envelope.replace('"event":"completed"', '"event":"failed"')
    assert forged != receipt.envelope
    _sql(engine, "UPDATE receipt SET envelope = :e WHERE id = :id", e=forged, id=receipt.id)
    return (
        f"receipt chain seq {receipt.chain_seq} (id {receipt.id}, box-a1 seq 2): its content does not match"
    )


def _edit_checkpoint(engine: Engine) -> str:
    with Session(engine) as session:
        row = session.exec(select(AuditCheckpoint)).one()
    forged = row.envelope.replace('"receipts":{"count":5', '"receipts":{"count":4')
    assert forged != row.envelope
    _sql(engine, "UPDATE auditcheckpoint SET envelope = :e WHERE id = :id", e=forged, id=row.id)
    return f"checkpoint 2026-11-30 (id {row.id}): the signature does not match"


@pytest.mark.parametrize(
    "tamper",
    [_edit_detail, _delete_row, _swap_rows, _append_row, _edit_envelope, _edit_checkpoint],
    ids=lambda f: f.__name__,
)
def test_verify_names_the_first_entry_changed_in_the_database(
    world: World, tamper: Callable[[Engine], str]
) -> None:
    _history(world)
    _verify(world)
    expected = tamper(world.services.engine)
    with pytest.raises(AuditError) as caught:
        _verify(world)
    assert str(caught.value).startswith(expected), str(caught.value)


def _rechain(engine: Engine) -> None:
    """What a careful forger does after an edit: recompute every hash and the heads."""
    with Session(engine) as session:
        head = GENESIS
        for event in session.exec(select(AuditEvent).order_by(col(AuditEvent.seq))).all():
            event.prev_hash = head
            event.hash = head = hash_of_event(event)
            session.add(event)
        session.connection().execute(text("UPDATE chainhead SET hash = :h WHERE name = 'audit'"), {"h": head})
        head = GENESIS
        for receipt in session.exec(select(Receipt).order_by(col(Receipt.chain_seq))).all():
            receipt.prev_hash = head
            receipt.hash = head = hash_of_receipt(receipt)
            session.add(receipt)
        session.connection().execute(
            text("UPDATE chainhead SET hash = :h WHERE name = 'receipt'"), {"h": head}
        )
        session.commit()


def test_a_consistently_rewritten_audit_chain_is_caught_by_the_checkpoint(world: World) -> None:
    _history(world)
    engine = world.services.engine
    _edit_detail(engine)
    _rechain(engine)
    with pytest.raises(
        AuditError, match=r"checkpoint 2026-11-30 \(id 1\): audit seq \d+ differs .* rewritten"
    ):
        _verify(world)


def test_a_consistently_rewritten_receipt_fails_its_box_signature(world: World) -> None:
    _history(world)
    engine = world.services.engine
    _edit_envelope(engine)
    _rechain(engine)
    with pytest.raises(AuditError, match=r"box-a1 seq 2\): the box's signature does not verify"):
        _verify(world)


def test_a_report_column_that_differs_from_the_signed_receipt_is_caught(world: World) -> None:
    _history(world)
    _sql(
        world.services.engine, "UPDATE receipt SET reason = 'mất điện' WHERE device_id = 'box-b1' AND seq = 1"
    )
    with pytest.raises(AuditError, match=r"box-b1 seq 1\): reason is 'mất điện' but the box signed None"):
        _verify(world)


def test_receipts_cut_from_the_end_are_caught_by_the_head_and_by_the_acks(world: World) -> None:
    _history(world)
    engine = world.services.engine
    _sql(engine, "DELETE FROM receipt WHERE chain_seq = 5")
    with pytest.raises(AuditError, match=r"receipt seq 5 is missing \(the head is at 5\)"):
        _verify(world)
    _sql(engine, "UPDATE chainhead SET seq = 4 WHERE name = 'receipt'")
    _rechain(engine)
    with pytest.raises(AuditError, match="receipt box-b1 seq 2 is missing, though the box was told 1 to 2"):
        _verify(world)


def test_receipts_signed_before_a_re_enrolment_still_verify(world: World) -> None:
    _store(world, "box-a1", 1)
    new_key = Ed25519PrivateKey.generate()
    with world.session() as session:
        audit_log.record(  # as registry.enroll does
            session,
            actor=None,
            action="device.enroll",
            object_type="device",
            object_id="box-a1",
            public_key=public_key_b64(new_key.public_key()),
        )
        session.commit()
    _sql(
        world.services.engine,
        "UPDATE device SET public_key = :k WHERE id = 'box-a1'",
        k=public_key_b64(new_key.public_key()),
    )
    world.device_keys["box-a1"] = new_key
    _store(world, "box-a1", 2)
    assert _verify(world).receipts == 2


def test_a_checkpoint_a_day_exported_as_signed_json_and_kept_copies_verify(
    world: World, tmp_path: Path
) -> None:
    settings, engine, signer = world.services.settings, world.services.engine, world.services.signer
    _store(world, "box-a1", 1)
    first = checkpoints.write_daily(engine, signer=signer, settings=settings, now=NOW)
    assert first == settings.data_dir / "checkpoints" / "2026-11-30.json"
    assert (
        checkpoints.write_daily(engine, signer=signer, settings=settings, now=NOW + timedelta(hours=5))
        is None
    )
    kept = tmp_path / "kept-by-the-culture-department.json"
    kept.write_bytes(first.read_bytes())
    document = checkpoints.open_envelope(first.read_bytes(), public_key_from_b64(signer.public_key_b64))
    assert document["receipts"] == {"seq": 1, "count": 1, "hash": _verify(world).receipt_head}
    assert document["day"] == "2026-11-30" and document["public_key"] == signer.public_key_b64
    _store(world, "box-a1", 2)
    # 21:00 UTC is the next morning in Hanoi: a new day, a new checkpoint
    assert checkpoints.write_daily(engine, signer=signer, settings=settings, now=NOW + timedelta(hours=18))
    summary = _verify(world, kept)
    assert summary.checkpoints == 2 + 2 + 1  # rows, exported files, the kept copy
    _sql(engine, "DELETE FROM receipt WHERE chain_seq = 2")
    _sql(engine, "DELETE FROM receipt WHERE chain_seq = 1")
    _sql(engine, "UPDATE chainhead SET seq = 0, hash = :h WHERE name = 'receipt'", h=GENESIS)
    _sql(engine, "UPDATE device SET acked_seq = 0")
    _sql(engine, "DELETE FROM auditcheckpoint")
    for path in checkpoints.files(settings):
        path.unlink()
    with pytest.raises(
        AuditError, match=r"kept-by-the-culture-department.json: receipt seq 1 it signed no longer"
    ):
        _verify(world, kept)


def test_verify_on_the_command_line_is_one_line_either_way(world: World) -> None:
    _history(world)
    settings = world.services.settings
    env = {
        **os.environ,
        "LOA_DATA_DIR": str(settings.data_dir),
        "LOA_DATABASE_URL": settings.resolved_database_url,
        "LOA_ENVIRONMENT": "development",
    }

    def loa(*args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            [sys.executable, "-m", "loa", "--log-level", "WARNING", *args],
            capture_output=True,
            text=True,
            env=env,
            timeout=120,
        )

    ok = loa("audit", "verify")
    assert ok.returncode == 0, ok.stderr
    assert ok.stdout.startswith("audit log intact: ") and ok.stdout.count("\n") == 1
    expected = _edit_detail(world.services.engine)
    bad = loa("audit", "verify")
    assert bad.returncode == 1 and bad.stdout == ""
    assert bad.stderr.startswith(f"loa audit verify: {expected}") and bad.stderr.count("\n") == 1


def test_the_migration_chains_rows_written_before_it(tmp_path: Path) -> None:
    url = database_url(tmp_path)
    migrate(url, "0006")
    engine = make_engine(url)
    when = UTCDateTime()
    key = Ed25519PrivateKey.generate()
    doc = ReceiptDoc(device_id="box-1", seq=1, event="completed", started_at_ms=1000, recorded_at_ms=2000)
    fields = row_fields(doc)
    with engine.begin() as db:
        db.execute(text("INSERT INTO zone (id, code, name, kind) VALUES (1, 'w1', 'Xã A', 'commune')"))
        db.execute(
            text(
                "INSERT INTO device (id, name, zone_id, public_key, is_active, created_at, state, acked_seq) "
                "VALUES ('box-1', 'Loa 1', 1, :k, true, '2026-11-29 00:00:00', 'online', 1)"
            ),
            {"k": public_key_b64(key.public_key())},
        )
        names = ("at", "action", "object_type", "object_id", "detail")
        old_events = sa.table("auditevent", *(sa.column(n, when if n == "at" else None) for n in names))
        for n, action in enumerate(("bulletin.create", "bulletin.submit", "bulletin.approve")):
            at = NOW + timedelta(minutes=n, microseconds=n)
            db.execute(
                sa.insert(old_events),
                {
                    "at": at,
                    "action": action,
                    "object_type": "bulletin",
                    "object_id": "1",
                    "detail": f'{{"n":{n}}}',
                },
            )
        receipt_columns = (*fields, "received_at", "envelope")
        old_receipts = sa.table(
            "receipt", *(sa.column(n, when if n.endswith("_at") else None) for n in receipt_columns)
        )
        db.execute(
            sa.insert(old_receipts),
            {**fields, "received_at": NOW, "envelope": sign(doc, key, "box-1").decode()},
        )
    migrate(url)
    events = _events(engine)
    assert [(e.seq, e.action) for e in events] == [
        (1, "bulletin.create"),
        (2, "bulletin.submit"),
        (3, "bulletin.approve"),
    ]
    summary = verify_all(engine, controller_key=None, files=[])
    assert (summary.events, summary.receipts, summary.audit_head) == (3, 1, events[-1].hash)
    with Session(engine) as session:  # and the chain goes on from there
        audit_log.record(session, actor=None, action="after", object_type="t", object_id="1")
        session.commit()
    assert verify_all(engine, controller_key=None, files=[]).events == 4
    engine.dispose()
    command.downgrade(alembic_config(url), "0006")
    check = sa.create_engine(url)
    columns = {c["name"] for c in sa.inspect(check).get_columns("auditevent")}
    assert "seq" not in columns and "chainhead" not in sa.inspect(check).get_table_names()
    check.dispose()
