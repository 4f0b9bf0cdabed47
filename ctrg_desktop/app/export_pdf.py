"""The report as a PDF, written with Qt's own PDF writer: the text plus key images with captions.

The page holds the title, the not-for-clinical-use line, the study and the times, one section
per structure (its colour, its name, its sentences), the reader's measurements as a table; then,
from a new page, the key images the GUI passes (e.g. screenshots of views with overlays), two per
page, each scaled to the text width (at most 40 % of the page height) with its caption below.
Laid out by a :class:`QTextDocument`, printed to a :class:`QPdfWriter` in memory and written
atomically. Needs a QGuiApplication.
"""

from __future__ import annotations

import html
import os
from pathlib import Path
from typing import Sequence

from PySide6 import QtCore, QtGui

from ctrg_desktop.export.content import ReportContent
from ctrg_desktop.export.errors import ExportError, write_export
from ctrg_desktop.export.result import ExportResult
from ctrg_desktop.export.text import NOTHING_REPORTED, study_line, times_line

TITLE = "CT report (draft)"
PAGE_SIZES = {"A4": QtGui.QPageSize.PageSizeId.A4, "Letter": QtGui.QPageSize.PageSizeId.Letter}
MARGIN_MM = 18.0
_DOC_DPI = 96.0          # QTextDocument lays out paginated documents in 96-dpi pixels
_IMAGE_HEIGHT = 0.4      # of the page's text height, at most, per key image
IMAGES_PER_PAGE = 2

ImageSource = QtGui.QImage | str | os.PathLike


def export_pdf(content: ReportContent, path: str | os.PathLike,
               images: Sequence[tuple[str, ImageSource]] = (), *, page_size: str = "A4",
               title: str = TITLE) -> ExportResult:
    """Write ``content`` and the key ``images`` (``(caption, QImage or image file path)``) as a PDF.

    ``page_size``: "A4" or "Letter". ExportError for an unreadable image or an unknown page size.
    """
    if page_size not in PAGE_SIZES:
        raise ExportError(f"unknown page size {page_size!r}; use {' or '.join(PAGE_SIZES)}")
    loaded = [(str(caption), _image(source)) for caption, source in images]
    return ExportResult(write_export(path, pdf_bytes(content, loaded, page_size, title)))


def pdf_bytes(content: ReportContent, images: Sequence[tuple[str, QtGui.QImage]] = (),
              page_size: str = "A4", title: str = TITLE) -> bytes:
    """The PDF file's bytes (see :func:`export_pdf`; images already loaded)."""
    data = QtCore.QByteArray()
    buffer = QtCore.QBuffer(data)
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    writer = QtGui.QPdfWriter(buffer)
    writer.setPageSize(QtGui.QPageSize(PAGE_SIZES[page_size]))
    writer.setPageMargins(QtCore.QMarginsF(MARGIN_MM, MARGIN_MM, MARGIN_MM, MARGIN_MM),
                          QtGui.QPageLayout.Unit.Millimeter)
    writer.setResolution(300)
    writer.setTitle(title)
    writer.setCreator("ctrg-desktop")
    points = writer.pageLayout().paintRect(QtGui.QPageLayout.Unit.Point)
    page = QtCore.QSizeF(points.width() * _DOC_DPI / 72.0, points.height() * _DOC_DPI / 72.0)

    document = QtGui.QTextDocument()
    document.setDocumentMargin(0)
    document.setPageSize(page)
    font = QtGui.QFont()
    font.setPointSizeF(10.0)
    document.setDefaultFont(font)
    placed = []
    for n, (caption, image) in enumerate(images):
        name = f"ctrg-key-image-{n}"
        document.addResource(QtGui.QTextDocument.ResourceType.ImageResource, QtCore.QUrl(name), image)
        scale = min(page.width() / image.width(), _IMAGE_HEIGHT * page.height() / image.height())
        placed.append((caption, name, image.width() * scale, image.height() * scale))
    document.setHtml(report_html(content, placed, title))
    document.print_(writer)
    del writer  # finishes the PDF in the buffer
    buffer.close()
    return bytes(data.data())


def report_html(content: ReportContent, images: Sequence[tuple[str, str, float, float]] = (),
                title: str = TITLE) -> str:
    """The page as Qt rich text; ``images``: ``(caption, resource name, width, height)``."""
    e = html.escape
    parts = [f"<h2>{e(title)}</h2>",
             f"<p style='color:#b00020'><b>{e(content.disclaimer)}</b></p>"]
    details = []
    study = study_line(content.study)
    if study:
        details.append(f"Study: {e(study)}")
    details.append(e(times_line(content)))
    parts.append(f"<p style='color:#555555'>{'<br/>'.join(details)}</p>")
    parts.append("<h3>Findings</h3>")
    for s in content.structures:
        name = f"{s.name[:1].upper()}{s.name[1:]}"
        body = e(s.text) if s.text else f"<i>{e(NOTHING_REPORTED)}</i>"
        parts.append(f"<p><span style='color:{e(s.colour)}'>&#9632;</span> <b>{e(name)}</b><br/>{body}</p>")
    if content.measurements:
        parts.append(measurements_html(content.measurements))
    if images:
        parts.append("<h3 style='page-break-before: always'>Key images</h3>")
        for n, (caption, name, width, height) in enumerate(images):
            new_page = " style='page-break-before: always'" if n and n % IMAGES_PER_PAGE == 0 else ""
            parts.append(f"<p align='center'{new_page}><img src='{e(name)}' width='{width:.0f}' "
                         f"height='{height:.0f}'/><br/><i>{e(caption)}</i></p>")
    return "\n".join(parts)


def measurements_html(measurements) -> str:
    """The Measurements section: one table row per measurement (label, kind, view and slice, value)."""
    from ctrg_desktop.measurements import KINDS

    e = html.escape
    cell = "style='padding: 2px 8px 2px 0'"
    rows = "".join(f"<tr><td {cell}><b>{e(m.label)}</b></td><td {cell}>{e(KINDS[m.kind])}</td>"
                   f"<td {cell}>{e(m.where())}</td><td {cell}>{e(m.summary())}</td></tr>" for m in measurements)
    head = "".join(f"<th align='left' {cell}>{t}</th>" for t in ("Label", "Kind", "Slice", "Value"))
    return f"<h3>Measurements</h3><table cellspacing='0'><tr>{head}</tr>{rows}</table>"


def _image(source: ImageSource) -> QtGui.QImage:
    if isinstance(source, QtGui.QImage):
        image = source
        where = "an image"
    else:
        where = str(Path(source))
        image = QtGui.QImage(where)
    if image.isNull() or image.width() < 1 or image.height() < 1:
        raise ExportError(f"cannot use {where} as a key image (missing, empty or not an image file)")
    return image
