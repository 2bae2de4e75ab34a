"""Accessibility of every panel page, taken from the route table like the authorisation matrix, so a
new page is checked without anyone listing it: the language, a viewport for phones, a heading, a
label for every control, a name for every button and link, unique ids, text alternatives; and the
contrast of the stylesheets' colour pairs (WCAG AA, 4.5:1 for text)."""

from __future__ import annotations

import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

import pytest

from controller.app import HERE
from tests.controller.authz_support import ROLES, Call, Case, Matrix, build, path_of
from tests.controller.conftest import make_world
from tests.controller.test_authz_matrix import CONSTANTS, EXPECT

UNLABELLED_TYPES = {"hidden", "submit", "button", "reset", "image"}
CONTROLS = {"input", "select", "textarea"}
VOID = {"area", "base", "br", "col", "embed", "hr", "img", "input", "link", "meta", "source", "track", "wbr"}
AA = 4.5


@dataclass
class Element:
    tag: str
    attrs: dict[str, str]
    text: str = ""
    labelled: bool = False  # inside a <label>
    children: list[Element] = field(default_factory=list)


class Page(HTMLParser):
    """The facts of one HTML page the checks need (the standard library's parser: no dependency)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.stack: list[Element] = []
        self.elements: list[Element] = []
        self.label_for: set[str] = set()

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        element = Element(tag, {k: v or "" for k, v in attrs})
        element.labelled = any(e.tag == "label" for e in self.stack)
        if self.stack:
            self.stack[-1].children.append(element)
        self.elements.append(element)
        if tag == "label" and element.attrs.get("for"):
            self.label_for.add(element.attrs["for"])
        if tag not in VOID:
            self.stack.append(element)

    def handle_endtag(self, tag: str) -> None:
        for i in range(len(self.stack) - 1, -1, -1):
            if self.stack[i].tag == tag:
                del self.stack[i:]
                return

    def handle_data(self, data: str) -> None:
        for element in self.stack:
            element.text += data

    def of(self, *tags: str) -> list[Element]:
        return [e for e in self.elements if e.tag in tags]


def _named(element: Element) -> bool:
    """Has an accessible name: its text, aria-label/labelledby, a title, or an image's alt inside."""
    if element.text.strip() or element.attrs.get("aria-label") or element.attrs.get("aria-labelledby"):
        return True
    if element.attrs.get("title") or element.attrs.get("value"):
        return True
    return any(c.tag == "img" and c.attrs.get("alt") for c in element.children)


def problems(html: str) -> list[str]:
    page = Page()
    page.feed(html)
    found = []
    full = bool(page.of("html"))
    if full:
        if page.of("html")[0].attrs.get("lang") not in ("vi", "en"):
            found.append("<html> without lang")
        if not any(m.attrs.get("name") == "viewport" for m in page.of("meta")):
            found.append("no viewport meta (phones)")
        if not page.of("h1"):
            found.append("no <h1>")
        if not page.of("title") or not page.of("title")[0].text.strip():
            found.append("no <title>")
    for control in page.of(*CONTROLS):
        kind = control.attrs.get("type", "text")
        if control.tag == "input" and kind in UNLABELLED_TYPES:
            continue
        if not (
            control.labelled
            or control.attrs.get("id") in page.label_for
            or control.attrs.get("aria-label")
            or control.attrs.get("aria-labelledby")
            or control.attrs.get("title")
        ):
            found.append(f"<{control.tag} name={control.attrs.get('name')!r}> has no label")
    for button in page.of("button"):
        if not _named(button):
            found.append(f"<button> without a name: {button.attrs}")
    for link in page.of("a"):
        if "href" in link.attrs and not _named(link):
            found.append(f"<a href={link.attrs['href']!r}> without a name")
    for image in page.of("img"):
        if "alt" not in image.attrs:
            found.append(f"<img src={image.attrs.get('src')!r}> without alt")
    ids = [e.attrs["id"] for e in page.elements if e.attrs.get("id")]
    found += [f"id {i!r} used {ids.count(i)} times" for i in sorted(set(ids)) if ids.count(i) > 1]
    return found


def _role(roles: frozenset[str]) -> str:
    """The role to look with: the admin where allowed (sees the most), else the first allowed."""
    return "admin" if "admin" in roles else next(r for r in ROLES if r in roles)


def html_pages(matrix: Matrix) -> Iterator[tuple[str, str]]:
    for route, expect in sorted(EXPECT.items()):
        method, template = route.split()
        if method != "GET" or template.startswith(("/api/", "/media/", "/docs")):
            continue
        role = _role(expect.roles)
        case = Case(route, role, "own", allowed=True)
        response = matrix.send(
            "GET", path_of(matrix, case, expect), role=role, body=expect.body(Call(matrix, role, "own"))
        )
        if response.status_code == 200 and response.headers.get("content-type", "").startswith("text/html"):
            yield route, response.text


@pytest.fixture(scope="module")
def matrix(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Matrix]:
    for world in make_world(Path(tmp_path_factory.mktemp("a11y"))):
        built = build(world)
        built.objects.update(CONSTANTS)
        yield built


def test_every_panel_page_passes_the_checks(matrix: Matrix) -> None:
    pages = dict(html_pages(matrix))
    assert len(pages) >= 30  # the route table's pages, not a handful
    report = [f"{route}: {problem}" for route, html in pages.items() for problem in problems(html)]
    assert report == [], "\n".join(report)


@pytest.mark.parametrize(
    ("html", "problem"),
    [
        ('<input name="q">', "<input name='q'> has no label"),
        ('<select name="zone"></select>', "<select name='zone'> has no label"),
        ("<button></button>", "<button> without a name: {}"),
        ('<a href="/x"></a>', "<a href='/x'> without a name"),
        ('<img src="m.png">', "<img src='m.png'> without alt"),
        ('<p id="a"></p><p id="a"></p>', "id 'a' used 2 times"),
        ("<html><head><title>t</title></head><body><h1>x</h1></body></html>", "<html> without lang"),
    ],
)
def test_the_checks_catch_each_fault(html: str, problem: str) -> None:
    assert problem in problems(html)


def test_labelled_controls_pass() -> None:
    html = (
        '<label for="q">Tìm</label><input id="q" name="q">'
        '<label>Xã <select name="c"></select></label><input type="hidden" name="csrf_token">'
        '<button aria-label="Đóng">×</button><a href="/"><img src="l.png" alt="Loa"></a>'
    )
    assert problems(html) == []


# -- contrast ------------------------------------------------------------------------------------


def _luminance(colour: str) -> float:
    value = colour.lstrip("#")
    if len(value) == 3:
        value = "".join(c * 2 for c in value)
    channels = [int(value[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    linear = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(a: str, b: str) -> float:
    light, dark = sorted((_luminance(a), _luminance(b)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def colour_pairs(css: str, variables: dict[str, str]) -> Iterator[tuple[str, str, str]]:
    """(selector, text colour, background) of every rule that sets both, variables resolved."""
    for selector, body in re.findall(r"([^{}]+)\{([^{}]*)\}", css):
        declarations = dict(
            (name.strip(), value.strip())
            for name, value in (d.split(":", 1) for d in body.split(";") if ":" in d)
        )
        text = declarations.get("color")
        background = declarations.get("background-color") or declarations.get("background")
        if not text or not background:
            continue
        text, background = (
            variables.get(v[6:-1], v) if v.startswith("var(--") else v for v in (text, background)
        )
        if re.fullmatch(r"#[0-9a-fA-F]{3,6}", text) and re.fullmatch(r"#[0-9a-fA-F]{3,6}", background):
            yield selector.strip(), text, background


def test_text_colours_meet_wcag_aa_contrast() -> None:
    css = "\n".join(p.read_text() for p in sorted((HERE / "static").glob("*.css")))
    variables = dict(re.findall(r"--([\w-]+)\s*:\s*(#[0-9a-fA-F]{3,6})", css))
    pairs = list(colour_pairs(css, variables))
    assert len(pairs) >= 5
    pairs += [(f"text on --{b}", variables[t], variables[b]) for t in ("fg", "muted") for b in ("bg", "card")]
    pairs += [(f"--{t} on white", variables[t], "#fff") for t in ("accent", "ok", "warn")]
    weak = [f"{s}: {t} on {b} is {contrast(t, b):.2f}:1" for s, t, b in pairs if contrast(t, b) < AA]
    assert weak == [], "\n".join(weak)


def test_contrast_is_computed_as_wcag_says() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21.0)
    assert contrast("#777", "#fff") == pytest.approx(4.48, abs=0.01)  # the classic near miss
