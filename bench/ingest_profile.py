"""``bench/status_ingest.py --profile``: the controller's ingest paths in-process, timed and under
cProfile, on a copy of the database the benchmark's controller left behind (3,000 boxes, their
receipts). Where the controller's CPU goes, without py-spy.

* ``status_one``: ``controller.devices.handle_status``, one status per transaction;
* ``status_batch``: ``controller.health.write_statuses`` in batches, as the app's ``StatusWriter``
  does (``--profile-batch`` statuses per batch, with its ``HealthSampler``);
* ``receipt``: ``controller.receipts.handle_report`` and signing the ack, as the app's MQTT handler does.
"""

from __future__ import annotations

import cProfile
import pstats
import random
import sqlite3
import sys
import time
from collections.abc import Callable
from datetime import timedelta
from pathlib import Path
from typing import Any


def _copy(db_path: Path, to: Path) -> None:
    source, target = sqlite3.connect(db_path), sqlite3.connect(to)
    source.backup(target)
    source.close()
    target.close()


def profile_ingest(
    work: Path, device_ids: list[str], *, seed: int, out: Path, messages: int, batch: int
) -> dict[str, Any]:
    """Time each path (wall and CPU per message), then run it again under cProfile (top functions
    to stderr, the whole profile next to ``out``)."""
    from swarm import device_key

    from controller.db import make_engine
    from controller.devices import handle_status
    from controller.health import HealthSampler, write_statuses
    from controller.keys import Signer
    from controller.models import utcnow
    from controller.receipts import handle_report
    from playlists.signing import sign
    from playlists.wire import Receipt, Status, to_json

    rng = random.Random(seed)
    copy = work / "profile.db"
    _copy(work / "controller" / "loa.db", copy)
    engine = make_engine(f"sqlite:///{copy}")
    signer = Signer.from_file(work / "controller" / "keys" / "controller_ed25519.pem")
    with sqlite3.connect(copy) as db:
        seqs = dict(db.execute("SELECT device_id, max(seq) FROM receipt GROUP BY device_id").fetchall())
    keys = {d: device_key(d, seed) for d in device_ids}

    def statuses() -> list[tuple[str, bytes]]:
        now_ms = time.time_ns() // 1_000_000
        return [
            (d, to_json(Status(device_id=d, state="online", at_ms=now_ms + n, uptime_s=n, disk_free_mb=5200)))
            for n, d in enumerate(rng.choices(device_ids, k=messages))
        ]

    def receipts() -> list[tuple[str, bytes]]:
        result = []
        for device in rng.choices(device_ids, k=messages):
            seqs[device] = seqs.get(device, 0) + 1
            doc = Receipt(
                device_id=device, seq=seqs[device], event="completed", recorded_at_ms=time.time_ns() // 10**6
            )
            result.append((device, sign(doc, keys[device], device)))  # a box's kid is its id
        return result

    def status_one() -> Callable[[], None]:
        docs = statuses()

        def run() -> None:
            for device, raw in docs:
                handle_status(engine, device_id=device, raw=raw)

        return run

    def status_batch() -> Callable[[], None]:
        docs = [(device, raw, utcnow()) for device, raw in statuses()]
        sampler = HealthSampler(timedelta(seconds=50))

        def run() -> None:
            for i in range(0, len(docs), batch):
                write_statuses(engine, docs[i : i + batch], sampler=sampler)

        return run

    def receipt() -> Callable[[], None]:
        docs = receipts()

        def run() -> None:
            for device, raw in docs:
                ack = handle_report(engine, device_id=device, raw=raw)
                assert ack is not None, "a receipt was refused"
                signer.sign(ack)

        return run

    result: dict[str, Any] = {"messages": messages, "batch": batch}
    for name, make in (("status_one", status_one), ("status_batch", status_batch), ("receipt", receipt)):
        run = make()
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
        result[name] = {
            "ms_per_msg": round(wall * 1000 / messages, 3),
            "cpu_ms_per_msg": round(cpu * 1000 / messages, 3),
        }
        profile = cProfile.Profile()
        profile.runcall(make())
        path = out.parent / f"status_ingest-{name}.prof"
        profile.dump_stats(path)
        for order in ("tottime", "cumulative"):
            print(
                f"\n--- cProfile {name}, {messages} messages, by {order} (whole: {path}) ---", file=sys.stderr
            )
            pstats.Stats(profile, stream=sys.stderr).sort_stats(order).print_stats(14)
    engine.dispose()
    return result
