"""The page layout of Loa's PDF documents (fpdf2): A4 with the margins of an administrative document,
the DejaVu fonts (Debian ``fonts-dejavu-core``: every Vietnamese glyph) found on disk at run time,
a footer with the page number, headings, tables of a report_exports.Table and native bar charts
drawn from the same bars as the page's SVG charts (controller/charts.py)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fpdf import FPDF, FontFace
from fpdf.enums import XPos, YPos

from controller.charts import Bar, nice_max
from controller.errors import LoaError
from controller.i18n import N_, decimal, gettext
from controller.report_exports import Cell, Table

#: Where the DejaVu fonts are looked for (Debian, Fedora, Arch, Alpine), after LOA_REPORT_FONT_DIR.
FONT_DIRS = (
    Path("/usr/share/fonts/truetype/dejavu"),
    Path("/usr/share/fonts/dejavu-sans-fonts"),
    Path("/usr/share/fonts/TTF"),
    Path("/usr/share/fonts/dejavu"),
)
FONTS = {
    ("serif", ""): "DejaVuSerifCondensed.ttf",
    ("serif", "B"): "DejaVuSerifCondensed-Bold.ttf",
    ("serif", "I"): "DejaVuSerifCondensed-Italic.ttf",
    ("sans", ""): "DejaVuSansCondensed.ttf",
    ("sans", "B"): "DejaVuSansCondensed-Bold.ttf",
}
BAR_COLOUR = (31, 95, 153)
GRID_COLOUR = (200, 200, 200)


class FontsMissing(LoaError):
    """The DejaVu fonts are not installed: the report cannot show Vietnamese."""

    status_code = 503


def find_fonts(extra: Path | None = None) -> dict[tuple[str, str], Path]:
    """The report's font files, from ``extra`` or the system's font folders."""
    for folder in ([extra] if extra else []) + list(FONT_DIRS):
        found = {key: folder / name for key, name in FONTS.items()}
        if all(path.is_file() for path in found.values()):
            return found
    raise FontsMissing(N_("The DejaVu fonts are missing: install the package fonts-dejavu-core."))


def _cell_text(value: Cell) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return decimal(value)
    return str(value)


class Document(FPDF):
    """An A4 page in the report fonts, with a footer line and "page x/y" on every page."""

    def __init__(self, fonts: dict[tuple[str, str], Path], footer_text: str = "") -> None:
        super().__init__(orientation="P", unit="mm", format="A4")
        for (family, style), path in fonts.items():
            self.add_font(family, style, path)
        self.footer_text = footer_text
        self.set_margins(25, 15, 15)
        self.set_auto_page_break(True, margin=18)

    @property
    def width(self) -> float:
        """Width between the margins."""
        return self.w - self.l_margin - self.r_margin

    def footer(self) -> None:
        self.set_y(-12)
        self.set_font("sans", "", 8)
        self.set_text_color(90, 90, 90)
        self.cell(0, 5, self.footer_text, align="L")
        self.set_x(self.l_margin)
        self.cell(0, 5, gettext("Page %(page)s/%(pages)s", page=self.page_no(), pages="{nb}"), align="R")
        self.set_text_color(0, 0, 0)

    def subheading(self, text: str) -> None:
        """A heading; on a new page when too little of this one is left."""
        if self.get_y() > self.h - 50:
            self.add_page()
        self.set_font("serif", "B", 12)
        self.multi_cell(0, 7, text, align="L", new_x=XPos.LMARGIN)
        self.ln(1)

    def bar_chart(self, bars: Sequence[Bar], *, top: float | None = None, axis_text: str = "") -> None:
        """Vertical bars with a value axis of five lines; day numbers under the bars."""
        height, left_gap, bottom_gap = 48.0, 12.0, 6.0
        if self.get_y() + height + bottom_gap > self.h - self.b_margin:
            self.add_page()
        x0, y0 = self.l_margin + left_gap, self.get_y() + 3
        plot_w, plot_h = self.width - left_gap, height - 3
        peak = top if top is not None else nice_max(max((b.value for b in bars), default=0.0))
        self.set_font("sans", "", 7)
        self.set_draw_color(*GRID_COLOUR)
        self.set_line_width(0.1)
        for step in range(5):
            y = y0 + plot_h - plot_h * step / 4
            self.line(x0, y, x0 + plot_w, y)
            self.set_xy(self.l_margin, y - 2)
            self.cell(left_gap - 1, 4, decimal(peak * step / 4), align="R")
        if axis_text:
            self.set_xy(self.l_margin, y0 - 5)
            self.cell(left_gap, 4, axis_text)
        slot = plot_w / max(1, len(bars))
        self.set_fill_color(*BAR_COLOUR)
        for i, bar in enumerate(bars):
            bar_h = plot_h * min(max(bar.value, 0.0), peak) / peak
            if bar_h > 0:
                self.rect(x0 + i * slot + slot * 0.15, y0 + plot_h - bar_h, slot * 0.7, bar_h, style="F")
            self.set_xy(x0 + i * slot, y0 + plot_h + 0.5)
            self.cell(slot, 4, bar.label, align="C")
        self.set_draw_color(0, 0, 0)
        self.set_fill_color(255, 255, 255)  # tables after this fill with the current colour
        self.set_xy(self.l_margin, y0 + plot_h + bottom_gap)
        self.ln(2)

    def section(
        self,
        title: str,
        table: Table,
        widths: Sequence[float] | None = None,
        aligns: Sequence[str] | None = None,
    ) -> None:
        """A heading and the table (or a line saying there is nothing); numbers right-aligned unless
        ``aligns`` says otherwise."""
        self.subheading(title)
        if not table.rows:
            self.set_font("serif", "I", 10)
            self.cell(0, 6, gettext("Nothing in this period."), new_x=XPos.LMARGIN, new_y=YPos.NEXT)
            self.ln(2)
            return
        columns = len(table.headers)
        widths = widths or (2.4, *([1.0] * (columns - 1)))
        numeric = [
            all(isinstance(r[i], int | float) or r[i] is None for r in table.rows) for i in range(columns)
        ]
        self.set_font("sans", "", 8.5)
        with self.table(
            col_widths=tuple(widths),
            width=self.width,
            line_height=4.6,
            text_align=tuple(aligns or ("RIGHT" if n else "LEFT" for n in numeric)),
            align="LEFT",
            headings_style=FontFace(emphasis="BOLD", fill_color=(230, 236, 243)),
            padding=1,
        ) as grid:
            heading = grid.row()
            for text in table.headers:
                heading.cell(text, align="CENTER")
            for values in table.rows:
                row = grid.row()
                for value in values:
                    row.cell(_cell_text(value))
        self.ln(4)
