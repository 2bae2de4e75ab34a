"""One simulated box: the real agent built from its enrolled agent.toml, the way
``edge_agent.main.build_agent`` builds a box, with the loop-driven twins of bench/fleet_parts.py and
bench/fleet_link.py where the agent would start a thread."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from fleet_link import LinkOwner, LoopLink
from fleet_parts import FixedClockOffset, IdlePrefetcher, LoopClock, LoopPlayer, MeasuredOutbox, NullSink

from edge_agent.agent import Agent, offline_status
from edge_agent.config import load_config
from edge_agent.fetch import MediaFetcher
from edge_agent.identity import load_or_create_device_key
from edge_agent.media import MediaCache
from edge_agent.outbox import OUTBOX_FILE
from edge_agent.sinks import FileSink, Sink
from edge_agent.state import TimelineStore, VolumeStore
from edge_agent.testing import InlineExecutor
from edge_agent.trust import Trust
from playlists.signing import public_key_from_b64
from playlists.wire import Topics


@dataclass
class Box:
    """A box and what its process's loop keeps about it."""

    index: int
    agent: Agent
    player: LoopPlayer
    outbox: MeasuredOutbox
    store: TimelineStore
    clock: LoopClock
    link: LoopLink
    next_step: float | None = None
    dispatch_started: float = 0.0  # when the loop last handed this box a message
    window: int = 0  # receipts kept awaiting their ack (closed-loop receipts)

    @property
    def device_id(self) -> str:
        return self.agent.device_id


def build_box(
    owner: LinkOwner,
    config_path: Path,
    *,
    index: int,
    offset_ms: int,
    status_every_s: float,
    file_sink: bool,
    on_first_sample: Callable[[str, str, float, int], None],
) -> Box:
    """Every part of one box; ``on_first_sample(device, label, wall_s, box_ms)`` (null sink only)."""
    config = load_config(config_path)
    name = config.device_id
    clock = LoopClock(offset_ms)
    key = load_or_create_device_key(config.data_dir)
    trust = Trust(
        device_id=name, controller_key=public_key_from_b64(config.controller_public_key), zones=config.zones
    )
    topics = Topics(config.topic_root)
    outbox = MeasuredOutbox(config.data_dir / OUTBOX_FILE, device_id=name, private_key=key, clock=clock)
    volumes = VolumeStore(config.data_dir, default=config.volume)
    cache = MediaCache(config.data_dir / "media", quota_bytes=config.media_quota_mb * 1024 * 1024)
    fetcher = MediaFetcher(cache, base_url=config.controller_url, token=config.media_token)
    sink: Sink
    if file_sink:
        sink = FileSink(config.file_sink_dir, clock, volume=volumes.volume)
    else:
        sink = NullSink(clock, lambda label, wall, ms: on_first_sample(name, label, wall, ms))
    player = LoopPlayer(sink=sink, cache=cache, outbox=outbox, clock=clock, executor=InlineExecutor())
    link = LoopLink(
        owner,
        client_id=name,
        host=config.mqtt_host,
        port=config.mqtt_port,
        username=config.mqtt_username,
        password=config.mqtt_password,
        will=(topics.status(name), offline_status(name)),
        reconnect_jitter_s=config.reconnect_jitter_s,
    )
    store = TimelineStore(config.data_dir, trust)
    agent = Agent(
        device_id=name,
        zones=config.zones,
        topics=topics,
        link=link,  # type: ignore[arg-type]  # MqttLink's interface, driven by the process's loop
        trust=trust,
        store=store,
        volumes=volumes,
        outbox=outbox,
        player=player,
        prefetcher=IdlePrefetcher(
            fetcher, player.upcoming_media, clock=clock, referenced=player.referenced_media
        ),
        fetcher=fetcher,
        cache=cache,
        sink=sink,
        clock=clock,
        clock_offset=FixedClockOffset(offset_ms),
        status_interval_s=status_every_s,
    )
    box = Box(index, agent, player, outbox, store, clock, link)
    link.box = box
    return box
