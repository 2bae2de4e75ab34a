"""The panel's catalogue: every message of the code has its Vietnamese wording, and nothing else."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import UTC, date, datetime, time
from pathlib import Path

import pytest
from babel.messages.catalog import Catalog, Message
from babel.messages.extract import DEFAULT_KEYWORDS, extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po
from jinja2 import Environment, nodes

from controller import i18n
from controller.schedule_words import describe_rule
from playlists.rules import NthWeekday, Rule, describe_vi
from tests.controller.i18n_support import VIETNAMESE, vietnamese_literals

ROOT = Path(__file__).resolve().parents[2]
CONTROLLER = ROOT / "controller"
PO = CONTROLLER / "locale" / "vi" / "LC_MESSAGES" / "messages.po"
PLACEHOLDER = re.compile(r"%\((\w+)\)[sd]")
# Python modules of the panel whose every user-facing string must go through the catalogue.
PANEL_MODULES = [
    *sorted((CONTROLLER / "routes").glob("panel*.py")),
    CONTROLLER / "forms.py",
    CONTROLLER / "errors.py",
    CONTROLLER / "schedule_words.py",
    CONTROLLER / "library_text.py",
    CONTROLLER / "audio_text.py",
    CONTROLLER / "rendering.py",
]
# Vietnamese strings of those modules that are data, not text for a reader: a village kind as stored,
# a revocation reason written to the audit log.
DATA = {"thôn", "thu hồi từ bảng điều khiển"}

MessageId = str | tuple[str, str]


def extracted() -> dict[MessageId, list[str]]:
    """Every message id of the controller, as `pybabel extract` finds it (babel.cfg), with where."""
    with (ROOT / "babel.cfg").open() as cfg:
        method_map, options_map = parse_mapping_cfg(cfg)
    found: dict[MessageId, list[str]] = {}
    for filename, lineno, message, _comments, _context in extract_from_dir(
        CONTROLLER, method_map, options_map, keywords=DEFAULT_KEYWORDS
    ):
        key: MessageId = message if isinstance(message, str) else (message[0], message[1])
        found.setdefault(key, []).append(f"{filename}:{lineno}")
    return found


def catalogue() -> Catalog:
    with PO.open("rb") as po:
        return read_po(po, locale="vi")


def translated(message: Message) -> list[str]:
    return list(message.string) if isinstance(message.string, tuple | list) else [message.string]


def test_every_message_of_the_panel_has_a_vietnamese_translation() -> None:
    vi = catalogue()
    problems = []
    for key, where in sorted(extracted().items(), key=str):
        message = vi.get(key[0] if isinstance(key, tuple) else key)
        if message is None:
            problems.append(f"no translation: {key!r} ({where[0]})")
        elif message.fuzzy:
            problems.append(f"fuzzy: {key!r} ({where[0]})")
        elif not all(s.strip() for s in translated(message)):
            problems.append(f"empty: {key!r} ({where[0]})")
        elif isinstance(key, tuple) and message.id != key:
            problems.append(f"plural forms differ: {key!r} ({where[0]})")
    assert problems == []


def test_the_catalogue_holds_no_obsolete_or_stale_entries() -> None:
    vi = catalogue()
    in_code = {key if isinstance(key, str) else key[0] for key in extracted()}
    stale = sorted(
        str(m.id) for m in vi if m.id and (m.id if isinstance(m.id, str) else m.id[0]) not in in_code
    )
    assert list(vi.obsolete) == [] and stale == []


def test_translations_keep_the_placeholders_of_their_ids() -> None:
    vi = catalogue()
    problems = [f"{m.id!r}: {errors}" for m, errors in vi.check()]
    for message in vi:
        if not message.id:
            continue
        ids = [message.id] if isinstance(message.id, str) else list(message.id)
        wanted = {name for text in ids for name in PLACEHOLDER.findall(text)}
        for text in translated(message):
            if set(PLACEHOLDER.findall(text)) != wanted or text.count("%%") != ids[0].count("%%"):
                problems.append(f"{message.id!r} → {text!r}")
    assert problems == []


def _template_sources() -> Iterator[tuple[str, nodes.Template]]:
    env = Environment(extensions=["jinja2.ext.i18n"])
    env.policies["ext.i18n.trimmed"] = True
    for path in sorted((CONTROLLER / "templates").glob("*.html")):
        yield path.name, env.parse(path.read_text())


def test_templates_show_no_vietnamese_that_bypasses_the_catalogue() -> None:
    found = []
    for name, tree in _template_sources():
        through_gettext = {
            id(arg)
            for call in tree.find_all(nodes.Call)
            if isinstance(call.node, nodes.Name) and call.node.name in ("_", "gettext", "ngettext")
            for arg in call.args
        }
        for data in tree.find_all(nodes.TemplateData):
            text = re.sub(r'placeholder="[^"]*"', "", data.data)  # example data (names, abbreviations)
            found += [f"{name}: {line.strip()}" for line in text.splitlines() if VIETNAMESE.search(line)]
        for const in tree.find_all(nodes.Const):
            if (
                isinstance(const.value, str)
                and id(const) not in through_gettext
                and VIETNAMESE.search(const.value)
            ):
                found.append(f"{name}: {const.value!r}")
    assert found == []


@pytest.mark.parametrize("path", PANEL_MODULES, ids=lambda p: p.name)
def test_panel_code_shows_no_vietnamese_that_bypasses_the_catalogue(path: Path) -> None:
    assert vietnamese_literals(path, data=DATA) == []


def test_english_is_served_from_the_ids_and_vietnamese_from_the_catalogue() -> None:
    assert i18n.gettext("Bulletins") == "Bản tin"  # outside a request: Vietnamese
    with i18n.use_language("en"):
        assert i18n.gettext("Bulletins") == "Bulletins"
        assert i18n.ngettext("%(num)s day", "%(num)s days", 1) == "1 day"
        assert i18n.ngettext("%(num)s day", "%(num)s days", 3) == "3 days"
        assert i18n.decimal(3.25, "0.00") == "3.25"
    with i18n.use_language("vi"):
        assert i18n.ngettext("%(num)s day", "%(num)s days", 3) == "3 ngày"
        assert i18n.gettext("Hello, %(name)s", name="Lan") == "Xin chào, Lan"
        assert i18n.decimal(3.25, "0.00") == "3,25"
    with i18n.use_language("fr"):  # not offered: Vietnamese
        assert i18n.current_language() == "vi"


RULES = [
    Rule(kind="once", at=datetime(2026, 12, 1, 23, 30, tzinfo=UTC)),
    Rule(kind="daily", start_date=date(2026, 12, 1), times=(time(6), time(17, 30))),
    Rule(kind="daily", start_date=date(2026, 12, 1), times=(time(6),), interval=3, end_date=date(2027, 1, 1)),
    Rule(kind="weekly", start_date=date(2026, 12, 1), times=(time(6),), weekdays=(0, 2, 4)),
    Rule(
        kind="weekly",
        start_date=date(2026, 12, 1),
        times=(time(6),),
        weekdays=(6,),
        interval=2,
        exceptions=(date(2026, 12, 13), date(2026, 12, 27)),
    ),
    Rule(kind="monthly", start_date=date(2026, 12, 1), times=(time(7),), month_day=15),
    Rule(kind="monthly", start_date=date(2026, 12, 1), times=(time(7),), month_day=-1, interval=2),
    Rule(
        kind="monthly",
        start_date=date(2026, 12, 1),
        times=(time(6, 30),),
        nth_weekday=NthWeekday(weekday=1, n=-1),
        exceptions=(date(2026, 12, 29),),
        end_date=date(2027, 6, 30),
    ),
    Rule(
        kind="monthly", start_date=date(2026, 12, 1), times=(time(8),), nth_weekday=NthWeekday(weekday=5, n=2)
    ),
    Rule(
        kind="monthly",
        start_date=date(2026, 12, 1),
        times=(time(8),),
        nth_weekday=NthWeekday(weekday=3, n=1),
        interval=3,
    ),
]


@pytest.mark.parametrize("rule", RULES, ids=lambda r: f"{r.kind}-{r.interval}")
def test_schedule_rules_read_as_before_in_vietnamese(rule: Rule) -> None:
    with i18n.use_language("vi"):
        assert describe_rule(rule) == describe_vi(rule)


def test_schedule_rules_read_in_english() -> None:
    with i18n.use_language("en"):
        assert describe_rule(RULES[0]) == "Once, 06:30 02/12/2026"  # Vietnam time
        assert describe_rule(RULES[4]) == ("Every 2 weeks (Sunday), at 06:00, from 01/12/2026, except 2 days")
        assert describe_rule(RULES[7]) == (
            "The last Tuesday of every month, at 06:30, from 01/12/2026 to 30/06/2027, except 1 day"
        )
        assert describe_rule(RULES[8]) == "The 2nd Saturday of every month, at 08:00, from 01/12/2026"
