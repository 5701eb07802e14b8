"""Test helper: a Chinese PDF drawn with reportlab, laid out like a magazine page dump."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path


def draw_pages(path: Path, pages: Sequence[Sequence[str]], header: str, title: str) -> Path:
    """Pages with `header` on top, `title` on page 1, the body lines, the page number below."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas

    pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(str(path))
    for number, page in enumerate(pages, 1):
        c.setFont("STSong-Light", 9)
        c.drawString(60, 810, header)
        if number == 1:
            c.setFont("STSong-Light", 16)
            c.drawString(60, 770, title)
        c.setFont("STSong-Light", 11)
        for j, line in enumerate(page):
            c.drawString(60, 730 - 22 * j, line)
        c.setFont("STSong-Light", 9)
        c.drawString(300, 30, str(number))
        c.showPage()
    c.save()
    return path
