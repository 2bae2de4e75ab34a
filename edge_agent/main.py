"""The agent process: the one place where everything is built and wired.

Started by ``loa agent --config X`` or ``python -m edge_agent --config X``; under systemd as
``loa-agent.service`` (systemd/loa-agent.service, Type=notify with a watchdog).
"""

from __future__ import annotations

import argparse
import logging
import signal
import sqlite3
import threading
import time
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from edge_agent.agent import Agent, offline_status
from edge_agent.clock import Clock, SystemClock
from edge_agent.config import AgentConfig, ConfigError, load_config
from edge_agent.fetch import MediaFetcher, Prefetcher
from edge_agent.health import ClockOffset
from edge_agent.identity import load_or_create_device_key
from edge_agent.link import MqttLink
from edge_agent.media import MediaCache
from edge_agent.outbox import OUTBOX_FILE, Outbox
from edge_agent.player import Player
from edge_agent.sdnotify import Notifier
from edge_agent.sinks import AlsaSink, FileSink, Sink
from edge_agent.state import TimelineStore, VolumeStore
from edge_agent.trust import Trust
from edge_agent.update import Releases
from playlists.signing import WireError, public_key_from_b64
from playlists.wire import Topics

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_CONFIG = 2
EXIT_RESTART = 75  # asked to restart by a command: non-zero, so the service manager starts us again
EXIT_TRIAL_FAILED = 76  # a release on trial that did not prove itself: the launcher counts the start
TICK_S = 1.0


def build_sink(config: AgentConfig, clock: Clock, volume: int) -> Sink:
    """The sink named in the config."""
    if config.sink == "alsa":
        return AlsaSink(
            spool=config.data_dir / "spool",
            clock=clock,
            volume=volume,
            device=config.alsa_device,
            mixer_control=config.alsa_mixer_control,
        )
    return FileSink(config.file_sink_dir, clock, volume=volume)


def build_agent(config: AgentConfig, *, clock: Clock) -> tuple[Agent, Outbox]:
    """Every part of the agent, built from the config and passed down through constructors."""
    device_key = load_or_create_device_key(config.data_dir)
    trust = Trust(
        device_id=config.device_id,
        controller_key=public_key_from_b64(config.controller_public_key),
        zones=config.zones,
    )
    topics = Topics(config.topic_root)
    outbox = Outbox(
        config.data_dir / OUTBOX_FILE, device_id=config.device_id, private_key=device_key, clock=clock
    )
    volumes = VolumeStore(config.data_dir, default=config.volume)
    cache = MediaCache(config.data_dir / "media", quota_bytes=config.media_quota_mb * 1024 * 1024)
    fetcher = MediaFetcher(cache, base_url=config.controller_url, token=config.media_token)
    sink = build_sink(config, clock, volumes.volume)
    player = Player(sink=sink, cache=cache, outbox=outbox, clock=clock)
    link = MqttLink(
        client_id=config.device_id,
        host=config.mqtt_host,
        port=config.mqtt_port,
        username=config.mqtt_username,
        password=config.mqtt_password,
        tls=config.mqtt_tls,
        ca_file=config.mqtt_ca_file,
        will=(topics.status(config.device_id), offline_status(config.device_id)),
        reconnect_jitter_s=config.reconnect_jitter_s,
    )
    agent = Agent(
        device_id=config.device_id,
        zones=config.zones,
        topics=topics,
        link=link,
        trust=trust,
        store=TimelineStore(config.data_dir, trust),
        volumes=volumes,
        outbox=outbox,
        player=player,
        prefetcher=Prefetcher(
            fetcher, player.upcoming_media, clock=clock, referenced=player.referenced_media
        ),
        fetcher=fetcher,
        cache=cache,
        sink=sink,
        clock=clock,
        clock_offset=ClockOffset(ntp_server=config.ntp_server),
        releases=Releases(config.data_dir),
        update_confirm_s=config.update_confirm_s,
        update_trial_s=config.update_trial_s,
        resend_interval_s=config.resend_interval_s,
        receipt_window=config.receipt_window,
    )
    return agent, outbox


def run(
    config_path: Path, *, stop_event: threading.Event | None = None, notifier: Notifier | None = None
) -> int:
    """Run the agent until SIGTERM/SIGINT (or ``stop_event``); returns the process exit code."""
    stop = stop_event if stop_event is not None else threading.Event()
    notify = notifier if notifier is not None else Notifier.from_env()
    try:
        config = load_config(config_path)
    except ConfigError as exc:
        log.error("%s", exc)
        return EXIT_CONFIG
    try:
        agent, outbox = build_agent(config, clock=SystemClock())
    except (OSError, sqlite3.Error, WireError) as exc:
        log.error("cannot start the agent: %s", exc)
        return EXIT_FAILED
    restore_signals = _stop_on_signals(stop)
    log.info("agent %s starting (data in %s)", config.device_id, config.data_dir)
    exit_code = EXIT_OK
    tick = min(TICK_S, notify.watchdog_interval_s or TICK_S)
    try:
        agent.start()
        notify.ready(f"playing for {config.device_id}")
        next_tick = 0.0
        while not stop.wait(tick):
            if agent.healthy():
                notify.watchdog()
            if time.monotonic() >= next_tick:
                next_tick = time.monotonic() + TICK_S
                agent.tick()
            if agent.restart_requested.is_set():
                log.warning("restart requested by a command; exiting with %d", EXIT_RESTART)
                exit_code = EXIT_RESTART
                break
            if agent.trial_failed:
                log.error("this release on trial never proved itself; exiting with %d", EXIT_TRIAL_FAILED)
                exit_code = EXIT_TRIAL_FAILED
                break
    finally:
        log.info("agent %s stopping", config.device_id)
        notify.stopping()
        agent.stop()
        outbox.close()
        restore_signals()
    return exit_code


def _stop_on_signals(stop: threading.Event) -> Callable[[], None]:
    if threading.current_thread() is not threading.main_thread():
        return lambda: None  # signals reach the main thread only; the caller owns stop_event

    def handler(signum: int, frame: FrameType | None) -> None:
        log.info("signal %s received", signal.Signals(signum).name)
        stop.set()

    previous = {signum: signal.signal(signum, handler) for signum in (signal.SIGTERM, signal.SIGINT)}

    def restore() -> None:
        for signum, old in previous.items():
            signal.signal(signum, old)

    return restore


def main(argv: list[str] | None = None) -> int:
    """Command line: ``--config PATH`` (required), ``--log-level``."""
    parser = argparse.ArgumentParser(prog="loa agent", description="Run the Loa speaker-box agent.")
    parser.add_argument("--config", required=True, type=Path, help="the agent's TOML config file")
    parser.add_argument(
        "--log-level", default="INFO", choices=["DEBUG", "INFO", "WARNING", "ERROR"], help="default INFO"
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=args.log_level, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    return run(args.config)
