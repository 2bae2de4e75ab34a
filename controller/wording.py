"""A pure package's sentences, handed over as stable codes with parameters (``playlists.texts``,
``audio.texts``, ``device_registry.texts``), worded in the reader's language through the catalogue."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Protocol

from controller.errors import InvalidInput
from controller.i18n import gettext


class Coded(Protocol):
    """What the packages' ``Text`` classes have in common."""

    @property
    def code(self) -> str: ...

    @property
    def params(self) -> tuple[tuple[str, object], ...]: ...


def _as_is(value: object) -> object:
    return value


@dataclass(frozen=True)
class Wording:
    """The message id of each code of one package (``messages``), and how a parameter is written
    out (``param``: dates as dd/mm/yyyy, numbers as the reader writes them, …)."""

    messages: Mapping[str, str]
    param: Callable[[object], object] = _as_is

    def message_of(self, text: Coded) -> tuple[str, dict[str, object]]:
        """The message id of ``text`` and its placeholders, written out."""
        if text.code not in self.messages:
            return str(text), {}  # a code newer than the table: its English words beat nothing
        return self.messages[text.code], {name: self.param(value) for name, value in text.params}

    def words(self, text: Coded) -> str:
        """``text`` in the current language."""
        message, params = self.message_of(text)
        return gettext(message, **params)

    def invalid_input(self, text: Coded, *, field: str) -> InvalidInput:
        """The panel's and the API's error saying ``text``, worded when it is shown."""
        message, params = self.message_of(text)
        return InvalidInput(message, field=field, **params)
