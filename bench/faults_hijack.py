"""Hijack, from issue 9's fault suite: thousands of forged, replayed, expired, rolled-back and
cross-commune timelines, commands and acks (bench/faults_forge.py, seeded) published straight to a
fleet's broker. None may play and each must be reported.

Two attackers, the two ways in:

* **a compromised box's credentials** (its broker account and its own device key, taken from its
  folder; that box's agent does not run): the broker's ACL must refuse every publish on another
  box's topics or a zone's (MQTT 5 PUBACK "not authorized", counted), so none reaches a box; the
  receipts it may publish on its own report topic, forged for other boxes or signed with another
  key, must each be refused by the controller (its log says so, one line each) and none stored;
* **an account that may publish on the boxes' topics** (a stolen controller broker password, or the
  broker itself compromised; here the fleet's floor account, a controller replica's rights): every
  attempt reaches its boxes, whose real ``Trust`` must refuse it. Each refusal is counted in the
  box's status (``rejected_documents``, stored by the controller, an alert on the panel) and the
  first 30 distinct ones an hour also become signed ``failed`` receipts with reason
  ``security:<code>`` (the agent's cap against a flood filling its outbox, edge_agent/agent.py).

The checks: no airing of an attack item, no timeline adopted, no receipt naming an attack; each
box's count of refusals, as the controller stored it, equals what was delivered to it; its
security receipts number min(30, distinct documents) and carry only the codes expected. A control
at the end (one genuine ``play_now``) must play, so "nothing played" is not a blind check.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from faults_forge import Attempt, Forge, Target, box_account_attack
from faults_soak import published_versions
from fleet import Fleet
from fleet_boxes import device_id

REPORTS_PER_HOUR = 30  # edge_agent.agent.SECURITY_REPORTS_PER_HOUR


@dataclass(frozen=True)
class HijackSize:
    boxes: int
    attempts: int  # through the account that reaches the boxes
    box_account_attempts: int  # with the compromised box's credentials
    seed: int = 9


def run_hijack(work: Path, size: HijackSize, *, log: Any) -> Hijack:
    from playlists.signing import load_or_create_private_key

    names = [device_id(n) for n in range(size.boxes)]
    stolen = device_id(size.boxes)  # enrolled, never started: the attacker has its folder
    with Fleet(
        work / "hijack", boxes=size.boxes + 1, procs=1, schedules=True, status_every_s=30, log=log
    ) as fleet:
        seeded = fleet.seed()
        fleet.start_controller()
        fleet.grow(size.boxes)
        versions = published_versions(fleet)
        fleet.wait_timelines(min(versions[n] for n in names), timeout_s=120)
        key = load_or_create_private_key(fleet.settings.resolved_signing_key_path)
        forge, configs = make_forge(fleet, key, names, stolen, versions, size.seed)
        owner = fleet.bare_client()
        # The originals first (genuine, executed once: what the replays repeat), then wait for them.
        _publish_all(owner, [(forge.topics.command(t.name), t.original) for t in forge.targets])
        originals = "SELECT COUNT(*) FROM receipt WHERE command_id LIKE 'original-%'"
        _settle(lambda: _count(fleet, originals), len(names), 60)
        fleet.events("first_sample"), fleet.events("timeline")  # forget what came before
        refused_before = _controller_refusals(fleet)
        box_side = box_account_attack(configs[stolen], forge, size.box_account_attempts, names)
        attempts = forge.attempts(size.attempts)
        started = time.monotonic()
        _publish_all(owner, [(a.topic, a.payload, a.kind == "timeline") for a in attempts])
        publish_s = time.monotonic() - started
        topics = forge.topics
        delivered = deliveries(
            attempts,
            {n: (topics.command(n), topics.timeline(n), topics.ack(n)) for n in names},
            {n: tuple(topics.zone_command(z) for z in configs[n].zones) for n in names},
        )
        want_counts = {n: len(delivered[n]) for n in names}
        want_reports = {
            n: min(REPORTS_PER_HOUR, len({hashlib.sha256(a.payload).digest() for a in delivered[n]}))
            for n in names
        }
        # A burst this size overflows the broker's queue for the controller: a dropped status comes
        # again with the next periodic one, dropped receipts with the boxes' resends.
        settle_s = 60 + size.boxes * 0.15
        counted, _ok = _settle(lambda: _agent_rejections(fleet), want_counts, 2 * settle_s)
        stored, _ok = _settle(lambda: _stored_rejections(fleet, names), want_counts, settle_s)
        reported, _ok = _settle(lambda: _per_box(_security_receipts(fleet, names)), want_reports, settle_s)
        handled_s = time.monotonic() - started
        refused = _controller_refusals(fleet) - refused_before
        seen = Observed(
            plays=[row for row in fleet.events("first_sample") if str(row[1]).startswith("attack")],
            # A version beyond the controller's own (it may publish one meanwhile) came from the attack.
            adopted=[row for row in fleet.events("timeline") if row[1] > published_versions(fleet)[row[0]]],
            attack_receipts=_count(
                fleet,
                "SELECT COUNT(*) FROM receipt WHERE item_id LIKE 'attack%' OR command_id LIKE 'attack%'",
            ),
            counted=counted,
            stored=stored,
            reported=reported,
            codes=_security_receipts(fleet, names),
            want_counts=want_counts,
            want_reports=want_reports,
            allowed={n: {f"security:{a.code}" for a in delivered[n]} for n in names},
            box_account=box_side
            | {
                "refused_by_controller": refused,
                "stored": _count(fleet, f"SELECT COUNT(*) FROM receipt WHERE device_id = '{stolen}'"),
            },
            # The control: one genuine play_now must play (the detector above sees airings).
            control_played=control_play(fleet, owner, key, topics, names[0], seeded.media[0]),
        )
        owner.loop_stop()
        owner.disconnect()
    found = problems(seen)
    all_codes = Counter(code for c in seen.codes.values() for code in c.elements())
    result = {
        "boxes": size.boxes,
        "seed": size.seed,
        "attempts": len(attempts),
        "by_kind_and_way": dict(sorted(Counter(f"{a.kind}:{a.way}" for a in attempts).items())),
        "deliveries": sum(want_counts.values()),
        "publish_s": round(publish_s, 2),
        "handled_s": round(handled_s, 2),
        "refusals_counted_by_boxes": sum(counted.values()),
        "refusals_stored_by_controller": sum(stored.values()),
        "security_receipts": sum(reported.values()),
        "security_codes": dict(sorted(all_codes.items())),
        "plays": len(seen.plays),
        "timelines_adopted": len(seen.adopted),
        "box_account": seen.box_account,
        "control_played": seen.control_played,
        "problems": found,
        "passed": not found,
    }
    return Hijack(result, seen)


@dataclass(frozen=True)
class Observed:
    """What the attack left behind, and what it should have."""

    plays: list[Any]  # airings of an attack item
    adopted: list[Any]  # timelines adopted during the attack
    attack_receipts: int  # receipts naming an attack item or command
    counted: dict[str, int]  # refusals each box counted
    stored: dict[str, int]  # refusals each box's last status told the controller
    reported: dict[str, int]  # security receipts stored per box
    codes: dict[str, Counter[str]]  # their reasons
    want_counts: dict[str, int]  # documents delivered to each box
    want_reports: dict[str, int]  # min(30, distinct documents delivered)
    allowed: dict[str, set[str]]  # the reasons each box's deliveries call for
    box_account: dict[str, int]  # the stolen box account's publishes, and what became of them
    control_played: bool


@dataclass(frozen=True)
class Hijack:
    result: dict[str, Any]
    seen: Observed


def problems(seen: Observed) -> list[str]:
    """Everything the attack achieved or that went unreported, as sentences (none: passed)."""
    found = []
    if seen.plays:
        found.append(f"{len(seen.plays)} attack item(s) went on air: {seen.plays[:3]}")
    if seen.adopted:
        found.append(f"{len(seen.adopted)} timeline(s) adopted during the attack: {seen.adopted[:3]}")
    if seen.attack_receipts:
        found.append(f"{seen.attack_receipts} receipt(s) name an attack item or command")
    for what, got, want in (
        ("refusals counted by the boxes", seen.counted, seen.want_counts),
        ("refusals stored by the controller", seen.stored, seen.want_counts),
        ("security receipts stored", seen.reported, seen.want_reports),
    ):
        if got != want:
            found.append(f"{what}: {_diff(got, want)}")
    wrong = {n: sorted(set(c) - seen.allowed.get(n, set())) for n, c in seen.codes.items()}
    wrong = {n: codes for n, codes in wrong.items() if codes}
    if wrong:
        found.append(f"security receipts with unexpected codes: {dict(list(wrong.items())[:3])}")
    box = seen.box_account
    if box["accepted_by_broker"]:
        found.append(f"the broker let {box['accepted_by_broker']} publish(es) of a box account through")
    if box["refused_by_controller"] != box["forged_receipts"] or box["stored"]:
        found.append(
            f"forged receipts: {box['forged_receipts']} sent, {box['refused_by_controller']} refused, "
            f"{box['stored']} stored"
        )
    if not seen.control_played:
        found.append("the control (a genuine play_now) did not play: the check for airings is blind")
    return found


def make_forge(
    fleet: Fleet, key: Any, names: list[str], stolen: str, versions: dict[str, int], seed: int
) -> tuple[Forge, dict[str, Any]]:
    """The generator, aimed at the running boxes; and every box's agent.toml (the stolen one's too)."""
    from edge_agent.config import load_config
    from playlists.signing import sign
    from playlists.wire import Command, SetVolumeArgs, Topics, to_dict

    assert fleet.seeded is not None
    configs = {n: load_config(fleet.box_root / "boxes" / n / "agent.toml") for n in [*names, stolen]}
    now_ms = int(time.time() * 1000)
    targets = []
    for name in names:
        original = Command(
            id=f"original-{name}",
            target=name,
            issued_at_ms=now_ms - 60_000,
            expires_at_ms=now_ms + 3_600_000,
            name="set_volume",
            args=to_dict(SetVolumeArgs(volume=100)),
        )
        targets.append(Target(name, configs[name].zones, versions[name], sign(original, key, _kid(key))))
    forge = Forge(
        seed=seed,
        topics=Topics(configs[stolen].topic_root),
        controller_key=key,
        targets=targets,
        media=fleet.seeded.media[0],
        now_ms=now_ms,
    )
    return forge, configs


def deliveries(
    attempts: list[Attempt], own: dict[str, tuple[str, ...]], zones: dict[str, tuple[str, ...]]
) -> dict[str, list[Attempt]]:
    """Which attempts reach which box: those on its own topics and on its zones' command topics."""
    by_topic: dict[str, list[str]] = defaultdict(list)
    for name in own:
        for topic in (*own[name], *zones[name]):
            by_topic[topic].append(name)
    found: dict[str, list[Attempt]] = {name: [] for name in own}
    for attempt in attempts:
        for name in by_topic.get(attempt.topic, []):
            found[name].append(attempt)
    return found


def control_play(fleet: Fleet, owner: Any, key: Any, topics: Any, name: str, media: dict[str, Any]) -> bool:
    """A genuine play_now to one box: it must go on air (seen by the same events as the attack's)."""
    from playlists.signing import sign
    from playlists.wire import Command, MediaRef, PlayNowArgs, TimelineItem, to_dict

    now = int(time.time() * 1000)
    item = TimelineItem(
        id="control-1",
        start_ms=now,
        duration_ms=int(media["duration_ms"]),
        media=MediaRef(
            sha256=media["sha256"],
            url="control",
            bytes=int(media["bytes"]),
            duration_ms=int(media["duration_ms"]),
            mime="audio/ogg",
        ),
    )
    command = Command(
        id="control-1",
        target=name,
        issued_at_ms=now,
        expires_at_ms=now + 600_000,
        name="play_now",
        args=to_dict(PlayNowArgs(item=item)),
    )
    _publish_all(owner, [(topics.command(name), sign(command, key, _kid(key)))])
    _played, ok = _settle(
        lambda: any(row[1] == "control-1" for row in fleet.events("first_sample")), True, 30
    )
    return ok


# --- plumbing ------------------------------------------------------------------------------------


def _kid(key: Any) -> str:
    from playlists.signing import key_id

    return key_id(key.public_key())


def _publish_all(client: Any, messages: list[tuple[str, bytes]] | list[tuple[str, bytes, bool]]) -> None:
    """QoS 1, each (topic, payload[, retain]); returns once the broker has every PUBACK."""
    infos = [
        client.publish(*message[:2], qos=1, retain=len(message) > 2 and message[2]) for message in messages
    ]
    for info in infos:
        info.wait_for_publish(60)


def _settle(get: Any, want: Any, timeout_s: float) -> tuple[Any, bool]:
    """Poll ``get()`` until it equals ``want``: (its last answer, whether it did in time)."""
    deadline = time.monotonic() + timeout_s
    while True:
        got = get()
        if got == want or time.monotonic() > deadline:
            return got, got == want
        time.sleep(0.5)


def _per_box(counters: dict[str, Counter[str]]) -> dict[str, int]:
    return {name: sum(counter.values()) for name, counter in counters.items()}


def _count(fleet: Fleet, sql: str) -> int:
    return int(fleet.rows(sql)[0][0])


def _agent_rejections(fleet: Fleet) -> dict[str, int]:
    found: dict[str, int] = {}
    for reply in fleet.ask({"cmd": "rejections"}, "rejections"):
        found.update(reply["rows"])
    return found


def _stored_rejections(fleet: Fleet, names: list[str]) -> dict[str, int]:
    """Each box's ``rejected_documents`` as its last status stored by the controller says."""
    wanted = set(names)
    found = {}
    for name, status in fleet.rows("SELECT id, status_json FROM device"):
        if name in wanted:
            found[name] = int(json.loads(status or "{}").get("rejected_documents") or 0)
    return found


def _security_receipts(fleet: Fleet, names: list[str]) -> dict[str, Counter[str]]:
    found: dict[str, Counter[str]] = {name: Counter() for name in names}
    for name, reason in fleet.rows("SELECT device_id, reason FROM receipt WHERE reason LIKE 'security:%'"):
        if name in found:
            found[name][reason] += 1
    return found


def _controller_refusals(fleet: Fleet) -> int:
    """Receipts the controller refused so far, one log line each."""
    log = (fleet.work / "controller.log").read_text(errors="replace")
    return log.count("receipt refused") + log.count("receipt for another box refused")


def _diff(got: dict[str, int], want: dict[str, int]) -> str:
    wrong = {n: (got.get(n), w) for n, w in want.items() if got.get(n) != w}
    return f"wrong for {len(wrong)} box(es), (got, expected): {dict(list(wrong.items())[:3])}"
