"""The problems of a registration file, as stable codes with parameters (pure).

Like ``playlists/texts.py``, whose ``Text`` it extends with its own codes: each ``LineError`` of
``csv_import`` carries a ``Text`` that the controller words in the reader's language
(``controller/registry_text.py``); ``str()`` gives plain English, for logs and tests. Values typed
in the file are parameters, already quoted (``repr``) where the sentence quotes them.
"""

from __future__ import annotations

from playlists import texts

_KINDS = "thôn, xóm, bản, khối or tổ dân phố"  # the kinds as stored, in every language
_SWAPPED = "are latitude and longitude swapped?"

#: Every code the package uses, with its English wording (``str.format`` on the parameters).
ENGLISH = {
    "file.not_utf8": "The file is not UTF-8: in Excel, save it as “CSV UTF-8”",
    "file.empty": "The file is empty",
    "file.header_only": "The file has only the header line, no data lines",
    "row.too_many_cells": "has {cells} columns, more than the header ({header} columns)",
    "row.unreadable": "the CSV line cannot be read ({error})",
    "header.unknown": "column {cell} is unknown (the columns: {columns})",
    "header.twice": "column {name} appears twice",
    "header.missing": "column {name} is missing",
    "device_id.missing": "the box id is missing",
    "device_id.invalid": (
        "box id {id} is invalid (only lower-case letters without accents, digits and hyphens, "
        "at most 63 characters)"
    ),
    "device_id.repeated": "box id {id} repeats line {first}",
    "device_id.known": "box id {id} is registered already",
    "box_name.missing": "the box name is missing",
    "box_name.too_long": "the box name is longer than {limit} characters",
    "zone_code.missing": "the zone code is missing",
    "zone_code.invalid": "zone code {code} is invalid",
    "zone_code.unknown": "zone code {code} does not exist",
    "address.too_long": "the address is longer than {limit} characters",
    "coordinates.half": "give both latitude and longitude, or leave both empty",
    "lat.not_number": "latitude {typed} is not a number",
    "lon.not_number": "longitude {typed} is not a number",
    "lat.outside": f"latitude {{value}} is outside Viet Nam ({{low}}–{{high}}); {_SWAPPED}",
    "lon.outside": f"longitude {{value}} is outside Viet Nam ({{low}}–{{high}}); {_SWAPPED}",
    "commune_code.missing": "the commune/ward code is missing",
    "commune_code.invalid": "commune/ward code {code} is invalid (for example: w17329 or 17329)",
    "commune_code.unknown": "commune/ward code {code} does not exist",
    "village_name.missing": "the village name is missing",
    "village_name.too_long": "the village name is longer than {limit} characters",
    "kind.missing": f"the kind is missing ({_KINDS})",
    "kind.invalid": f"kind {{kind}} is invalid ({_KINDS})",
    "village.repeated": "{name} of commune {commune} repeats line {first}",
}


class Text(texts.Text):
    """A sentence for a reader: a code of this package's ``ENGLISH`` and its parameters."""

    english = ENGLISH
