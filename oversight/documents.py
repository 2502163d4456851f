"""The PDF of one case summary (reportlab), with a font that holds Chinese.

A CJK font file is embedded when one is found (WenQuanYi Micro Hei from Debian's fonts-wqy-microhei,
or the path in settings.OVERSIGHT_PDF_FONT); without one, reportlab's built-in STSong-Light CID font is named
instead, which every PDF reader maps to its own Chinese font.
"""

from __future__ import annotations

import io
import os
from functools import cache
from xml.sax.saxutils import escape

from django.conf import settings
from django.utils import timezone
from django.utils.translation import gettext as _
from reportlab.lib.pagesizes import A4
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import mm
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.cidfonts import UnicodeCIDFont
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.platypus import Paragraph, SimpleDocTemplate, Spacer, Table, TableStyle

from cases.models import CaseSummary

FONT_CANDIDATES = (
    "/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",
    "/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
    "/usr/share/fonts/truetype/droid/DroidSansFallbackFull.ttf",
)


@cache
def pdf_font() -> str:
    """Register and name the font the summary is set in."""
    for path in (settings.OVERSIGHT_PDF_FONT, *FONT_CANDIDATES):
        if path and os.path.exists(path):
            pdfmetrics.registerFont(TTFont("PortalCJK", path, subfontIndex=0))
            return "PortalCJK"
    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    return "STSong-Light"


def _text(value: str) -> str:
    return escape(value).replace("\n", "<br/>")


def summary_pdf(*, summary: CaseSummary) -> bytes:
    """The summary under the reference case's headings: number, problem, analysis, resolution."""
    font = pdf_font()
    # wordWrap="CJK" breaks lines between Chinese characters, which have no spaces.
    body = ParagraphStyle("body", fontName=font, fontSize=10.5, leading=15, wordWrap="CJK")
    heading = ParagraphStyle("heading", parent=body, fontSize=12.5, leading=18, spaceBefore=8, spaceAfter=3)
    title = ParagraphStyle("title", parent=body, fontSize=16, leading=22, spaceAfter=6)
    case = summary.case
    buffer = io.BytesIO()
    document = SimpleDocTemplate(
        buffer,
        pagesize=A4,
        leftMargin=20 * mm,
        rightMargin=20 * mm,
        topMargin=18 * mm,
        bottomMargin=18 * mm,
        title=f"{case.number} {case.title}",
        author=str(summary.author or ""),
    )
    facts = [
        [_("Case number"), case.number],
        [_("Title"), case.title],
        [_("Organisation"), case.organisation.name],
        [_("Owner"), str(case.owner or "—")],
        [_("Resolution type"), summary.get_resolution_type_display()],
        [
            _("Summary version"),
            f"v{summary.version} · {timezone.localtime(summary.created_at):%Y-%m-%d %H:%M}",
        ],
    ]
    table = Table(
        [[Paragraph(_text(str(k)), body), Paragraph(_text(str(v)), body)] for k, v in facts],
        colWidths=[40 * mm, None],
    )
    table.setStyle(
        TableStyle([("VALIGN", (0, 0), (-1, -1), "TOP"), ("LINEBELOW", (0, 0), (-1, -1), 0.25, "#cccccc")])
    )
    story = [Paragraph(_text(_("Case summary")), title), table, Spacer(1, 6 * mm)]
    for label, text in (
        (_("Problem description"), summary.problem_description),
        (_("Analysis"), summary.analysis),
        (_("Resolution"), summary.resolution),
    ):
        story += [Paragraph(_text(label), heading), Paragraph(_text(text), body)]
    document.build(story)
    return buffer.getvalue()
