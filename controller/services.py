"""What one controller process holds, built once in ``app.create_app`` and passed down."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import Engine

from audio import MediaStore
from controller.emergency import EmergencyService
from controller.gateway import MqttGateway
from controller.keys import Signer
from controller.receipts import ReceiptWriter
from controller.registry import BrokerSync
from controller.rendering import Renderer
from controller.settings import Settings
from controller.timelines import TimelinePublisher
from playlists.wire import Topics


@dataclass
class Services:
    settings: Settings
    engine: Engine
    signer: Signer
    topics: Topics
    store: MediaStore
    renderer: Renderer
    publisher: TimelinePublisher
    gateway: MqttGateway | None
    emergencies: EmergencyService
    broker: BrokerSync
    receipt_writer: ReceiptWriter | None = None

    @property
    def session_cookie(self) -> str:
        return "__Host-loa_session" if self.settings.secure_cookies else "loa_session"
