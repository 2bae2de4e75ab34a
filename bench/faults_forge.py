"""The hijack attempts of issue 9's fault suite, generated from a seed (bench/faults_hijack.py).

An attacker who can publish on the boxes' topics (a stolen broker account, a compromised broker)
but holds no controller key sends documents that would make a box play, change its timeline or
drop its receipts if a check were missing: every command is a ``play_now`` of media the boxes hold,
every timeline a newer version with an item a few seconds ahead, every ack covers receipts not
stored. Each attempt is one of:

* ``forged``: signed by the attacker's own key (its kid) → ``unknown_key``;
* ``spoofed``: the controller's kid, the attacker's signature → ``bad_signature``;
* ``tampered``: a genuine envelope whose payload was edited afterwards → ``bad_signature``;
* ``malformed``: bytes that are not an envelope, or a genuine document of another type → ``malformed``;
* ``rollback``: a genuine timeline no newer than the box's (captured earlier) → ``rollback``;
* ``expired``: a genuine timeline or command past its validity → ``expired``;
* ``replay``: the genuine command the box already executed, sent again → ``replay``;
* ``cross_box``: a genuine document for another box, on this box's topic → ``wrong_device``;
* ``cross_commune``: a genuine command for another commune's zone, on this box's commune topic
  → ``wrong_device``;
* ``empty``: an empty message (on a timeline topic, retained: it deletes the broker's retained
  timeline, which the controller never does) → ``empty``.

"Genuine" documents are signed with the controller's key by this generator: they stand for
documents the controller signed at another time or for another box, captured by the attacker.
``box_account_attack`` is the other attacker: a box's stolen broker account and device key.
"""

from __future__ import annotations

import json
import random
import threading
from dataclasses import dataclass
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from playlists.signing import key_id, sign
from playlists.wire import Ack, Command, MediaRef, PlayNowArgs, Timeline, TimelineItem, Topics, to_dict

HOUR_MS = 3_600_000
CODES = {
    "forged": "unknown_key",
    "spoofed": "bad_signature",
    "tampered": "bad_signature",
    "malformed": "malformed",
    "rollback": "rollback",
    "expired": "expired",
    "replay": "replay",
    "cross_box": "wrong_device",
    "cross_commune": "wrong_device",
    "empty": "empty",
}
TIMELINE_WAYS = ("forged", "spoofed", "tampered", "malformed", "rollback", "expired", "cross_box", "empty")
COMMAND_WAYS = (
    *("forged", "spoofed", "tampered", "malformed", "expired"),
    *("replay", "cross_box", "cross_commune", "empty"),
)  # fmt: skip
ACK_WAYS = ("forged", "spoofed", "tampered", "cross_box", "empty")


@dataclass(frozen=True)
class Target:
    """A box as the attacker sees it: its id, zones (village, commune, province) and last version."""

    name: str
    zones: tuple[str, ...]
    version: int
    original: bytes  # the genuine command it executed (the one replays repeat)


@dataclass(frozen=True)
class Attempt:
    kind: str  # timeline, command, zone_command or ack
    way: str
    topic: str
    payload: bytes
    box: str  # the box whose topic (or commune topic) it was sent on
    code: str  # the refusal the box must report


class Forge:
    """Makes attempts against ``targets``; ``controller_key`` signs the "captured" genuine ones."""

    def __init__(
        self,
        *,
        seed: int,
        topics: Topics,
        controller_key: Ed25519PrivateKey,
        targets: list[Target],
        media: dict[str, object],
        now_ms: int,
    ) -> None:
        self.rng = random.Random(seed)
        self.topics, self.key, self.targets, self.media = topics, controller_key, targets, media
        self.kid = key_id(controller_key.public_key())
        self.attacker = Ed25519PrivateKey.generate()
        self.attacker_kid = key_id(self.attacker.public_key())
        self.now_ms = now_ms
        self.serial = 0

    def attempts(self, count: int) -> list[Attempt]:
        return [self.attempt() for _ in range(count)]

    def attempt(self) -> Attempt:
        self.serial += 1
        box = self.rng.choice(self.targets)
        kind = self.rng.choices(("timeline", "command", "zone_command", "ack"), weights=(4, 3, 3, 1))[0]
        if kind == "timeline":
            way = self.rng.choice(TIMELINE_WAYS)
            return Attempt(
                kind, way, self.topics.timeline(box.name), self.timeline(box, way), box.name, CODES[way]
            )
        if kind == "ack":
            way = self.rng.choice(ACK_WAYS)
            return Attempt(kind, way, self.topics.ack(box.name), self.ack(box, way), box.name, CODES[way])
        way = self.rng.choice(COMMAND_WAYS)
        if kind == "zone_command" and way in ("replay", "cross_box"):
            kind = "command"  # those are device commands
        if way == "cross_commune":
            kind = "zone_command"
        topic = self.topics.command(box.name)
        if kind == "zone_command":
            topic = self.topics.zone_command(commune(box))
        return Attempt(kind, way, topic, self.command(box, way, kind), box.name, CODES[way])

    # --- documents ------------------------------------------------------------------------------

    def item(self, start_ms: int) -> TimelineItem:
        return TimelineItem(
            id=f"attack-{self.serial}",
            start_ms=start_ms,
            duration_ms=int(self.media["duration_ms"]),  # type: ignore[call-overload]
            media=MediaRef(
                sha256=str(self.media["sha256"]),
                url=f"https://evil.example/{self.serial}",
                bytes=int(self.media["bytes"]),  # type: ignore[call-overload]
                duration_ms=int(self.media["duration_ms"]),  # type: ignore[call-overload]
                mime="audio/ogg",
            ),
            priority="emergency",
        )

    def timeline(self, box: Target, way: str) -> bytes:
        if way == "empty":
            return b""
        version = box.version + 1000 + self.rng.randint(1, 10**6)  # far past what the controller sends
        until = self.now_ms + 24 * HOUR_MS
        name = box.name
        if way == "rollback":
            version = self.rng.randint(1, box.version)
        elif way == "expired":
            until = self.now_ms - self.rng.randint(1, 72) * HOUR_MS
        elif way == "cross_box":
            name = self.other(box).name
        elif way == "malformed":
            return self.malformed(box)
        document = Timeline(
            device_id=name,
            version=version,
            issued_at_ms=self.now_ms - HOUR_MS,
            valid_from_ms=self.now_ms - HOUR_MS,
            valid_until_ms=until,
            items=(self.item(self.now_ms + self.rng.randint(1_000, 3_000)),),
        )
        return self.signed(document, way)

    def command(self, box: Target, way: str, kind: str) -> bytes:
        if way == "replay":
            return box.original
        if way == "empty":
            return b""
        if way == "malformed":
            return self.malformed(box)
        target = box.name if kind == "command" else f"zone:{commune(box)}"
        expires = self.now_ms + HOUR_MS
        if way == "expired":
            expires = self.now_ms - self.rng.randint(1, 72 * 60) * 60_000
        elif way == "cross_box":
            target = self.other(box).name
        elif way == "cross_commune":
            others = [t for t in self.targets if t.zones[1:2] != box.zones[1:2]]
            target = f"zone:{commune(self.rng.choice(others))}" if others else "zone:xa-khac"
        document = Command(
            id=f"attack-{self.serial}",
            target=target,
            issued_at_ms=self.now_ms - 60_000,
            expires_at_ms=expires,
            name="play_now",
            args=to_dict(PlayNowArgs(item=self.item(self.now_ms))),
        )
        return self.signed(document, way)

    def ack(self, box: Target, way: str) -> bytes:
        if way == "empty":
            return b""
        name = self.other(box).name if way == "cross_box" else box.name
        return self.signed(Ack(device_id=name, seq=self.rng.randint(1, 10**6)), way)

    def signed(self, document: Timeline | Command | Ack, way: str) -> bytes:
        if way == "forged":
            return sign(document, self.attacker, self.attacker_kid)
        if way == "spoofed":
            return sign(document, self.attacker, self.kid)
        raw = sign(document, self.key, self.kid)
        if way != "tampered":
            return raw
        envelope = json.loads(raw)
        payload = envelope["payload"]
        field = self.rng.choice([k for k in ("version", "seq", "expires_at_ms") if k in payload])
        payload[field] = int(payload[field]) + self.rng.randint(1, 10**6)
        return json.dumps(envelope).encode()

    def malformed(self, box: Target) -> bytes:
        choice = self.rng.randrange(4)
        if choice == 0:
            return self.rng.randbytes(self.rng.randint(1, 200))
        if choice == 1:
            return b'{"payload": {"v": 1, "type": "timeline"'  # cut short
        if choice == 2:
            return json.dumps({"payload": [], "sig": "", "kid": self.kid, "n": self.serial}).encode()
        # A genuine document of the wrong type: an ack signed by the controller, as a command/timeline.
        return sign(Ack(device_id=box.name, seq=self.serial), self.key, self.kid)

    def other(self, box: Target) -> Target:
        others = [t for t in self.targets if t.name != box.name]
        return self.rng.choice(others) if others else box


def commune(box: Target) -> str:
    """The code of the box's commune (zones run nearest first: village, commune, province)."""
    return box.zones[1] if len(box.zones) > 1 else box.zones[0]


def box_account_attack(config: Any, forge: Forge, count: int, names: list[str]) -> dict[str, int]:
    """With the stolen box's broker account and key: attempts on other boxes' and zones' topics
    (the broker must refuse each), and receipts on its own report topic forged for other boxes or
    signed with a key the controller does not know (the controller must refuse each)."""
    import paho.mqtt.client as mqtt
    from paho.mqtt.enums import CallbackAPIVersion

    from edge_agent.identity import load_or_create_device_key
    from playlists.signing import sign
    from playlists.wire import Receipt

    outcomes: dict[int, bool] = {}
    done = threading.Condition()

    def on_publish(_c: Any, _u: Any, mid: int, reason: Any, _p: Any) -> None:
        with done:
            outcomes[mid] = bool(reason.is_failure)
            done.notify_all()

    client = mqtt.Client(
        callback_api_version=CallbackAPIVersion.VERSION2, client_id=config.mqtt_username, protocol=mqtt.MQTTv5
    )
    client.username_pw_set(config.mqtt_username, config.mqtt_password)
    client.on_publish = on_publish
    connected = threading.Event()
    client.on_connect = lambda *_: connected.set()
    client.connect(config.mqtt_host, config.mqtt_port, keepalive=30)
    client.loop_start()
    if not connected.wait(10):
        raise SystemExit("hijack: the stolen box account could not connect")
    me = config.device_id
    foreign = [(a.topic, a.payload) for a in forge.attempts(count)]
    foreign += [(forge.topics.timeline(me), foreign[0][1]), (forge.topics.command(me), foreign[-1][1])]
    own_key = load_or_create_device_key(config.data_dir)
    receipts = []
    for n in range(max(2, count // 5)):
        claimed = names[n % len(names)] if n % 2 == 0 else me
        receipt = Receipt(
            device_id=claimed,
            seq=n + 1,
            event="completed",
            item_id=f"attack-r{n}",
            recorded_at_ms=forge.now_ms,
        )
        signer = own_key if n % 2 == 0 else forge.attacker  # for another box, or not its key
        receipts.append((forge.topics.report(me), sign(receipt, signer, me)))
    mids = {}
    for topic, payload in [*foreign, *receipts]:
        info = client.publish(topic, payload, qos=1)
        mids[info.mid] = topic
    with done:
        done.wait_for(lambda: len(outcomes) >= len(mids), timeout=60)
    client.loop_stop()
    client.disconnect()
    report = forge.topics.report(me)
    refused = sum(1 for mid, topic in mids.items() if topic != report and outcomes.get(mid) is True)
    return {
        "publishes": len(mids),
        "foreign_topics": len(foreign),
        "refused_by_broker": refused,
        "accepted_by_broker": len(foreign) - refused,
        "forged_receipts": len(receipts),
    }
