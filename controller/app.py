"""The one wiring point of a controller process: ``create_app(settings)``."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Callable, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from sqlmodel import Session

from audio import MediaStore, ProcessingSettings, RenderCache, get_engine
from controller import auth, bulletins, checkpoints, devices, health, i18n, library_text, receipts, schedules
from controller.alerts import STATE_LABELS as DEVICE_STATE_LABELS
from controller.alerts import AlertRules
from controller.asrun import OUTCOMES
from controller.asrun_fold import AsRunFold
from controller.commands import CommandService
from controller.db import make_engine
from controller.deps import LoginRequired
from controller.emergency import EmergencyService
from controller.errors import LoaError
from controller.export_push import ExportPush
from controller.gateway import MqttGateway
from controller.health import HealthSampler, StatusWriter
from controller.jobs import Jobs
from controller.keys import Signer
from controller.leader import Leadership, lock_for, mutex_for
from controller.live import DeviceHub
from controller.metrics import Metrics
from controller.metrics import install as install_metrics
from controller.models import User, utcnow
from controller.problems import install as install_problems
from controller.registry import BrokerSync
from controller.rendering import Renderer
from controller.services import Services
from controller.settings import Settings
from controller.timelines import Sent, TimelinePublisher
from playlists.wire import Topics

log = logging.getLogger(__name__)
HERE = Path(__file__).parent


class UnsafeSettings(RuntimeError):
    """Production was asked for with settings that are only fit for a demo."""


def check_production(settings: Settings) -> None:
    """Refuse to start in production with demo-grade settings."""
    if settings.environment != "production":
        return
    problems = []
    if not settings.mqtt_username or not settings.mqtt_password:
        problems.append("LOA_MQTT_USERNAME/LOA_MQTT_PASSWORD are required (anonymous brokers are for demos)")
    if not settings.secure_cookies:
        problems.append("LOA_SECURE_COOKIES must be true (serve the panel over TLS)")
    if not settings.mqtt_tls and settings.mqtt_host not in ("127.0.0.1", "::1", "localhost"):
        problems.append(
            "LOA_MQTT_TLS must be true for a broker on another host (passwords cross the network)"
        )
    if not settings.mqtt_public_tls:
        problems.append("LOA_MQTT_PUBLIC_TLS must be true (boxes reach the broker over TLS)")
    if problems:
        raise UnsafeSettings("; ".join(problems))


def build_services(
    settings: Settings,
    *,
    connect_mqtt: bool = True,
    hub: DeviceHub | None = None,
    on_status: Callable[[str, bytes], None] | None = None,
    metrics: Metrics | None = None,
) -> Services:
    """Everything a controller process holds; statuses go to ``on_status`` (the app's batching
    writer), or are written one by one."""
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    engine = make_engine(settings.resolved_database_url)
    signer = Signer.from_file(settings.resolved_signing_key_path)
    topics = Topics(settings.topic_root)
    store = MediaStore(settings.media_dir)
    gateway: MqttGateway | None = None

    def publish(topic: str, payload: bytes, retain: bool) -> Sent | None:
        return gateway.publish(topic, payload, retain) if gateway is not None else None

    publisher = TimelinePublisher(
        engine=engine,
        signer=signer,
        topics=topics,
        publish=publish,
        media_url=settings.public_url,
        horizon=timedelta(hours=settings.timeline_horizon_hours),
        mutex=mutex_for(engine, settings.data_dir, "compile"),
    )

    def receipts_stored(outcomes: Sequence[receipts.Outcome]) -> None:
        """After a batch of receipts is committed: one ack per box (the latest covers the rest)."""
        acks = {}
        for device_id, ack in outcomes:
            if metrics is not None:
                metrics.receipt(ack)
            if ack is not None:
                acks[device_id] = ack
        for device_id, ack in acks.items():
            publish(topics.ack(device_id), signer.sign(ack), True)
            if hub is not None:
                hub.notify(device_id)  # a failed play or a command's outcome shows on live pages

    receipt_writer = receipts.ReceiptWriter(engine, on_stored=receipts_stored)
    on_report = receipt_writer.submit

    def write_status(device_id: str, raw: bytes) -> None:
        devices.handle_status(engine, device_id=device_id, raw=raw, hub=hub)

    if connect_mqtt:
        gateway = MqttGateway(
            host=settings.mqtt_host,
            port=settings.mqtt_port,
            client_id=settings.mqtt_client_id,
            topics=topics,
            on_report=on_report,
            on_status=on_status or write_status,
            username=settings.mqtt_username,
            password=settings.mqtt_password,
            tls=settings.mqtt_tls,
            ca_file=settings.mqtt_ca_file,
        )
    return Services(
        settings=settings,
        engine=engine,
        receipt_writer=receipt_writer,
        signer=signer,
        topics=topics,
        store=store,
        renderer=Renderer(
            engine=get_engine(settings.tts_engine),
            store=store,
            settings=ProcessingSettings(
                codec=settings.audio_codec,
                target_lufs=settings.target_lufs,
                chimes=settings.chimes,
                opening_chime=settings.opening_chime,
                closing_chime=settings.closing_chime,
                max_upload_bytes=settings.max_upload_mb * 1024 * 1024,
            ),
            cache=RenderCache.beside(store),
        ),
        publisher=publisher,
        gateway=gateway,
        emergencies=EmergencyService(settings=settings, signer=signer, topics=topics, publish=publish),
        broker=BrokerSync(settings),
    )


def make_templates(settings: Settings) -> Jinja2Templates:
    templates = Jinja2Templates(directory=str(HERE / "templates"))
    i18n.install(templates.env)
    tz = ZoneInfo(settings.timezone)

    def vn_datetime(value: datetime | None, seconds: bool = False) -> str:
        if value is None:
            return "—"
        return value.astimezone(tz).strftime("%d/%m/%Y %H:%M:%S" if seconds else "%d/%m/%Y %H:%M")

    def ms_datetime(value: int) -> str:
        return vn_datetime(datetime.fromtimestamp(value / 1000, ZoneInfo("UTC")))

    templates.env.filters["vn_datetime"] = vn_datetime
    templates.env.filters["ms_datetime"] = ms_datetime
    templates.env.filters["library_text"] = library_text.words
    templates.env.globals.update(  # labels are message ids: templates show them through _()
        categories=bulletins.CATEGORIES,
        statuses=bulletins.STATUS_NAMES,
        accents=bulletins.ACCENT_NAMES,
        outcomes=OUTCOMES,
        priorities=schedules.PRIORITIES,
        device_states=DEVICE_STATE_LABELS,
    )
    return templates


def create_app(settings: Settings, *, connect_mqtt: bool = True, run_jobs: bool = True) -> FastAPI:
    """Build a controller: panel, API, media, MQTT gateway and the periodic compile job."""
    check_production(settings)
    i18n.load()
    hub = DeviceHub()
    statuses = StatusWriter(sampler=HealthSampler(timedelta(seconds=settings.health_sample_seconds)), hub=hub)
    metrics = Metrics()
    services = build_services(
        settings,
        connect_mqtt=connect_mqtt,
        hub=hub,
        on_status=metrics.count_status(statuses.submit),
        metrics=metrics,
    )
    jobs = Jobs(services.engine)
    leadership = Leadership(
        lock_for(services.engine, settings.data_dir),
        interval_s=settings.leader_check_seconds,
        on_elected=lambda: jobs.resume(run_now=("compile-timelines",)),
        on_deposed=jobs.pause,
    )

    def publish(topic: str, payload: bytes, retain: bool) -> None:
        if services.gateway is not None:
            services.gateway.publish(topic, payload, retain)

    def prune_health() -> None:
        health.prune_health(
            services.engine,
            now=utcnow(),
            full_for=timedelta(hours=settings.health_full_hours),
            keep_for=timedelta(days=settings.health_keep_days),
        )

    def prune_logins() -> None:
        with Session(services.engine) as session:
            auth.prune_sessions(session, settings=settings)

    def audit_checkpoint() -> None:
        checkpoints.write_daily(services.engine, signer=services.signer, settings=settings)

    def device_summary(user: User) -> devices.DevicePage:
        """Counts of the user's boxes for the home page (online, with an alert)."""
        with Session(services.engine) as session:
            return devices.summary(session, user=user, now=utcnow(), rules=AlertRules.from_settings(settings))

    @asynccontextmanager
    async def lifespan(_app: FastAPI) -> AsyncIterator[None]:
        if services.broker.managed:
            with Session(services.engine) as session:
                services.broker.apply(session)  # the registry is the truth; the files follow it
        statuses.start(services.engine)
        if services.gateway is not None:
            services.gateway.start()
        if run_jobs:
            jobs.every("compile-timelines", settings.compile_interval_seconds, services.publisher.refresh)
            jobs.every("prune-health", 3600, prune_health)
            jobs.every("audit-checkpoint", 3600, audit_checkpoint)
            jobs.every("prune-logins", 3600, prune_logins)
            asrun = AsRunFold.from_settings(services.engine, settings)
            jobs.every("asrun-fold", settings.asrun_fold_seconds, asrun.run)
            if settings.export_push_url:
                push = ExportPush.from_settings(services.engine, settings)
                jobs.every("export-push", settings.export_push_seconds, push.run)
            jobs.start(paused=True)
            leadership.start()
        yield
        if run_jobs:
            leadership.stop()
            jobs.stop()
        services.publisher.stop()
        if services.receipt_writer is not None:
            services.receipt_writer.stop()  # its last acks leave before the gateway closes
        if services.gateway is not None:
            services.gateway.stop()
        statuses.stop()
        services.engine.dispose()

    app = FastAPI(title="Loa", version="0.1.0", lifespan=lifespan, docs_url="/api/docs", redoc_url=None)
    app.state.services = services
    app.state.templates = make_templates(settings)
    app.state.device_hub = hub
    app.state.commands = CommandService(
        signer=services.signer,
        topics=services.topics,
        publish=publish,
        ttl=timedelta(seconds=settings.device_command_ttl_seconds),
    )
    app.state.templates.env.globals["device_summary"] = device_summary
    app.add_middleware(i18n.LanguageMiddleware)
    install_metrics(app, metrics, services=services, is_leader=lambda: leadership.is_leader)

    from controller.routes import (
        api,
        api_devices,
        api_emergencies,
        api_export,
        api_library,
        api_releases,
        api_tokens,
        media,
        panel,
        panel_admin,
        panel_auth,
        panel_chimes,
        panel_devices,
        panel_home,
        panel_playlists,
        panel_registry,
        panel_reports,
        panel_schedules,
        panel_settings,
        panel_tokens,
        panel_users,
        panel_versions,
        panel_voices,
        public,
    )

    app.include_router(api.router)
    app.include_router(api_devices.router)
    app.include_router(api_emergencies.router)
    app.include_router(api_export.router)
    app.include_router(api_library.router)
    app.include_router(api_releases.router)
    app.include_router(api_tokens.router)
    app.include_router(media.router)
    app.include_router(panel_auth.router)
    app.include_router(panel_home.router)
    app.include_router(panel.router)
    app.include_router(panel_schedules.router)
    app.include_router(panel_playlists.router)
    app.include_router(panel_versions.router)
    app.include_router(panel_admin.router)
    app.include_router(panel_registry.router)
    app.include_router(panel_reports.router)
    app.include_router(panel_devices.router)
    app.include_router(panel_users.router)
    app.include_router(panel_settings.router)
    app.include_router(panel_chimes.router)
    app.include_router(panel_tokens.router)
    app.include_router(panel_voices.router)
    app.include_router(public.router)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    install_problems(app)

    @app.exception_handler(LoginRequired)
    async def _login_required(_request: Request, _exc: LoginRequired) -> Response:
        return RedirectResponse("/login", status_code=303)

    @app.exception_handler(LoaError)
    async def _loa_error(request: Request, exc: LoaError) -> Response:
        if request.url.path.startswith(("/api/", "/media/")):
            return JSONResponse(
                {
                    "type": "about:blank",
                    "title": i18n.gettext(exc.title),
                    "status": exc.status_code,
                    "detail": exc.message,
                    "field": exc.field,
                    **exc.details(),
                },
                status_code=exc.status_code,
                media_type="application/problem+json",
            )
        response: Response = app.state.templates.TemplateResponse(
            request, "error.html", {"error": exc, "user": None}, status_code=exc.status_code
        )
        return response

    @app.get("/healthz", include_in_schema=False)
    def healthz() -> dict[str, object]:
        return {
            "ok": True,
            "mqtt": bool(services.gateway and services.gateway.connected),
            "leader": leadership.is_leader,
        }

    return app
