"""The problems of a registration file (boxes, villages) in the reader's language.

``device_registry.csv_import`` hands over ``LineError``s whose ``Text`` is a stable code and its
parameters (``device_registry/texts.py``); this module is the one place that words them, through
the catalogue: Vietnamese by default, English for a reader who chose it.
"""

from __future__ import annotations

from collections.abc import Sequence

from controller.errors import InvalidInput
from controller.i18n import N_, gettext
from controller.wording import Wording
from device_registry.csv_import import LineError

#: The message id of each code of ``device_registry.texts.ENGLISH`` (a test holds the two lists equal).
MESSAGES = {
    "file.not_utf8": N_("The file is not UTF-8: in Excel, save it as “CSV UTF-8”"),
    "file.empty": N_("The file is empty"),
    "file.header_only": N_("The file has only the header line, no data lines"),
    "row.too_many_cells": N_("has %(cells)s columns, more than the header (%(header)s columns)"),
    "row.unreadable": N_("the CSV line cannot be read (%(error)s)"),
    "header.unknown": N_("column %(cell)s is unknown (the columns: %(columns)s)"),
    "header.twice": N_("column %(name)s appears twice"),
    "header.missing": N_("column %(name)s is missing"),
    "device_id.missing": N_("the box id is missing"),
    "device_id.invalid": N_(
        "box id %(id)s is invalid (only lower-case letters without accents, digits and hyphens, "
        "at most 63 characters)"
    ),
    "device_id.repeated": N_("box id %(id)s repeats line %(first)s"),
    "device_id.known": N_("box id %(id)s is registered already"),
    "box_name.missing": N_("the box name is missing"),
    "box_name.too_long": N_("the box name is longer than %(limit)s characters"),
    "zone_code.missing": N_("the zone code is missing"),
    "zone_code.invalid": N_("zone code %(code)s is invalid"),
    "zone_code.unknown": N_("zone code %(code)s does not exist"),
    "address.too_long": N_("the address is longer than %(limit)s characters"),
    "coordinates.half": N_("give both latitude and longitude, or leave both empty"),
    "lat.not_number": N_("latitude %(typed)s is not a number"),
    "lon.not_number": N_("longitude %(typed)s is not a number"),
    "lat.outside": N_(
        "latitude %(value)s is outside Viet Nam (%(low)s–%(high)s); are latitude and longitude swapped?"
    ),
    "lon.outside": N_(
        "longitude %(value)s is outside Viet Nam (%(low)s–%(high)s); are latitude and longitude swapped?"
    ),
    "commune_code.missing": N_("the commune/ward code is missing"),
    "commune_code.invalid": N_("commune/ward code %(code)s is invalid (for example: w17329 or 17329)"),
    "commune_code.unknown": N_("commune/ward code %(code)s does not exist"),
    "village_name.missing": N_("the village name is missing"),
    "village_name.too_long": N_("the village name is longer than %(limit)s characters"),
    "kind.missing": N_("the kind is missing (thôn, xóm, bản, khối or tổ dân phố)"),
    "kind.invalid": N_("kind %(kind)s is invalid (thôn, xóm, bản, khối or tổ dân phố)"),
    "village.repeated": N_("%(name)s of commune %(commune)s repeats line %(first)s"),
}
#: How many problems an error message lists before it only counts the rest.
SHOWN = 20


words = Wording(MESSAGES).words


def line_words(error: LineError) -> str:
    """One problem of the file, with its line, in the current language."""
    if error.line is None:
        return words(error.text)
    return gettext("Line %(line)s: %(problem)s", line=error.line, problem=words(error.text))


class _Problems:
    """The problems of a file, written out when the message is read (in the reader's language)."""

    def __init__(self, errors: Sequence[LineError]) -> None:
        self.errors = errors

    def __str__(self) -> str:
        return "; ".join(line_words(error) for error in self.errors)


def invalid_file(message: str, errors: Sequence[LineError]) -> InvalidInput:
    """The panel's and the API's error for a file that cannot be imported: ``message`` (with
    ``%(errors)s``, and ``%(more)s`` when there are more than ``SHOWN``), worded when shown."""
    more = {"more": len(errors) - SHOWN} if len(errors) > SHOWN else {}
    return InvalidInput(message, field="file", errors=_Problems(errors[:SHOWN]), **more)
