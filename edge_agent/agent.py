"""The agent's glue: what happens when a document arrives, when the link connects, and every second.

Built by :func:`edge_agent.main.build_agent`; ``main.run`` owns the threads' lifetime. Documents are
verified by edge_agent/trust.py; whatever is refused is counted, logged and reported as a signed
``failed`` receipt with reason ``security:<code>`` (see docs/agent.md).
"""

from __future__ import annotations

import hashlib
import logging
import threading
import time
from collections import OrderedDict
from collections.abc import Callable

from edge_agent import __version__
from edge_agent.clock import Clock
from edge_agent.fetch import FetchError, MediaFetcher, Prefetcher
from edge_agent.health import ClockOffset, Vitals
from edge_agent.link import MqttLink
from edge_agent.media import MediaCache
from edge_agent.outbox import Outbox
from edge_agent.player import Player
from edge_agent.schedule import Run
from edge_agent.sender import RECEIPT_WINDOW, RESEND_INTERVAL_S, ReceiptSender
from edge_agent.sinks import Sink
from edge_agent.state import TimelineStore, VolumeStore
from edge_agent.trust import Rejected, Trust
from edge_agent.update import Releases
from edge_agent.updating import UPDATE_CONFIRM_S, UPDATE_TRIAL_S, Updates
from playlists.wire import (
    Command,
    MediaRef,
    PlayNowArgs,
    SetVolumeArgs,
    Status,
    TestToneArgs,
    Topics,
    UpdateArgs,
    WireError,
    decode,
    to_json,
)

log = logging.getLogger(__name__)

STATUS_INTERVAL_S = 60.0
HEALTHY_HEARTBEAT_S = 15.0
SECURITY_REPORTS_PER_HOUR = 30


def offline_status(device_id: str) -> bytes:
    """The retained status (and MQTT will) of a box that is away."""
    return to_json(Status(device_id=device_id, state="offline"))


class SecurityReports:
    """Decides which refusals get a receipt: each distinct document once, at most N an hour.

    A compromised broker could otherwise fill the outbox by re-sending forged documents; every
    refusal is still counted in the status's ``rejected_documents``.
    """

    def __init__(
        self, *, per_hour: int = SECURITY_REPORTS_PER_HOUR, monotonic: Callable[[], float] = time.monotonic
    ) -> None:
        self._per_hour = per_hour
        self._monotonic = monotonic
        self._recent: OrderedDict[str, None] = OrderedDict()
        self._sent: list[float] = []

    def allow(self, raw: bytes) -> bool:
        digest = hashlib.sha256(raw).hexdigest()
        if digest in self._recent:
            return False
        self._recent[digest] = None
        while len(self._recent) > 256:
            self._recent.popitem(last=False)
        now = self._monotonic()
        self._sent = [at for at in self._sent if now - at < 3600]
        if len(self._sent) >= self._per_hour:
            return False
        self._sent.append(now)
        return True


class Agent:
    """Verifies what the controller sends, feeds the player, runs commands, reports health."""

    def __init__(
        self,
        *,
        device_id: str,
        zones: tuple[str, ...],
        topics: Topics,
        link: MqttLink,
        trust: Trust,
        store: TimelineStore,
        volumes: VolumeStore,
        outbox: Outbox,
        player: Player,
        prefetcher: Prefetcher,
        fetcher: MediaFetcher,
        cache: MediaCache,
        sink: Sink,
        clock: Clock,
        clock_offset: ClockOffset,
        resend_interval_s: float = RESEND_INTERVAL_S,
        receipt_window: int = RECEIPT_WINDOW,
        status_interval_s: float = STATUS_INTERVAL_S,
        releases: Releases | None = None,
        update_confirm_s: float = UPDATE_CONFIRM_S,
        update_trial_s: float = UPDATE_TRIAL_S,
    ) -> None:
        self.device_id = device_id
        self._topics = topics
        self._link = link
        self._trust = trust
        self._store = store
        self._volumes = volumes
        self._outbox = outbox
        self._player = player
        self._prefetcher = prefetcher
        self._fetcher = fetcher
        self._cache = cache
        self._sink = sink
        self._clock = clock
        self._clock_offset = clock_offset
        self._status_interval_s = status_interval_s
        self._sender = ReceiptSender(
            outbox, link, topics.report(device_id), resend_interval_s=resend_interval_s, window=receipt_window
        )
        self._next_status = 0.0
        self._started = time.monotonic()
        self._security = SecurityReports()
        self._fetching: set[str] = set()
        self._lock = threading.Lock()
        self.rejected_documents = 0
        self.restart_requested = threading.Event()
        self._updates = Updates(
            releases,
            fetcher=fetcher,
            cache=cache,
            outbox=outbox,
            link=link,
            restart_requested=self.restart_requested,
            command_done=self._command_done,
            confirm_s=update_confirm_s,
            trial_s=update_trial_s,
        )
        self._status_changed = threading.Event()
        self._vitals = Vitals(cache.folder, cache.usage_bytes)
        link.subscribe(topics.timeline(device_id), self.handle_timeline)
        link.subscribe(topics.command(device_id), self.handle_command)
        for zone in zones:
            link.subscribe(topics.zone_command(zone), self.handle_command)
        link.subscribe(topics.ack(device_id), self.handle_ack)
        link.on_connect(self._on_connected)
        outbox.add_listener(self._sender.publish)
        # The player's and the prefetcher's changes are published by the next tick (within a
        # second, several changes in one status), not from their threads: nothing slows the player.
        player.add_listener(self._status_changed.set)
        prefetcher.add_listener(self._status_changed.set)
        prefetcher.add_listener(player.wake)
        prefetcher.add_listener(self._vitals.expire)  # media came or went: the cache's size changed

    def start(self) -> None:
        """Close what a crash left open, adopt the stored timeline, start playing, then connect."""
        self._report_state_resets()
        self._updates.report_outcome()
        self._outbox.recover()
        self._player.set_timeline(self._store.load())
        for name in self._store.problems:
            self._outbox.append(event="failed", reason=f"state_reset:{name}")
        self._player.start()
        self._prefetcher.start()
        self._clock_offset.start()
        self._link.start()

    def tick(self) -> None:
        """Periodic work, about once a second: resend unacked receipts, refresh the status."""
        now = time.monotonic()
        self._sender.tick(now)
        if now >= self._next_status or self._status_changed.is_set():
            self.publish_status()
        self._updates.judge_trial(now)

    @property
    def trial_failed(self) -> bool:
        """This release is on trial and did not prove itself in time: exit, to be retried or rolled back."""
        return self._updates.trial_failed(time.monotonic() - self._started)

    def healthy(self) -> bool:
        """The player's loop and the link's thread are alive (the service watchdog is fed only then)."""
        return self._player.heartbeat_age_s() < HEALTHY_HEARTBEAT_S and self._link.alive

    def stop(self) -> None:
        """Stop playing and fetching, send what is pending, leave the offline status, disconnect."""
        self._player.stop()
        self._prefetcher.stop()
        self._clock_offset.stop()
        self.flush_outbox()
        self._link.stop(last=(self._topics.status(self.device_id), offline_status(self.device_id)))

    def status(self) -> Status:
        """The health snapshot published (retained) while the box is online."""
        timeline = self._player.timeline
        vitals = self._vitals.read()
        pending, first_pending = self._outbox.backlog()
        return Status(
            device_id=self.device_id,
            state="online",
            at_ms=self._clock.now_ms(),
            agent_version=__version__,
            timeline_version=timeline.version if timeline is not None else None,
            playing_item_id=self._player.playing_item_id,
            missing_media=self._prefetcher.missing(),
            outbox_pending=pending,
            outbox_first_seq=first_pending,
            rejected_documents=self.rejected_documents,
            uptime_s=int(time.monotonic() - self._started),
            disk_free_mb=vitals.disk_free_mb,
            cache_mb=round(vitals.cache_bytes / (1024 * 1024), 2),
            media_quota_mb=(self._cache.quota_bytes or 0) // (1024 * 1024) or None,
            cpu_temp_c=vitals.cpu_temp_c,
            clock_offset_ms=self._clock_offset.value_ms,
            clock_sane=self._player.clock_sane,
            clock_jump_ms=self._player.last_clock_jump_ms,
            link_quality=vitals.link_quality,
            volume=self._volumes.volume,
        )

    def publish_status(self) -> None:
        self._status_changed.clear()
        self._next_status = time.monotonic() + self._status_interval_s
        if not self._link.connected:
            return
        payload = to_json(self.status())
        self._link.publish(self._topics.status(self.device_id), payload, retain=True)

    def flush_outbox(self) -> None:
        """Send again the unacknowledged receipts that are due (edge_agent/sender.py)."""
        self._sender.flush()

    # -- documents ------------------------------------------------------------------------------

    def handle_timeline(self, topic: str, raw: bytes) -> None:
        if not raw:  # the controller never clears a timeline: someone deleted the retained copy
            self._reject("timeline", Rejected("empty", f"retained timeline cleared on {topic}"), raw)
            return
        if self._store.is_current(raw):
            return  # the retained copy, delivered again on reconnect or resync
        try:
            if self._store.is_lost_current(raw):
                timeline = self._trust.timeline_signature(raw)
            else:
                timeline = self._trust.timeline(
                    raw, last_version=self._store.last_version, now_ms=self._clock.now_ms()
                )
        except Rejected as exc:
            self._reject("timeline", exc, raw)
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
        if not raw:
            self._reject("command", Rejected("empty", f"empty message on {topic}"), raw)
            return
        now = self._clock.now_ms()
        try:
            if not self._player.clock_sane:
                raise Rejected("clock_not_sane", "the box's clock cannot be trusted to check expiry")
            command = self._trust.command(raw, now_ms=now, executed=self._outbox.command_seen)
            if not self._outbox.accept_command(command.id, expires_at_ms=command.expires_at_ms):
                raise Rejected("replay", f"command {command.id!r} was executed already")
        except Rejected as exc:
            self._reject("command", exc, raw)
            return
        log.info("command %s %r accepted from %s", command.id, command.name, topic)
        try:
            self._execute(command, now)
        except WireError as exc:
            self._command_done(command, failed=f"bad_args: {exc}")

    def handle_ack(self, topic: str, raw: bytes) -> None:
        if not raw:
            self._reject("ack", Rejected("empty", f"empty message on {topic}"), raw)
            return
        try:
            ack = self._trust.ack(raw)
        except Rejected as exc:
            self._reject("ack", exc, raw)
            return
        self._outbox.acknowledge(ack.seq)
        self._sender.acknowledged(ack.seq)

    def _reject(self, kind: str, exc: Rejected, raw: bytes) -> None:
        self.rejected_documents += 1
        log.warning(
            "%s rejected: %s (%d rejected so far)",
            kind,
            exc,
            self.rejected_documents,
            extra={"device": self.device_id, "reason": exc.code},
        )
        if self._security.allow(raw):
            self._outbox.append(event="failed", reason=f"security:{exc.code}")
        self._status_changed.set()  # coalesced: a flood of forged documents costs one status a second

    # -- commands -------------------------------------------------------------------------------

    def _execute(self, command: Command, now: int) -> None:
        if command.name == "play_now":
            args = decode(PlayNowArgs, command.args)
            run = Run(
                command,
                now,
                item=args.item,
                repeat=args.repeat,
                after=args.after,
                due_ms=max(now, args.item.start_ms),
            )
            media = args.item.media
            if args.item.kind == "audio" and media is None:
                self._command_done(command, failed="media_missing")
            elif media is not None and args.item.kind == "audio" and not self._cache.has(media):
                threading.Thread(
                    target=self._fetch_then_submit, args=(run, media), name="loa-fetch-now", daemon=True
                ).start()
            else:
                self._player.submit(run)
        elif command.name == "test_tone":
            tone = decode(TestToneArgs, command.args)
            self._player.submit(Run(command, now, tone=(tone.seconds, tone.frequency_hz), due_ms=now))
        elif command.name == "stop":
            self._player.stop_now(command)
        elif command.name == "set_volume":
            volume = decode(SetVolumeArgs, command.args).volume
            self._volumes.save(volume)
            self._sink.set_volume(volume)
            self._command_done(command)
            self.publish_status()
        elif command.name == "resync":
            self.publish_status()
            self._prefetcher.wake()
            self._link.resubscribe(self._topics.timeline(self.device_id))
            self._command_done(command)
        elif command.name == "restart":
            self._command_done(command)  # durable before the process goes
            self.restart_requested.set()
        elif command.name == "update":
            self._updates.start(command, decode(UpdateArgs, command.args))

    def _fetch_then_submit(self, run: Run, media: MediaRef) -> None:
        with self._lock:
            self._fetching.add(media.sha256)
            keep = self._player.referenced_media() | self._fetching
        try:
            self._fetcher.fetch(media, keep=keep)
        except FetchError as exc:
            self._command_done(run.command, failed=f"media_unavailable:{exc.code}")
            return
        except Exception as exc:
            log.exception("fetching the media of command %s failed", run.command.id)
            self._command_done(run.command, failed=f"media_unavailable:{type(exc).__name__}")
            return
        finally:
            with self._lock:
                self._fetching.discard(media.sha256)
        self._player.submit(run)

    def _command_done(self, command: Command, *, failed: str | None = None) -> None:
        self._outbox.append(
            event="failed" if failed else "command_done",
            command_id=command.id,
            reason=failed,
            command_done=True,
        )

    # -- plumbing -------------------------------------------------------------------------------

    def _report_state_resets(self) -> None:
        if self._outbox.reset_from is not None:
            self._outbox.append(event="failed", reason=f"state_reset:{self._outbox.path.name}")
        for name in self._volumes.problems:
            self._outbox.append(event="failed", reason=f"state_reset:{name}")

    def _on_connected(self) -> None:
        self.publish_status()
        self._sender.reconnected()
