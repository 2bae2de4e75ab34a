"""Prometheus metrics at ``/metrics`` and readiness at ``/readyz`` (``/healthz`` is in app.py).

Each app has its own registry (no global state): ``Metrics`` holds the counters, ``install`` adds
the two routes and instruments the services at their call sites (the timeline publisher's refresh,
the renderer) without those modules knowing. Receipts and statuses are counted where
``create_app`` hands them to their handlers; errors are counted from the log, by logger, so every
``log.error``/``log.exception`` anywhere in the process shows up without extra code.

Names (all prefixed ``loa_``; see docs/deploy.md for the alerts built on them):

- ``boxes{state}``: boxes by state (online, offline, unknown; revoked ones are left out), counted
  from the database at each scrape, with the panel's rule (``controller.alerts.effective_state``);
- ``receipts_total{outcome}``: receipts handled (``acked``: stored or a resend acknowledged again;
  ``refused``: unknown box, bad signature …); ``statuses_total``: status messages received;
- ``timeline_refresh_seconds``, ``timelines_published_total``: compile + sign + store + publish;
- ``render_seconds{kind}``, ``renders_in_progress``: bulletins spoken (text) and recordings processed;
- ``errors_total{kind}``: log records at ERROR or above, by logger (``controller.gateway`` …), and
  ``render``/``timeline_refresh`` failures;
- ``leader``, ``mqtt_connected``: 1 or 0 for this replica.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from contextlib import asynccontextmanager
from datetime import UTC
from typing import Any, TypeVar

from fastapi import FastAPI
from fastapi.responses import JSONResponse, Response
from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, generate_latest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.exposition import CONTENT_TYPE_LATEST
from sqlalchemy import Engine, text
from sqlmodel import Session, col, select

from controller.alerts import AlertRules, effective_state
from controller.models import Device, utcnow
from controller.services import Services

log = logging.getLogger(__name__)
F = TypeVar("F", bound=Callable[..., Any])


class Metrics:
    """The controller's metrics, in a registry of their own."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        r = self.registry
        self.receipts = Counter("loa_receipts", "Receipts handled, by outcome", ["outcome"], registry=r)
        self.statuses = Counter("loa_statuses", "Status messages received from boxes", registry=r)
        self.refresh_seconds = Histogram(
            "loa_timeline_refresh_seconds",
            "Time to compile, sign, store and publish timelines (one refresh)",
            buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120),
            registry=r,
        )
        self.timelines_published = Counter("loa_timelines_published", "Timelines published", registry=r)
        self.render_seconds = Histogram(
            "loa_render_seconds",
            "Time to make broadcast audio, by kind (text, upload)",
            ["kind"],
            buckets=(0.5, 1, 2.5, 5, 10, 20, 40, 80, 160),
            registry=r,
        )
        self.renders_in_progress = Gauge("loa_renders_in_progress", "Renders running now", registry=r)
        self.errors = Counter("loa_errors", "Errors, by kind", ["kind"], registry=r)
        self.leader = Gauge("loa_leader", "1 while this replica holds the leader lock", registry=r)
        self.mqtt_connected = Gauge("loa_mqtt_connected", "1 while connected to the broker", registry=r)
        self.log_handler = _ErrorCounter(self.errors)
        # Known label values start at 0, so that rate() and alerts see them before the first event.
        for outcome in ("acked", "refused"):
            self.receipts.labels(outcome=outcome)
        for kind in ("text", "upload"):
            self.render_seconds.labels(kind=kind)
        for kind in ("render", "timeline_refresh"):
            self.errors.labels(kind=kind)

    def count_status(self, handler: Callable[[str, bytes], None]) -> Callable[[str, bytes], None]:
        """``handler`` that also counts each status."""

        def counted(device_id: str, raw: bytes) -> None:
            self.statuses.inc()
            handler(device_id, raw)

        return counted

    def receipt(self, ack: object | None) -> None:
        """One receipt handled: an ack to send means stored (or already stored), None refused."""
        self.receipts.labels(outcome="acked" if ack is not None else "refused").inc()

    def timed_refresh(self, refresh: F) -> F:
        @functools.wraps(refresh)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with self._failures("timeline_refresh"), self.refresh_seconds.time():
                published = refresh(*args, **kwargs)
            self.timelines_published.inc(published or 0)
            return published

        return wrapper  # type: ignore[return-value]

    def timed_render(self, render: F, kind: str) -> F:
        @functools.wraps(render)
        def wrapper(*args: Any, **kwargs: Any) -> Any:
            with (
                self._failures("render"),
                self.renders_in_progress.track_inprogress(),
                self.render_seconds.labels(kind=kind).time(),
            ):
                return render(*args, **kwargs)

        return wrapper  # type: ignore[return-value]

    def _failures(self, kind: str) -> _CountFailures:
        return _CountFailures(self.errors.labels(kind=kind))


class _CountFailures:
    """A context manager counting the exceptions that leave it (reusable, re-entrant)."""

    def __init__(self, counter: Any) -> None:
        self._counter = counter

    def __enter__(self) -> None:
        return None

    def __exit__(self, exc_type: type[BaseException] | None, *_exc: object) -> None:
        if exc_type is not None and issubclass(exc_type, Exception):
            self._counter.inc()


class _ErrorCounter(logging.Handler):
    def __init__(self, counter: Counter) -> None:
        super().__init__(level=logging.ERROR)
        self._counter = counter

    def emit(self, record: logging.LogRecord) -> None:
        self._counter.labels(kind=record.name).inc()


class _Boxes:
    """``loa_boxes{state}`` from the database, at scrape time."""

    def __init__(self, engine: Engine, rules: AlertRules) -> None:
        self.engine, self.rules = engine, rules

    def collect(self) -> Iterator[GaugeMetricFamily]:
        family = GaugeMetricFamily("loa_boxes", "Boxes by state (revoked ones left out)", labels=["state"])
        counts = {"online": 0, "offline": 0, "unknown": 0}
        now = utcnow()
        try:
            with Session(self.engine) as session:
                rows = session.exec(
                    select(Device.state, Device.last_seen_at).where(
                        col(Device.revoked_at).is_(None), col(Device.is_active).is_(True)
                    )
                ).all()
        except Exception:
            log.warning("cannot count boxes for the metrics", exc_info=True)
            return
        for state, seen in rows:
            if seen is not None and seen.tzinfo is None:
                seen = seen.replace(tzinfo=UTC)
            counts[effective_state(state, seen, now=now, rules=self.rules)] += 1
        for state, count in counts.items():
            family.add_metric([state], count)
        yield family


def readiness(services: Services, heads: tuple[str, ...]) -> tuple[bool, dict[str, Any]]:
    """Whether this replica can serve: database reachable, migrations at head, broker connected."""
    checks: dict[str, Any] = {}
    try:
        with services.engine.connect() as connection:
            connection.execute(text("SELECT 1"))
            current = tuple(
                sorted(connection.execute(text("SELECT version_num FROM alembic_version")).scalars())
            )
        checks["database"] = {"ok": True}
        checks["migrations"] = {"ok": current == heads, "current": list(current), "head": list(heads)}
    except Exception as exc:
        checks["database"] = {"ok": False, "error": str(exc).splitlines()[0][:200]}
        checks["migrations"] = {"ok": False, "head": list(heads)}
    gateway = services.gateway
    checks["mqtt"] = {"ok": gateway.connected} if gateway is not None else {"ok": True, "disabled": True}
    return all(check["ok"] for check in checks.values()), checks


def migration_heads(database_url: str) -> tuple[str, ...]:
    from alembic.script import ScriptDirectory

    from controller.db import alembic_config

    return tuple(sorted(ScriptDirectory.from_config(alembic_config(database_url)).get_heads()))


def install(app: FastAPI, metrics: Metrics, *, services: Services, is_leader: Callable[[], bool]) -> None:
    """Add ``/metrics`` and ``/readyz``, instrument the services, count errors while the app runs."""
    settings = services.settings
    services.publisher.refresh = metrics.timed_refresh(services.publisher.refresh)  # type: ignore[method-assign]
    renderer = services.renderer
    renderer.render_text = metrics.timed_render(renderer.render_text, "text")  # type: ignore[method-assign]
    renderer.render_upload = metrics.timed_render(renderer.render_upload, "upload")  # type: ignore[method-assign]
    metrics.leader.set_function(lambda: 1.0 if is_leader() else 0.0)
    metrics.mqtt_connected.set_function(
        lambda: 1.0 if services.gateway is not None and services.gateway.connected else 0.0
    )
    metrics.registry.register(_Boxes(services.engine, AlertRules.from_settings(settings)))
    heads = migration_heads(settings.resolved_database_url)

    @app.get("/metrics", include_in_schema=False)
    def prometheus_metrics() -> Response:
        return Response(generate_latest(metrics.registry), media_type=CONTENT_TYPE_LATEST)

    @app.get("/readyz", include_in_schema=False)
    def readyz() -> Response:
        ready, checks = readiness(services, heads)
        return JSONResponse({"ready": ready, "checks": checks}, status_code=200 if ready else 503)

    inner = app.router.lifespan_context

    @asynccontextmanager
    async def counting_errors(app_: FastAPI) -> AsyncIterator[Any]:
        root = logging.getLogger()
        root.addHandler(metrics.log_handler)
        try:
            async with inner(app_) as state:
                yield state
        finally:
            root.removeHandler(metrics.log_handler)

    app.router.lifespan_context = counting_errors
