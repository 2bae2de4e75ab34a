"""Batch registration from CSV files made by district staff, usually in Excel: boxes and villages.

Forgiving where a person cannot see the difference (UTF-8 with or without BOM, ``,`` ``;`` or tab
as separator, decimal commas, Vietnamese or English column names, upper-case device ids, accents
composed or decomposed) and strict where a mistake would land in the registry. Every problem comes
back as a ``LineError`` naming the line, all of them at once, so the file is fixed in one go; the
caller imports nothing while any error remains. A problem is a ``Text`` (``texts.py``) that the
controller words in the reader's language; ``str()`` is English.

Boxes: ``device_id,name,zone_code,lat,lon,address`` (lat, lon and address may be empty or absent).
Villages: ``commune_code,name,kind`` with kind one of thôn, xóm, bản, khối, tổ dân phố.
"""

from __future__ import annotations

import csv
import io
import re
import unicodedata
from collections.abc import Collection, Iterator
from dataclasses import dataclass
from typing import Generic, TypeVar

from device_registry.broker import valid_zone_code
from device_registry.credentials import valid_device_id
from device_registry.texts import Text

__all__ = [
    "VILLAGE_KINDS",
    "DeviceRow",
    "LineError",
    "Parsed",
    "VillageRow",
    "parse_devices_csv",
    "parse_villages_csv",
]

T = TypeVar("T")
VILLAGE_KINDS = ("thôn", "xóm", "bản", "khối", "tổ dân phố")
MAX_NAME = 200
MAX_ADDRESS = 500
# Mainland, Hoàng Sa and Trường Sa, with a margin: catches swapped or mistyped coordinates.
LAT_RANGE, LON_RANGE = (6.0, 24.0), (102.0, 118.0)
_COMMUNE_RE = re.compile(r"^w?0*([0-9]{1,6})$")

_DEVICE_COLUMNS = {
    "device_id": ("mã loa", "mã thiết bị"),
    "name": ("tên", "tên loa"),
    "zone_code": ("mã khu vực", "mã vùng", "khu vực"),
    "lat": ("vĩ độ", "latitude"),
    "lon": ("kinh độ", "longitude", "lng"),
    "address": ("địa chỉ",),
}
_VILLAGE_COLUMNS = {
    "commune_code": ("mã xã", "mã xã/phường", "mã phường"),
    "name": ("tên", "tên thôn"),
    "kind": ("loại",),
}  # header cells are compared without accents, case or underscores


@dataclass(frozen=True)
class LineError:
    """One problem in the file; ``line`` is None for the file as a whole."""

    line: int | None
    text: Text

    def __str__(self) -> str:
        return str(self.text) if self.line is None else f"Line {self.line}: {self.text}"


@dataclass(frozen=True)
class Parsed(Generic[T]):
    """The rows that passed and every error found; import only when ``ok``."""

    rows: tuple[T, ...]
    errors: tuple[LineError, ...]

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(frozen=True, kw_only=True)
class DeviceRow:
    """A box to register."""

    line: int
    device_id: str
    name: str
    zone_code: str
    lat: float | None
    lon: float | None
    address: str


@dataclass(frozen=True, kw_only=True)
class VillageRow:
    """A village (thôn, xóm, bản, khối, tổ dân phố) of a commune or ward, by the commune's zone code."""

    line: int
    commune_code: str
    name: str
    kind: str


def parse_devices_csv(
    data: bytes | str,
    *,
    known_zones: Collection[str] | None = None,
    known_devices: Collection[str] = (),
) -> Parsed[DeviceRow]:
    """Check a box registration file; ``known_zones`` (if given) are the zone codes that exist,
    ``known_devices`` the device ids already registered."""
    rows: list[DeviceRow] = []
    errors: list[LineError] = []
    seen: dict[str, int] = {}
    for line, record in _records(data, _DEVICE_COLUMNS, ("device_id", "name", "zone_code"), errors):
        problems: list[Text] = []
        device_id = record.get("device_id", "").strip().lower()
        if not valid_device_id(device_id):
            problems.append(
                Text.of("device_id.invalid", id=repr(device_id)) if device_id else Text("device_id.missing")
            )
        elif device_id in seen:
            problems.append(Text.of("device_id.repeated", id=repr(device_id), first=seen[device_id]))
        elif device_id in known_devices:
            problems.append(Text.of("device_id.known", id=repr(device_id)))
        else:
            seen[device_id] = line
        name = _text(record.get("name", ""))
        _check_name(name, "box_name", problems)
        zone_code = record.get("zone_code", "").strip()
        if not zone_code:
            problems.append(Text("zone_code.missing"))
        elif not valid_zone_code(zone_code):
            problems.append(Text.of("zone_code.invalid", code=repr(zone_code)))
        elif known_zones is not None and zone_code not in known_zones:
            problems.append(Text.of("zone_code.unknown", code=repr(zone_code)))
        lat, lon = _coordinates(record.get("lat", ""), record.get("lon", ""), problems)
        address = _text(record.get("address", ""))
        if len(address) > MAX_ADDRESS:
            problems.append(Text.of("address.too_long", limit=MAX_ADDRESS))
        errors += [LineError(line, problem) for problem in problems]
        if not problems:
            rows.append(
                DeviceRow(
                    line=line,
                    device_id=device_id,
                    name=name,
                    zone_code=zone_code,
                    lat=lat,
                    lon=lon,
                    address=address,
                )
            )
    return Parsed(tuple(rows), tuple(errors))


def parse_villages_csv(
    data: bytes | str, *, known_communes: Collection[str] | None = None
) -> Parsed[VillageRow]:
    """Check a villages file; commune codes may be written ``w17329`` or ``17329`` (the official code)."""
    rows: list[VillageRow] = []
    errors: list[LineError] = []
    seen: dict[tuple[str, str], int] = {}
    for line, record in _records(data, _VILLAGE_COLUMNS, ("commune_code", "name", "kind"), errors):
        problems: list[Text] = []
        typed = record.get("commune_code", "").strip().lower()
        match = _COMMUNE_RE.match(typed)
        commune_code = f"w{int(match[1])}" if match else ""
        if not typed:
            problems.append(Text("commune_code.missing"))
        elif not match:
            problems.append(Text.of("commune_code.invalid", code=repr(typed)))
        elif known_communes is not None and commune_code not in known_communes:
            problems.append(Text.of("commune_code.unknown", code=repr(commune_code)))
        name = _text(record.get("name", ""))
        _check_name(name, "village_name", problems)
        typed_kind = _text(record.get("kind", "")).lower()
        kind = _KIND_BY_KEY.get(_unaccent(typed_kind))
        if kind is None:
            problems.append(
                Text.of("kind.invalid", kind=repr(typed_kind)) if typed_kind else Text("kind.missing")
            )
        key = (commune_code, name.casefold())
        if commune_code and name and key in seen:
            problems.append(
                Text.of("village.repeated", name=repr(name), commune=commune_code, first=seen[key])
            )
        elif commune_code and name:
            seen[key] = line
        errors += [LineError(line, problem) for problem in problems]
        if not problems and kind is not None:
            rows.append(VillageRow(line=line, commune_code=commune_code, name=name, kind=kind))
    return Parsed(tuple(rows), tuple(errors))


def _records(
    data: bytes | str,
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    errors: list[LineError],
) -> Iterator[tuple[int, dict[str, str]]]:
    """(line number, {column: raw value}) for each non-empty row after the header; file and header
    problems go to ``errors`` and end the iteration."""
    if isinstance(data, bytes):
        try:
            data = data.decode("utf-8-sig")
        except UnicodeDecodeError:
            errors.append(LineError(None, Text("file.not_utf8")))
            return
    text = data.removeprefix("\ufeff")
    first = next((line for line in text.splitlines() if line.strip()), "")
    if not first:
        errors.append(LineError(None, Text("file.empty")))
        return
    delimiter = max((",", ";", "\t"), key=first.count)
    reader = csv.reader(io.StringIO(text, newline=""), delimiter=delimiter)
    header: list[str | None] | None = None
    data_rows = 0
    end = 0
    try:
        for row in reader:
            start, end = end + 1, reader.line_num
            if not any(cell.strip() for cell in row):
                continue
            if header is None:
                header = _header(row, columns, required, start, errors)
                if header is None:
                    return
                continue
            data_rows += 1
            if any(cell.strip() for cell in row[len(header) :]):  # Excel may pad rows with empty cells
                too_many = Text.of("row.too_many_cells", cells=len(row), header=len(header))
                errors.append(LineError(start, too_many))
                continue
            yield start, {name: cell for name, cell in zip(header, row, strict=False) if name is not None}
    except csv.Error as exc:
        errors.append(LineError(end + 1, Text.of("row.unreadable", error=str(exc))))
    if header is not None and data_rows == 0:
        errors.append(LineError(None, Text("file.header_only")))


def _header(
    row: list[str],
    columns: dict[str, tuple[str, ...]],
    required: tuple[str, ...],
    line: int,
    errors: list[LineError],
) -> list[str | None] | None:
    names = {_key(name): name for name in columns}
    names |= {_key(alias): name for name, aliases in columns.items() for alias in aliases}
    header: list[str | None] = []
    ok = True
    for cell in row:
        name = names.get(_key(cell))
        if name is None and cell.strip():
            unknown = Text.of("header.unknown", cell=repr(cell.strip()), columns=", ".join(columns))
            errors.append(LineError(line, unknown))
            ok = False
        elif name is not None and name in header:
            errors.append(LineError(line, Text.of("header.twice", name=repr(name))))
            ok = False
        header.append(name)
    for name in required:
        if name not in header:
            errors.append(LineError(line, Text.of("header.missing", name=repr(name))))
            ok = False
    return header if ok else None


def _coordinates(lat_text: str, lon_text: str, problems: list[Text]) -> tuple[float | None, float | None]:
    lat_text, lon_text = lat_text.strip(), lon_text.strip()
    if not lat_text and not lon_text:
        return None, None
    if not lat_text or not lon_text:
        problems.append(Text("coordinates.half"))
        return None, None
    lat = _number(lat_text, "lat", LAT_RANGE, problems)
    lon = _number(lon_text, "lon", LON_RANGE, problems)
    return lat, lon


def _number(text: str, which: str, bounds: tuple[float, float], problems: list[Text]) -> float | None:
    """``which`` (lat or lon) as a number within ``bounds``; None, with the problem, otherwise."""
    try:
        value = float(text.replace(",", ".", 1) if text.count(",") == 1 else text)
    except ValueError:
        problems.append(Text.of(f"{which}.not_number", typed=repr(text)))
        return None
    if not bounds[0] <= value <= bounds[1]:
        low, high = f"{bounds[0]:g}", f"{bounds[1]:g}"
        problems.append(Text.of(f"{which}.outside", value=str(value), low=low, high=high))
        return None
    return value


def _check_name(name: str, which: str, problems: list[Text]) -> None:
    """A name (``which``: box_name or village_name) is given and not too long."""
    if not name:
        problems.append(Text(f"{which}.missing"))
    elif len(name) > MAX_NAME:
        problems.append(Text.of(f"{which}.too_long", limit=MAX_NAME))


def _text(cell: str) -> str:
    """Composed Unicode (Vietnamese typed on different keyboards compares equal), single spaces."""
    return " ".join(unicodedata.normalize("NFC", cell).split())


def _unaccent(text: str) -> str:
    decomposed = unicodedata.normalize("NFD", text.replace("đ", "d").replace("Đ", "D"))
    return "".join(char for char in decomposed if not unicodedata.combining(char))


def _key(header_cell: str) -> str:
    return _unaccent(_text(header_cell).lower()).replace("_", " ")


# Kinds typed without accents ("xom", "to dan pho") or abbreviated ("tdp") are understood.
_KIND_BY_KEY: dict[str, str] = {_unaccent(kind): kind for kind in VILLAGE_KINDS} | {"tdp": "tổ dân phố"}
