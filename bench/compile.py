"""Issue 4's benchmark: compile a large province's timelines, in full and after one commune's edit.

Two layers compile the same scenario (``build_scenario``), each in its own subprocess so that the
peak RSS reported belongs to one layer only:

* ``pure``: ``playlists.compiler.compile_timelines`` on in-memory occurrences (baseline: expanding
  the rules into those occurrences);
* ``controller``: ``TimelinePublisher.refresh`` on a seeded SQLite database (load, expand, compile,
  sign with Ed25519, store), full and with ``device_ids`` (baseline: canonical JSON + Ed25519 signing
  of the same documents).

The database is seeded in a third subprocess, so seeding's memory is not counted either.

    .venv/bin/python bench/compile.py [--boxes 3000] [--communes 130] [--days 7] [--repeat 3]
    .venv/bin/python bench/compile.py --quick      # CI size
"""

from __future__ import annotations

import argparse
import base64
import cProfile
import gc
import hashlib
import json
import os
import pstats
import random
import statistics
import subprocess
import sys
import tempfile
import time as clock
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from playlists.compiler import Occurrence, compile_timelines
from playlists.playlist import PlaylistEntry, expand
from playlists.policy import VolumeLimit, Window, ZonePolicy
from playlists.rules import DEFAULT_TZ, NthWeekday, Rule
from playlists.rules import occurrences as rule_occurrences
from playlists.wire import MediaRef, Priority

HERE = Path(__file__).resolve().parent
TZ = ZoneInfo(DEFAULT_TZ)
NOW = datetime(2026, 3, 25, tzinfo=TZ).astimezone(UTC)  # a Wednesday: the week holds March's last Tuesday
FIRST_DAY = date(2026, 1, 1)
MEDIA_URL = "http://127.0.0.1:8000"  # Settings.public_url's default, so both layers build the same URLs
RELAY_URL = "https://vov.example.vn/vov1"
CHIME_MS = 8_000
TARGETS = {"full_s": 10.0, "incremental_s": 0.5}
POLICY = ZonePolicy(
    quiet_hours=(Window(start=time(21), end=time(5, 30)), Window(start=time(12), end=time(13, 30))),
    max_sessions_per_day=6,
    max_minutes_per_day=90,
    volume_limits=(
        VolumeLimit(window=Window(start=time(5), end=time(6, 30)), max_volume=70),
        VolumeLimit(window=Window(start=time(20), end=time(21)), max_volume=60),
    ),
)

Target = tuple[str, int, int]  # ("province", -1, -1), ("commune", c, -1) or ("village", c, v)


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


CHIME = sha("chime")


@dataclass(frozen=True)
class Spec:
    """One schedule row; ids are the database ids too, so clash ties resolve alike in both layers."""

    id: int
    target: Target
    rule: Rule
    priority: Priority = "normal"
    bulletin_id: int | None = None
    playlist_id: int | None = None
    volume: int = 100


@dataclass
class Scenario:
    boxes: list[list[list[str]]]  # [commune][village] -> device ids
    audio: dict[int, tuple[int, str, int]] = field(default_factory=dict)  # bulletin -> commune, sha, ms
    playlists: dict[int, tuple[int, tuple[PlaylistEntry, ...]]] = field(default_factory=dict)
    specs: list[Spec] = field(default_factory=list)
    edited: int = 0  # the commune whose 17:00 schedule the incremental run moves

    def devices(self, target: Target) -> tuple[str, ...]:
        kind, c, v = target
        if kind == "village":
            return tuple(sorted(self.boxes[c][v]))
        communes = range(len(self.boxes)) if kind == "province" else [c]
        return tuple(sorted(d for k in communes for village in self.boxes[k] for d in village))

    def policies(self) -> dict[str, ZonePolicy]:
        """Half the communes (the even ones) have quiet hours, daily caps and volume limits."""
        return {d: POLICY for c in range(0, len(self.boxes), 2) for d in self.devices(("commune", c, -1))}

    def edit(self, repeat: int) -> Spec:
        """The edited commune's 17:00 bulletin, moved earlier (by a different amount each repeat)."""
        spec = next(
            s for s in self.specs if s.target == ("commune", self.edited, -1) and s.rule.times == (time(17),)
        )
        moved = spec.rule.model_copy(update={"times": (time(16, 30 - 5 * (repeat % 6)),)})
        return Spec(spec.id, spec.target, moved, spec.priority, spec.bulletin_id, spec.playlist_id)


def build_scenario(boxes: int, communes: int) -> Scenario:
    """~23 boxes per commune over 3–5 villages; ~6 airings a day per box, some clashing on purpose."""
    rng = random.Random(4)
    tree: list[list[list[str]]] = []
    for c in range(communes):
        n = boxes // communes + (1 if c < boxes % communes else 0)
        villages: list[list[str]] = [[] for _ in range(max(1, min(rng.randint(3, 5), n)))]
        for i in range(n):
            village = villages[i] if i < len(villages) else rng.choice(villages)
            village.append(f"c{c:03d}-v{villages.index(village)}-{len(village):02d}")
        tree.append(villages)
    scn = Scenario(tree, edited=communes // 2)

    def bulletin(commune: int, minutes: float) -> int:
        bid = len(scn.audio) + 1
        scn.audio[bid] = (commune, sha(f"bulletin-{bid}"), int(minutes * 60_000))
        return bid

    def chimed(commune: int, bid: int) -> int:
        pid = len(scn.playlists) + 1
        chime = PlaylistEntry(kind="chime", media_sha256=CHIME)
        scn.playlists[pid] = (commune, (chime, PlaylistEntry(kind="bulletin", bulletin_id=bid), chime))
        return pid

    def schedule(target: Target, rule: Rule, **kw: Any) -> None:
        scn.specs.append(Spec(len(scn.specs) + 1, target, rule, **kw))

    def daily(h: int, m: int = 0) -> Rule:
        return Rule(kind="daily", start_date=FIRST_DAY, times=(time(h, m),))

    def weekly(days: list[int], h: int, m: int = 0) -> Rule:
        return Rule(kind="weekly", start_date=FIRST_DAY, weekdays=tuple(days), times=(time(h, m),))

    last_tuesday = Rule(
        kind="monthly", start_date=FIRST_DAY, nth_weekday=NthWeekday(weekday=1, n=-1), times=(time(8),)
    )
    province: Target = ("province", -1, -1)
    relay = len(scn.playlists) + 1
    scn.playlists[relay] = (-1, (PlaylistEntry(kind="stream", stream_url=RELAY_URL, duration_ms=1_800_000),))
    schedule(province, daily(18), playlist_id=relay)  # provincial news relay, 30 min
    for c in range(communes):
        commune: Target = ("commune", c, -1)
        schedule(commune, daily(6), playlist_id=chimed(c, bulletin(c, rng.uniform(4, 8))))
        schedule(commune, daily(11), bulletin_id=bulletin(c, 5))  # farming and weather
        schedule(commune, daily(17), playlist_id=chimed(c, bulletin(c, rng.uniform(6, 10))))
        schedule(commune, daily(20, 45), bulletin_id=bulletin(c, 30), volume=80)  # crosses 21:00 quiet hours
        schedule(commune, last_tuesday, bulletin_id=bulletin(c, 15))  # monthly meeting summary
        for v in range(len(tree[c])):
            schedule(("village", c, v), daily(19), bulletin_id=bulletin(c, 5))  # village head
            legal = chimed(c, bulletin(c, 20))
            schedule(("village", c, v), weekly([(c + v) % 7], 19, 30), playlist_id=legal)
        # Deliberate clashes, created after what they clash with: a priority alert beats 17:00 on
        # Mondays and Thursdays; a weekend village slot loses to the older 06:00 of the same tier.
        schedule(commune, weekly([0, 3], 17, 5), priority="priority", bulletin_id=bulletin(c, 3))
        schedule(("village", c, 0), weekly([5, 6], 6, 5), bulletin_id=bulletin(c, 10))
    schedule(province, weekly([2], 17, 55), priority="priority", bulletin_id=bulletin(-1, 10))
    return scn


def media_ref(sha256: str, duration_ms: int) -> MediaRef:
    return MediaRef(
        sha256=sha256, url=f"{MEDIA_URL}/media/{sha256}", bytes=duration_ms * 8, duration_ms=duration_ms
    )  # 64 kbit/s MP3


def expand_specs(scn: Scenario, specs: list[Spec], since: datetime, until: datetime) -> list[Occurrence]:
    """What controller.airings.occurrences_of does, on in-memory specs."""
    bulletins: dict[int, MediaRef | None] = {b: media_ref(s, ms) for b, (_, s, ms) in scn.audio.items()}
    playlists = {p: entries for p, (_, entries) in scn.playlists.items()}
    chimes = {CHIME: media_ref(CHIME, CHIME_MS)}
    result = []
    for spec in specs:
        entry = (
            PlaylistEntry(kind="bulletin", bulletin_id=spec.bulletin_id)
            if spec.bulletin_id
            else PlaylistEntry(kind="playlist", playlist_id=spec.playlist_id)
        )
        segments = expand((entry,), playlists=playlists, bulletins=bulletins, chimes=chimes)
        devices = scn.devices(spec.target)
        length = timedelta(milliseconds=sum(s.duration_ms for s in segments))
        for at in rule_occurrences(spec.rule, since - length, until):
            start_ms = int(at.timestamp() * 1000)
            result.append(
                Occurrence(spec.id, spec.id, start_ms, segments, spec.priority, devices, spec.volume)
            )
    return result


def peak_rss_mb() -> float:
    import resource

    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return round(peak / (1024 * 1024 if sys.platform == "darwin" else 1024), 1)


@dataclass
class Runs:
    """Wall and CPU seconds of each run of one measurement; wall well above CPU means a busy machine."""

    wall: list[float] = field(default_factory=list)
    cpu: list[float] = field(default_factory=list)

    def time(self, fn: Callable[[], Any]) -> Any:
        gc.collect()
        wall, cpu = clock.perf_counter(), clock.process_time()
        result = fn()
        self.wall.append(clock.perf_counter() - wall)
        self.cpu.append(clock.process_time() - cpu)
        return result

    def summary(self, name: str) -> dict[str, Any]:
        return {
            f"{name}_s": statistics.median(self.wall),
            f"{name}_cpu_s": statistics.median(self.cpu),
            f"{name}_runs_s": self.wall,
        }


def profiled(args: argparse.Namespace, name: str, fn: Callable[[], Any]) -> None:
    """Run once more under cProfile; top functions to stderr, the whole profile next to --out."""
    profile = cProfile.Profile()
    profile.runcall(fn)
    out = args.out.parent / f"compile-{name}.prof"
    out.parent.mkdir(parents=True, exist_ok=True)
    profile.dump_stats(out)
    for order in ("tottime", "cumulative"):
        print(f"\n--- cProfile {name} by {order} (whole profile: {out}) ---", file=sys.stderr)
        pstats.Stats(profile, stream=sys.stderr).sort_stats(order).print_stats(14)


def run_pure(args: argparse.Namespace) -> dict[str, Any]:
    scn = build_scenario(args.boxes, args.communes)
    since, until = NOW, NOW + timedelta(days=args.days)
    now_ms, horizon_ms = int(NOW.timestamp() * 1000), args.days * 86_400_000
    policies, everyone = scn.policies(), scn.devices(("province", -1, -1))
    mine = scn.devices(("commune", scn.edited, -1))
    expand, full, incr = Runs(), Runs(), Runs()
    occurrences: list[Occurrence] = []
    compiled = None
    for _ in range(args.repeat):
        occurrences = []
        occurrences = expand.time(lambda: expand_specs(scn, scn.specs, since, until))
    setup_rss = peak_rss_mb()  # interpreter, scenario and occurrences: what the compile starts from
    for _ in range(args.repeat):
        compiled = None  # keep one result alive at a time, as the controller does
        compiled = full.time(
            lambda: compile_timelines(
                occurrences, everyone, now_ms=now_ms, horizon_ms=horizon_ms, policies=policies
            )
        )
    assert compiled is not None

    def incremental(edited: Spec) -> Any:
        kept = [o for o in occurrences if o.schedule_id != edited.id]
        fresh = kept + expand_specs(scn, [edited], since, until)
        return compile_timelines(
            fresh,
            mine,
            now_ms=now_ms,
            horizon_ms=horizon_ms,
            policies={d: policies[d] for d in mine if d in policies},
        )

    for r in range(args.repeat):
        edited = scn.edit(r)
        part = incr.time(lambda: incremental(edited))  # noqa: B023 — called before the loop moves on
        assert part.timelines[mine[0]] != compiled.timelines[mine[0]], "the edit changed nothing"
    peak = peak_rss_mb()
    if args.profile:
        profiled(
            args,
            "pure-full",
            lambda: compile_timelines(
                occurrences, everyone, now_ms=now_ms, horizon_ms=horizon_ms, policies=policies
            ),
        )
    items = sum(len(line) for line in compiled.timelines.values())
    airings = sum(1 for line in compiled.timelines.values() for i in line if i.id.endswith("-0"))
    candidates = sum(len(o.device_ids) for o in occurrences if o.end_ms > now_ms)
    return {
        **full.summary("full"),
        **incr.summary("incremental"),
        **expand.summary("expand"),
        "peak_rss_mb": peak,
        "setup_rss_mb": setup_rss,
        "schedules": len(scn.specs),
        "occurrences": len(occurrences),
        "boxes": len(everyone),
        "incremental_boxes": len(mine),
        "items": items,
        "conflicts": dict(sorted(Counter(c.reason for c in compiled.conflicts).items())),
        "candidate_airings_per_box_day": round(candidates / len(everyone) / args.days, 2),
        "placed_airings_per_box_day": round(airings / len(everyone) / args.days, 2),
    }


def run_seed(args: argparse.Namespace) -> dict[str, Any]:
    from sqlmodel import Session, select

    from controller.db import make_engine, migrate
    from controller.models import Bulletin, Device, Media, Playlist, Schedule, Zone
    from controller.seed import add_user, load_province

    start = clock.perf_counter()
    scn = build_scenario(args.boxes, args.communes)
    url = f"sqlite:///{args.data_dir / 'loa.db'}"
    migrate(url)
    engine = make_engine(url)
    rng = random.Random(40)
    with Session(engine) as session:
        province = load_province(session)
        communes = session.exec(select(Zone).where(Zone.kind == "commune").order_by(Zone.name)).all()
        if len(communes) < args.communes:
            raise SystemExit(f"the province has {len(communes)} communes, fewer than --communes")
        communes = communes[: args.communes]
        admin = add_user(
            session,
            username="bench",
            full_name="Bench",
            password="bench-only-1",
            role="admin",
            commune_ids=[],
        )
        for c in range(0, len(communes), 2):
            communes[c].policy_json = POLICY.model_dump_json()
        villages = [
            [
                Zone(code=f"v{c:03d}-{v}", name=f"Thôn {v + 1}", kind="village", parent_id=zone.id)
                for v in range(len(scn.boxes[c]))
            ]
            for c, zone in enumerate(communes)
        ]
        session.add_all([*communes, *(v for vs in villages for v in vs)])
        session.flush()
        session.add_all(
            Device(
                id=d,
                name=d,
                zone_id=villages[c][v].id or 0,
                public_key=base64.b64encode(rng.randbytes(32)).decode(),
                media_token_hash=sha(d),
            )
            for c, vs in enumerate(scn.boxes)
            for v, ids in enumerate(vs)
            for d in ids
        )
        session.add(Media(sha256=CHIME, bytes=CHIME_MS * 8, duration_ms=CHIME_MS))
        zone_of = {-1: province.id}
        zone_of.update({c: z.id for c, z in enumerate(communes)})
        session.add_all(Media(sha256=m, bytes=ms * 8, duration_ms=ms) for _, m, ms in scn.audio.values())
        session.flush()  # no relationships are declared, so the flush does not order tables by foreign key
        for bid, (c, media, _) in scn.audio.items():
            session.add(
                Bulletin(
                    id=bid,
                    commune_id=zone_of[c] or 0,
                    title=f"Bản tin {bid}",
                    body="Kính thưa bà con.",
                    status="approved",
                    author_id=admin.id or 0,
                    approver_id=admin.id,
                    text_sha256=sha(f"text-{bid}"),
                    media_sha256=media,
                )
            )
        for pid, (c, entries) in scn.playlists.items():
            session.add(
                Playlist(
                    id=pid,
                    commune_id=zone_of[c] if c >= 0 else None,
                    name=f"DS {pid}",
                    created_by=admin.id or 0,
                    entries_json=json.dumps([e.model_dump(mode="json") for e in entries]),
                )
            )
        session.flush()
        for spec in scn.specs:
            kind, c, v = spec.target
            zone_id = villages[c][v].id if kind == "village" else zone_of[c]
            opens = datetime.combine(FIRST_DAY, time(), TZ)
            session.add(
                Schedule(
                    id=spec.id,
                    bulletin_id=spec.bulletin_id,
                    playlist_id=spec.playlist_id,
                    target_kind="zone",
                    target_zone_id=zone_id,
                    rule_json=spec.rule.model_dump_json(),
                    starts_at=rule_occurrences(spec.rule, opens, opens + timedelta(days=40))[0],
                    priority=spec.priority,
                    volume=spec.volume,
                    created_by=admin.id or 0,
                )
            )
        session.commit()
    engine.dispose()
    return {"seed_s": round(clock.perf_counter() - start, 2), "schedules": len(scn.specs)}


def make_publisher(args: argparse.Namespace) -> tuple[Any, str]:
    """The publisher as create_app wires it; built by hand when audio/ does not import right now."""
    from controller.settings import Settings

    settings = Settings(
        data_dir=args.data_dir, environment="development", timeline_horizon_hours=args.days * 24
    )
    try:
        from controller.app import create_app

        app = create_app(settings, connect_mqtt=False, run_jobs=False)
        return app.state.services.publisher, "create_app"
    except Exception as exc:  # audio/ is being rewritten; the publisher needs none of it
        from controller.db import make_engine
        from controller.keys import Signer
        from controller.timelines import TimelinePublisher
        from playlists.wire import Topics

        publisher = TimelinePublisher(
            engine=make_engine(settings.resolved_database_url),
            signer=Signer.from_file(settings.resolved_signing_key_path),
            topics=Topics(settings.topic_root),
            publish=lambda *_: None,
            media_url=settings.public_url,
            horizon=timedelta(hours=settings.timeline_horizon_hours),
        )
        return publisher, f"TimelinePublisher (create_app failed: {type(exc).__name__})"


def run_controller(args: argparse.Namespace) -> dict[str, Any]:
    from sqlmodel import Session, delete, select

    from controller.models import DeviceTimeline, Schedule
    from playlists.signing import canonical_json

    scn = build_scenario(args.boxes, args.communes)
    mine = list(scn.devices(("commune", scn.edited, -1)))
    publisher, built_with = make_publisher(args)
    engine = publisher.engine
    sent: list[int] = []
    publisher.publish = lambda _topic, payload, _retain: sent.append(len(payload))
    full, noop, incr = Runs(), Runs(), Runs()
    published, signed_bytes, incr_published = [], [], []
    setup_rss = peak_rss_mb()  # interpreter, FastAPI app and libraries: what refresh starts from
    for _ in range(args.repeat):
        with Session(engine) as session:  # a cold start: every box gets a new signed timeline
            session.exec(delete(DeviceTimeline))
            session.commit()
        sent.clear()
        published.append(full.time(lambda: publisher.refresh(NOW)))
        signed_bytes.append(sum(sent))
        assert noop.time(lambda: publisher.refresh(NOW)) == 0, "an unchanged refresh republished"
    conflicts = dict(sorted(Counter(c.reason for c in publisher.last_conflicts).items()))
    items = 0
    with engine.connect() as conn:  # counted outside the timings, streamed to keep the peak honest
        for (envelope,) in conn.execution_options(yield_per=100).execute(select(DeviceTimeline.envelope)):
            items += envelope.count('"id":"s')
    for r in range(args.repeat):
        edited = scn.edit(r)
        with Session(engine) as session:
            row = session.get(Schedule, edited.id)
            assert row is not None
            row.rule_json = edited.rule.model_dump_json()
            session.add(row)
            session.commit()
        incr_published.append(incr.time(lambda: publisher.refresh(NOW, device_ids=mine)))
    peak = peak_rss_mb()
    if args.profile:
        profiled(args, "controller-incremental", lambda: publisher.refresh(NOW, device_ids=mine))
        with Session(engine) as session:
            session.exec(delete(DeviceTimeline))
            session.commit()
        profiled(args, "controller-full", lambda: publisher.refresh(NOW))
    # Baseline: canonical JSON + Ed25519 over the same documents, nothing else.
    key, kid = publisher.signer.private_key, publisher.signer.kid
    sign_s, documents = 0.0, 0
    with engine.connect() as conn:
        for (envelope,) in conn.execution_options(yield_per=100).execute(select(DeviceTimeline.envelope)):
            payload = json.loads(envelope)["payload"]
            start = clock.perf_counter()
            sig = base64.b64encode(key.sign(canonical_json(payload))).decode()
            canonical_json({"payload": payload, "sig": sig, "kid": kid})
            sign_s += clock.perf_counter() - start
            documents += 1
    engine.dispose()
    return {
        **full.summary("full"),
        **incr.summary("incremental"),
        **noop.summary("noop_refresh"),
        "peak_rss_mb": peak,
        "setup_rss_mb": setup_rss,
        "sign_baseline_s": sign_s,
        "sign_baseline_documents": documents,
        "timelines_published": statistics.median(published),
        "incremental_published": statistics.median(incr_published),
        "signed_bytes": statistics.median(signed_bytes),
        "items": items,
        "conflicts": conflicts,
        "built_with": built_with,
    }


CHILDREN = {"pure": run_pure, "seed": run_seed, "controller": run_controller}


def child(name: str, args: argparse.Namespace) -> dict[str, Any]:
    """Run one layer in a fresh interpreter; its result comes back through a file."""
    out = args.data_dir / f"{name}.json"
    command = [
        sys.executable,
        str(Path(__file__).resolve()),
        "--child",
        name,
        "--data-dir",
        str(args.data_dir),
        "--boxes",
        str(args.boxes),
        "--communes",
        str(args.communes),
        "--days",
        str(args.days),
        "--repeat",
        str(args.repeat),
        "--out",
        str(args.out),
        *(["--profile"] if args.profile else []),
    ]
    print(f"… {name}", file=sys.stderr, flush=True)
    if subprocess.run(command, check=False).returncode != 0:
        raise SystemExit(f"bench/compile.py: the {name} layer failed (see above)")
    result: dict[str, Any] = json.loads(out.read_text())
    return result


def ratio(a: float, b: float) -> float:
    return float(f"{a / b:.3g}") if b else float("nan")


def report(
    config: dict[str, Any], pure: dict[str, Any], ctl: dict[str, Any], seed: dict[str, Any]
) -> dict[str, Any]:
    def met(layer: dict[str, Any]) -> dict[str, bool]:
        return {k: layer[k] < limit for k, limit in TARGETS.items()}

    ratios = {
        "pure_compile_over_rrule_expansion": ratio(pure["full_s"], pure["expand_s"]),
        "pure_incremental_over_full": ratio(pure["incremental_s"], pure["full_s"]),
        "controller_full_over_sign_baseline": ratio(ctl["full_s"], ctl["sign_baseline_s"]),
        "controller_full_over_pure_full": ratio(ctl["full_s"], pure["full_s"]),
        "controller_incremental_over_full": ratio(ctl["incremental_s"], ctl["full_s"]),
        "controller_incremental_over_pure_incremental": ratio(ctl["incremental_s"], pure["incremental_s"]),
    }
    return {
        # Top-level numbers are the controller's end to end: what an operator waits for.
        "full_s": ctl["full_s"],
        "incremental_s": ctl["incremental_s"],
        "peak_rss_mb": ctl["peak_rss_mb"],
        "targets": TARGETS,
        "targets_met": {"controller": met(ctl), "pure": met(pure)},
        "config": config,
        "seed": seed,
        "pure": pure,
        "controller": ctl,
        "ratios": ratios,
        "consistent": pure["items"] == ctl["items"] and pure["conflicts"] == ctl["conflicts"],
    }


def print_table(r: dict[str, Any]) -> None:
    c, p, k = r["config"], r["pure"], r["controller"]

    def verdict(layer: str, key: str) -> str:
        return "ok" if r["targets_met"][layer][key] else "MISSED"

    print(
        f"Loa compile benchmark — {p['boxes']} boxes, {c['communes']} communes, {c['days']}-day horizon, "
        f"median of {c['repeat']} (load average at start {c['load_average']})"
    )
    print(
        f"scenario: {p['schedules']} schedules, {p['occurrences']} occurrences, "
        f"{p['candidate_airings_per_box_day']} candidate / {p['placed_airings_per_box_day']} placed "
        f"airings per box per day, {p['items']} items, conflicts {p['conflicts']}"
    )
    head = f"{'layer':<28}{'full s':>8}{'(cpu)':>8}{'incr s':>8}{'(cpu)':>8}{'peak RSS MB':>12}{'(setup)':>8}"
    print(f"\n{head}   full<10s  incr<0.5s")
    for name, layer, row in (("pure compiler", "pure", p), ("controller refresh (SQLite)", "controller", k)):
        print(
            f"{name:<28}{row['full_s']:>8.3f}{row['full_cpu_s']:>8.3f}{row['incremental_s']:>8.3f}"
            f"{row['incremental_cpu_s']:>8.3f}{row['peak_rss_mb']:>12.1f}{row['setup_rss_mb']:>8.1f}"
            f"   {verdict(layer, 'full_s'):<9} {verdict(layer, 'incremental_s')}"
        )
    signed_mb = k["signed_bytes"] / 1e6
    print(
        f"\ncontroller: {k['timelines_published']:.0f} timelines published ({signed_mb:.1f} MB signed), "
        f"{k['incremental_published']:.0f} on the incremental run ({p['incremental_boxes']} boxes); "
        f"unchanged refresh {k['noop_refresh_s']:.3f} s; seeding {r['seed']['seed_s']} s; "
        f"built with {k['built_with']}"
    )
    print(
        f"baselines: rrule expansion {p['expand_s']:.3f} s; canonical JSON + Ed25519 of "
        f"{k['sign_baseline_documents']} timelines {k['sign_baseline_s']:.3f} s"
    )
    for name, value in r["ratios"].items():
        print(f"  {name:<46}{value:>9.3g}×")
    print("layers agree on items and conflicts" if r["consistent"] else "WARNING: layers disagree")


def parse_args(argv: list[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--boxes", type=int, help="default 3000 (300 with --quick)")
    parser.add_argument("--communes", type=int, help="at most 130, Nghệ An's; default 130 (13 with --quick)")
    parser.add_argument("--days", type=int, default=7, help="timeline horizon")
    parser.add_argument(
        "--repeat", type=int, help="runs per measurement, median reported; default 3 (1 quick)"
    )
    parser.add_argument("--quick", action="store_true", help="CI size: 300 boxes, 13 communes, 1 run")
    parser.add_argument("--profile", action="store_true", help="also run once under cProfile (stderr)")
    parser.add_argument("--out", type=Path, default=HERE / "results" / "compile.json")
    parser.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    parser.add_argument("--data-dir", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    quick = args.quick
    args.boxes = args.boxes or (300 if quick else 3000)
    args.communes = args.communes or (13 if quick else 130)
    args.repeat = args.repeat or (1 if quick else 3)
    if not (1 <= args.communes <= args.boxes and args.days >= 1 and args.repeat >= 1):
        parser.error("need 1 <= communes <= boxes, days >= 1 and repeat >= 1")
    return args


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        result = CHILDREN[args.child](args)
        (args.data_dir / f"{args.child}.json").write_text(json.dumps(result))
        return 0
    config = {
        "boxes": args.boxes,
        "communes": args.communes,
        "days": args.days,
        "repeat": args.repeat,
        "quick": args.quick,
        "now": NOW.isoformat(),
        "python": sys.version.split()[0],
        "load_average": round(os.getloadavg()[0], 2),  # other work on the machine skews timings
    }
    with tempfile.TemporaryDirectory(prefix="loa-bench-") as tmp:
        args.data_dir = Path(tmp)
        pure = child("pure", args)
        seed = child("seed", args)
        ctl = child("controller", args)
    result = report(config, pure, ctl, seed)
    print_table(result)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2, ensure_ascii=False) + "\n")
    print(f"\nwrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
