"""Errors users can act on: a message in the reader's language for the panel, a status for the API."""

from __future__ import annotations

from controller.i18n import N_, gettext


class LoaError(Exception):
    """Base of the errors shown to users.

    ``message`` is an English message id marked with ``N_`` (placeholders ``%(name)s`` filled from
    ``params``); it is translated when read, into the language of the request that shows it
    (Vietnamese unless the reader chose English). ``title`` is a message id too.
    """

    status_code = 400
    title = N_("Invalid request")

    def __init__(self, message: str, *, field: str | None = None, **params: object) -> None:
        super().__init__(message)
        self.message_id = message
        self.params = params
        self.field = field

    @property
    def message(self) -> str:
        """The message in the current language."""
        return gettext(self.message_id, **self.params)

    def __str__(self) -> str:
        return self.message  # the CLI and the logs read Vietnamese, as the panel does by default

    def details(self) -> dict[str, object]:
        """Extra members of the API's problem document."""
        return {}


class InvalidInput(LoaError):
    status_code = 422
    title = N_("Invalid data")


class NotFound(LoaError):
    status_code = 404
    title = N_("Not found")


class Forbidden(LoaError):
    status_code = 403
    title = N_("Not allowed")


class Unauthenticated(LoaError):
    status_code = 401
    title = N_("Not logged in")


class Conflict(LoaError):
    status_code = 409
    title = N_("State conflict")


class Gone(LoaError):
    status_code = 410
    title = N_("Expired")


class TooManyRequests(LoaError):
    status_code = 429
    title = N_("Too many attempts")
