"""The agent's glue: what happens when a document arrives, when the link connects, and every few seconds.

Built by :func:`edge_agent.main.run`, which owns the threads' lifetime; this class only reacts.
"""

from __future__ import annotations

import logging
import time

from edge_agent import __version__
from edge_agent.clock import Clock
from edge_agent.link import MqttLink
from edge_agent.media import Prefetcher
from edge_agent.outbox import Outbox
from edge_agent.player import Player
from edge_agent.state import TimelineStore
from edge_agent.trust import Rejected, Trust
from playlists.wire import Receipt, Status, Topics

log = logging.getLogger(__name__)

RESEND_INTERVAL_S = 10.0
STATUS_INTERVAL_S = 60.0
RESEND_BATCH = 200


def offline_status(device_id: str) -> bytes:
    """The retained status (and MQTT will) of a box that is away."""
    return Status(device_id=device_id, state="offline").model_dump_json().encode()


class Agent:
    """Verifies what the controller sends, feeds the player, reports status and receipts."""

    def __init__(
        self,
        *,
        device_id: str,
        topics: Topics,
        link: MqttLink,
        trust: Trust,
        store: TimelineStore,
        outbox: Outbox,
        player: Player,
        prefetcher: Prefetcher,
        clock: Clock,
        resend_interval_s: float = RESEND_INTERVAL_S,
        status_interval_s: float = STATUS_INTERVAL_S,
    ) -> None:
        self.device_id = device_id
        self._topics = topics
        self._link = link
        self._trust = trust
        self._store = store
        self._outbox = outbox
        self._player = player
        self._prefetcher = prefetcher
        self._clock = clock
        self._resend_interval_s = resend_interval_s
        self._status_interval_s = status_interval_s
        self._next_resend = 0.0
        self._next_status = 0.0
        self.rejected_documents = 0
        link.subscribe(topics.timeline(device_id), self.handle_timeline)
        link.subscribe(topics.command(device_id), self.handle_command)
        link.subscribe(topics.ack(device_id), self.handle_ack)
        link.on_connect(self._on_connected)
        outbox.add_listener(self._publish_receipt)
        player.add_listener(self.publish_status)
        prefetcher.add_listener(self.publish_status)

    def start(self) -> None:
        """Adopt the stored timeline, start playing and fetching, then connect (in the background)."""
        self._player.set_timeline(self._store.load())
        self._player.start()
        self._prefetcher.start()
        self._link.start()

    def tick(self) -> None:
        """Periodic work, called about once a second: resend unacked receipts, refresh the status."""
        now = time.monotonic()
        if now >= self._next_resend:
            self._next_resend = now + self._resend_interval_s
            self.flush_outbox()
        if now >= self._next_status:
            self.publish_status()

    def stop(self) -> None:
        """Stop playing and fetching, leave the offline status, disconnect."""
        self._player.stop()
        self._prefetcher.stop()
        self._link.stop(last=(self._topics.status(self.device_id), offline_status(self.device_id)))

    def status(self) -> Status:
        """The health snapshot published (retained) while the box is online."""
        timeline = self._player.timeline
        return Status(
            device_id=self.device_id,
            state="online",
            at_ms=self._clock.now_ms(),
            agent_version=__version__,
            timeline_version=timeline.version if timeline is not None else None,
            playing_item_id=self._player.playing_item_id,
            missing_media=self._prefetcher.missing(),
            outbox_pending=self._outbox.pending_count(),
            rejected_documents=self.rejected_documents,
        )

    def publish_status(self) -> None:
        self._next_status = time.monotonic() + self._status_interval_s
        payload = self.status().model_dump_json().encode()
        self._link.publish(self._topics.status(self.device_id), payload, retain=True)

    def flush_outbox(self) -> None:
        """Publish every unacked receipt (the controller dedupes on device and seq)."""
        if not self._link.connected:
            return
        topic = self._topics.report(self.device_id)
        for _seq, envelope in self._outbox.pending(limit=RESEND_BATCH):
            if not self._link.publish(topic, envelope):
                break

    def handle_timeline(self, topic: str, raw: bytes) -> None:
        if not raw:
            log.info("retained timeline cleared on %s; keeping the current one", topic)
            return
        if self._store.is_current(raw):
            return  # the retained copy, delivered again on reconnect
        try:
            timeline = self._trust.timeline(
                raw, last_version=self._store.last_version, now_ms=self._clock.now_ms()
            )
        except Rejected as exc:
            self._reject("timeline", exc)
            return
        self._store.save(raw, timeline)
        log.info(
            "timeline version %d accepted (%d items, valid until %d)",
            timeline.version,
            len(timeline.items),
            timeline.valid_until_ms,
            extra={"device": self.device_id, "timeline_version": timeline.version},
        )
        self._player.set_timeline(timeline)
        self._prefetcher.wake()
        self.publish_status()

    def handle_command(self, topic: str, raw: bytes) -> None:
        try:
            command = self._trust.command(raw, now_ms=self._clock.now_ms())
        except Rejected as exc:
            self._reject("command", exc)
            return
        # Executing commands (play_now, stop, set_volume, …) is a later issue; it is only verified here.
        log.info("command %s %r verified; commands are not executed yet", command.id, command.name)

    def handle_ack(self, topic: str, raw: bytes) -> None:
        if not raw:
            return
        try:
            ack = self._trust.ack(raw)
        except Rejected as exc:
            self._reject("ack", exc)
            return
        self._outbox.acknowledge(ack.seq)

    def _reject(self, kind: str, exc: Rejected) -> None:
        self.rejected_documents += 1
        log.warning(
            "%s rejected: %s (%d rejected so far)",
            kind,
            exc,
            self.rejected_documents,
            extra={"device": self.device_id, "reason": exc.code},
        )

    def _on_connected(self) -> None:
        self.publish_status()
        self._next_resend = time.monotonic() + self._resend_interval_s
        self.flush_outbox()

    def _publish_receipt(self, receipt: Receipt, envelope: bytes) -> None:
        self._link.publish(self._topics.report(self.device_id), envelope)
