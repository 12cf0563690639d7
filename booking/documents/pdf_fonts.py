"""The typeface of every PDF (ticket, receipt, manifest): Noto Sans, with Noto Sans Devanagari
and Noto Sans Tamil for passenger names in those scripts and DejaVu Sans for symbols Noto Sans
lacks (the route's arrow), shaped by HarfBuzz so conjuncts and vowel signs join as they should.

.ci/setup copies the npm registry's Noto Sans, Noto Sans Devanagari and DejaVu Sans TTFs into
``static/vendor/fonts``; Noto Sans Tamil comes with its PyPI package."""

from __future__ import annotations

from pathlib import Path

import fontpkg_noto_sans_tamil
from flask import current_app
from fpdf import FPDF

FAMILY = "NotoSans"
# family: (regular file, bold file) under static/vendor/fonts
VENDORED = {
    FAMILY: ("NotoSans-Regular.ttf", "NotoSans-Bold.ttf"),
    "NotoSansDevanagari": ("NotoSansDevanagari-Regular.ttf", "NotoSansDevanagari-Bold.ttf"),
    "DejaVuSans": ("DejaVuSans.ttf", "DejaVuSans-Bold.ttf"),
}
TAMIL = "NotoSansTamil"
TAMIL_FILE = Path(fontpkg_noto_sans_tamil.ROOT, "files", "NotoSansTamil[wdth,wght].ttf")


class FontsMissing(RuntimeError):
    """The bundled fonts are not where .ci/setup puts them."""


def font_dir() -> Path:
    """Where .ci/setup copies the fonts."""
    return Path(current_app.static_folder, "vendor", "fonts")


def use_unicode_fonts(pdf: FPDF) -> None:
    """Register the fonts on ``pdf`` with their fallbacks and turn text shaping on; draw text
    with ``pdf.set_font(FAMILY, ...)``.

    :raise FontsMissing: when a font file is missing (run ``bash .ci/setup``).
    """
    folder = font_dir()
    for family, (regular, bold) in VENDORED.items():
        for style, name in (("", regular), ("B", bold)):
            path = folder / name
            if not path.is_file():
                raise FontsMissing(f"{path} is missing: run `bash .ci/setup`.")
            pdf.add_font(family, style, str(path))
    for style, weight in (("", 400), ("B", 700)):
        pdf.add_font(TAMIL, style, str(TAMIL_FILE), variations={"wght": weight})
    pdf.set_fallback_fonts(["NotoSansDevanagari", TAMIL, "DejaVuSans"], exact_match=False)
    pdf.set_text_shaping(True)
