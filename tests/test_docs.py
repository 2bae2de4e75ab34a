"""Docs are part of the product: every setting, topic and command is documented."""

from __future__ import annotations

import argparse
import dataclasses
import re
from pathlib import Path

import msgspec
import pytest

from controller.settings import Settings
from edge_agent.config import AgentConfig
from loa.cli import build_parser
from playlists import wire
from playlists.wire import Topics

DOCS = Path(__file__).parent.parent / "docs"


def test_every_controller_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [name for name in Settings.model_fields if f"`LOA_{name.upper()}`" not in text]
    assert missing == []


def test_every_agent_setting_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    missing = [f.name for f in dataclasses.fields(AgentConfig) if f"`{f.name}`" not in text]
    assert missing == []


def test_every_topic_is_documented() -> None:
    text = (DOCS / "protocol.md").read_text()
    topics = Topics("loa/v1")
    for name in ("timeline", "command", "status", "report", "ack"):
        assert f"`{getattr(topics, name)('{device_id}')}`" in text, name
    assert f"`{topics.zone_command('{zone_id}')}`" in text


def test_every_cli_command_is_documented() -> None:
    text = (DOCS / "configuration.md").read_text()
    sub = next(a for a in build_parser()._actions if isinstance(a, argparse._SubParsersAction))
    missing = [name for name in sub.choices if f"`loa {name}" not in text]
    assert missing == []


WIRE_DOCUMENTS = [
    t
    for t in vars(wire).values()
    if isinstance(t, type) and issubclass(t, wire.WireDocument) and t is not wire.WireDocument
]


@pytest.mark.parametrize("document", WIRE_DOCUMENTS, ids=lambda t: t.__name__)
def test_every_field_of_a_wire_document_is_documented(document: type[wire.WireDocument]) -> None:
    text = re.sub(r"```.*?```", "", (DOCS / "protocol.md").read_text(), flags=re.DOTALL)
    words = {word for span in re.findall(r"`([^`]+)`", text) for word in re.findall(r"\w+", span)}
    missing = [f.name for f in msgspec.structs.fields(document) if f.name not in words]
    assert missing == []
