"""The panel's languages: Vietnamese by default, English on request, from gettext catalogues.

Message ids are English; ``locale/vi/LC_MESSAGES/messages.po`` holds the Vietnamese wording and is
read when first needed (no build step); English is served from the ids themselves. The language of
a request comes from the ``loa_lang`` cookie (set by the switch in the page header) and lives in a
context variable, so that code far from the request (an error raised in ``bulletins``, an alert's
detail) speaks the reader's language through ``gettext`` without being handed it. Code that runs
outside a request (jobs, the API with a bearer token) speaks Vietnamese.

Strings defined before any request (labels of statuses, error messages) are marked with ``N_`` and
translated where they are shown. How to update the catalogue: ``docs/translations.md``.
"""

from __future__ import annotations

import gettext as _gettext
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from functools import cache
from io import BytesIO
from pathlib import Path
from typing import Any

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from babel.numbers import format_decimal
from babel.support import Translations
from jinja2 import Environment
from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send

LOCALE_DIR = Path(__file__).parent / "locale"
DOMAIN = "messages"
DEFAULT_LANGUAGE = "vi"
#: The languages a reader can pick, each named in its own language (as the switch shows it).
LANGUAGES = {"vi": "Tiếng Việt", "en": "English"}
COOKIE = "loa_lang"

_language: ContextVar[str] = ContextVar("loa_language", default=DEFAULT_LANGUAGE)


def N_(message: str) -> str:
    """Mark ``message`` for the catalogue without translating it yet (it is shown later)."""
    return message


@cache
def translations(language: str) -> _gettext.NullTranslations:
    """The catalogue of ``language``, read from its ``.po`` file; English is the message ids."""
    if language not in LANGUAGES or language == "en":
        return _gettext.NullTranslations()
    with (LOCALE_DIR / language / "LC_MESSAGES" / f"{DOMAIN}.po").open("rb") as po:
        catalog = read_po(po, locale=language, domain=DOMAIN)
    compiled = BytesIO()
    write_mo(compiled, catalog)  # fuzzy entries are left out: they fall back to English
    compiled.seek(0)
    return Translations(compiled, domain=DOMAIN)


def load() -> None:
    """Read every catalogue now, so that a broken one stops the controller at start."""
    for language in LANGUAGES:
        translations(language)


def current_language() -> str:
    """The language of the current request (``vi`` outside a request)."""
    return _language.get()


def pick_language(value: str | None) -> str:
    """A supported language from a cookie or a query value; Vietnamese otherwise."""
    return value if value in LANGUAGES else DEFAULT_LANGUAGE


@contextmanager
def use_language(language: str) -> Iterator[None]:
    """Speak ``language`` inside the block (tests, jobs that write for one reader)."""
    token = _language.set(pick_language(language))
    try:
        yield
    finally:
        _language.reset(token)


def gettext(message: str, **variables: Any) -> str:
    """``message`` in the current language; ``%(name)s`` placeholders filled from ``variables``."""
    text = translations(current_language()).gettext(message)
    return text % variables if variables else text


def ngettext(singular: str, plural: str, num: int, **variables: Any) -> str:
    """The singular or plural form for ``num`` (available as ``%(num)s``) in the current language."""
    text = translations(current_language()).ngettext(singular, plural, num)
    return text % {"num": num, **variables}


def decimal(value: float, pattern: str = "0.0") -> str:
    """A number as the reader writes it: ``3,5`` in Vietnamese, ``3.5`` in English."""
    return format_decimal(value, pattern, locale=current_language())


class LanguageMiddleware:
    """Sets the language of each request from its cookie, for templates and messages alike."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] not in ("http", "websocket"):
            await self.app(scope, receive, send)
            return
        token = _language.set(pick_language(HTTPConnection(scope).cookies.get(COOKIE)))
        try:
            await self.app(scope, receive, send)
        finally:
            _language.reset(token)


def _template_gettext(message: str) -> str:
    return translations(current_language()).gettext(message)


def _template_ngettext(singular: str, plural: str, num: int) -> str:
    return translations(current_language()).ngettext(singular, plural, num)


def install(env: Environment) -> None:
    """Give templates ``_``/``gettext``/``ngettext`` and ``{% trans %}`` in the reader's language."""
    env.add_extension("jinja2.ext.i18n")
    env.policies["ext.i18n.trimmed"] = True  # the same whitespace rule as extraction (babel.cfg)
    env.install_gettext_callables(  # type: ignore[attr-defined]
        gettext=_template_gettext, ngettext=_template_ngettext, newstyle=True
    )
    env.globals.update(current_language=current_language, languages=LANGUAGES)
    env.filters["decimal"] = decimal
