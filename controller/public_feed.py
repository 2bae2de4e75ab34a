"""A commune's aired bulletins as an RSS 2.0 podcast feed (with the iTunes tags podcast apps read).

Built with ElementTree, which escapes every text and attribute; characters XML 1.0 cannot hold at
all (control characters pasted from a document) are dropped first, so the feed always parses. A
description is HTML by custom, so the text goes in HTML-escaped too (markup typed in a bulletin stays
text in every reader).
Pages past the first are linked as in RFC 5005 (paged feeds). Pure: the caller gives the URLs.
"""

from __future__ import annotations

import html
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from xml.etree.ElementTree import Element, SubElement, register_namespace, tostring

from controller.public import PublicBulletin

ATOM = "http://www.w3.org/2005/Atom"
ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
register_namespace("atom", ATOM)
register_namespace("itunes", ITUNES)
_NOT_XML = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")


@dataclass(frozen=True)
class FeedInfo:
    """The channel: its title and description (already in the feed's language) and its addresses."""

    title: str
    description: str
    author: str
    language: str
    page_url: str
    self_url: str
    built_at: datetime
    next_url: str | None = None
    previous_url: str | None = None
    first_url: str | None = None


def xml_text(text: str) -> str:
    """``text`` without the characters XML 1.0 forbids. Pure."""
    return _NOT_XML.sub("", text)


def html_text(text: str) -> str:
    """Plain text as the HTML a description holds: readers render it as HTML, so markup a writer
    typed must arrive as text, and line breaks as breaks. Pure."""
    return "<br>\n".join(html.escape(line) for line in text.split("\n"))


def _add(parent: Element, tag: str, text: str | None = None, attrs: dict[str, str] | None = None) -> Element:
    child = SubElement(parent, tag, {k: xml_text(v) for k, v in (attrs or {}).items()})
    if text is not None:
        child.text = xml_text(text)
    return child


def _date(at: datetime) -> str:
    return format_datetime(at.astimezone(UTC), usegmt=True)


def _duration(ms: int) -> str:
    seconds = round(ms / 1000)
    return f"{seconds // 3600:02d}:{seconds // 60 % 60:02d}:{seconds % 60:02d}"


def rss(
    info: FeedInfo,
    items: Sequence[PublicBulletin],
    *,
    item_url: Callable[[PublicBulletin], str],
    audio_url: Callable[[PublicBulletin], str],
    category: Callable[[PublicBulletin], str],
) -> bytes:
    """The feed as UTF-8 XML; items in the order given."""
    root = Element("rss", {"version": "2.0"})
    channel = _add(root, "channel")
    _add(channel, "title", info.title)
    _add(channel, "link", info.page_url)
    _add(channel, "description", info.description)
    _add(channel, "language", info.language)
    _add(channel, "lastBuildDate", _date(info.built_at))
    _add(channel, "generator", "Loa")
    links = (("self", info.self_url), ("first", info.first_url), ("next", info.next_url))
    for rel, url in (*links, ("previous", info.previous_url)):
        if url:
            _add(channel, f"{{{ATOM}}}link", attrs={"href": url, "rel": rel, "type": "application/rss+xml"})
    _add(channel, f"{{{ITUNES}}}author", info.author)
    _add(channel, f"{{{ITUNES}}}explicit", "false")
    _add(channel, f"{{{ITUNES}}}type", "episodic")
    _add(channel, f"{{{ITUNES}}}category", attrs={"text": "Government"})
    for bulletin in items:
        item = _add(channel, "item")
        _add(item, "title", bulletin.title)
        _add(item, "link", item_url(bulletin))
        _add(item, "guid", item_url(bulletin), {"isPermaLink": "true"})
        _add(item, "description", html_text(bulletin.body))
        _add(item, "category", category(bulletin))
        _add(item, "pubDate", _date(bulletin.first_aired_at))
        enclosure = {
            "url": audio_url(bulletin),
            "length": str(bulletin.media_bytes),
            "type": bulletin.media_mime,
        }
        _add(item, "enclosure", attrs=enclosure)
        _add(item, f"{{{ITUNES}}}duration", _duration(bulletin.duration_ms))
        _add(item, f"{{{ITUNES}}}explicit", "false")
    feed: bytes = tostring(root, encoding="utf-8", xml_declaration=True)
    return feed
