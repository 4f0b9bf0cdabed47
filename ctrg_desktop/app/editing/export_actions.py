"""Report > Export: the edited report (with the reader's measurements) as text, JSON, PDF (with key
images) or DICOM SR; the segmentation masks as DICOM SEG or NIfTI; the report text to the clipboard.

The content (:class:`~ctrg_desktop.export.ReportContent` of the edited document, the masks, the
key images = the slice views at the chosen structures' best patches inside the study) is taken on the GUI thread;
the files are written on a background thread, one export at a time, so the window stays live.
``finished(ExportOutcome)`` follows every export; a problem is shown as a message box with one
line and the window stays usable.
"""

from __future__ import annotations

import copy
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.jobs import JobRunner, user_line
from ctrg_desktop.errors import CtrgError


@dataclass(frozen=True)
class ExportKind:
    key: str
    title: str          #: what it writes, for menus and messages
    file_filter: str    #: "" for a folder
    suffix: str
    masks: bool = False  #: exports the segmentation masks (else the report)


KINDS = {k.key: k for k in (
    ExportKind("text", "report as text", "Text (*.txt)", ".txt"),
    ExportKind("json", "report as JSON", "JSON (*.json)", ".json"),
    ExportKind("pdf", "report as PDF", "PDF (*.pdf)", ".pdf"),
    ExportKind("dicom-sr", "report as DICOM SR", "DICOM (*.dcm)", ".dcm"),
    ExportKind("dicom-seg", "masks as DICOM SEG", "DICOM (*.dcm)", ".dcm", masks=True),
    ExportKind("nifti-labelmap", "masks as a NIfTI label map", "NIfTI (*.nii.gz)", ".nii.gz", masks=True),
    ExportKind("nifti-masks", "masks as NIfTI files (one per mask)", "", "", masks=True),
)}


@dataclass
class ExportOutcome:
    kind: str
    path: Path
    result: object = None        #: the ExportResult when it worked
    error: str = ""              #: one line when it failed
    seconds: float = 0.0         #: writing time (background thread)
    prepare_seconds: float = 0.0  #: content, masks and key images (GUI thread)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.error


class ExportActions(QtCore.QObject):
    """Exports for the editing controller's document (module docstring)."""

    finished = QtCore.Signal(object)

    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.window = controller.window
        self.jobs = JobRunner(self, name="ctrg-export", describe=user_line)  # one export at a time
        self.jobs.finished.connect(self._written)
        self.jobs.failed.connect(self._written)
        self.last: ExportOutcome | None = None

    # --- what is exported -----------------------------------------------------------------
    def content(self):
        """The edited report as ReportContent (the study, the model, the draft's time, the reader's
        measurements); CtrgError without one."""
        from ctrg_desktop.export import ReportContent

        document = self.controller.document
        if document is None:
            raise CtrgError("there is no report to export: draft a report or open one first")
        content = ReportContent.from_document(document, volume=self.window.volume, draft=self.controller.draft)
        measuring = getattr(self.window, "measuring", None)
        if measuring is not None and measuring.volume is self.window.volume:
            content.measurements = copy.deepcopy(measuring.measurements.items)  # the export thread's own
        return content

    def key_images(self) -> list[tuple[str, QtGui.QImage]]:
        """The slices through the chosen structures' best patches (:mod:`.key_images`)."""
        from ctrg_desktop.app.editing.key_images import key_images

        return key_images(self.window)

    # --- running --------------------------------------------------------------------------
    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def choose(self, kind: str) -> None:
        """Ask where to write, then export (the menu entries)."""
        spec = KINDS[kind]
        if self.controller.document is None and not (spec.masks and self.window.volume is not None):
            self.window.show_error("There is nothing to export: open a study and draft or open a report first")
            return
        folder = Path(self.window.settings["last_folder"] or ".")
        if not spec.file_filter:
            path = QtWidgets.QFileDialog.getExistingDirectory(self.window, f"Export {spec.title} into", str(folder))
        else:
            path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, f"Export {spec.title}",
                                                            str(folder / f"report{spec.suffix}"), spec.file_filter)
        if path:
            self.export(kind, path)

    def export(self, kind: str, path, masks=None) -> bool:
        """Start exporting ``kind`` to ``path`` (returns at once; ``finished`` follows). ``masks``:
        MaskSpec list for the mask exports (default: the segmentation tool's). False when it
        could not start (the problem is shown and ``finished`` still follows)."""
        if kind not in KINDS:
            raise ValueError(f"unknown export {kind!r}: use {', '.join(KINDS)}")
        spec, path = KINDS[kind], Path(path)
        start = time.perf_counter()
        try:
            if spec.masks:
                masks = list(self.controller.masks() if masks is None else masks)
                if not masks:
                    raise CtrgError("there are no masks to export: draw them with the segmentation tool first")
                masks = [_copied(m) for m in masks]
                job = (kind, self._study_for_masks(), masks)
            else:
                images = self.key_images() if kind == "pdf" else []
                job = (kind, self.content(), images)
        except CtrgError as exc:
            self._done(ExportOutcome(kind, path, error=user_line(exc)))
            return False
        prepared = time.perf_counter() - start
        self.window.status.message(f"Exporting the {spec.title} to {path.name}...")
        self.jobs.run(_write_job, *job, path, name=kind, context=ExportOutcome(kind, path, prepare_seconds=prepared))
        return True

    def _study_for_masks(self):
        """The study the masks lie on: the report content when there is a report, else the volume."""
        from ctrg_desktop.export import study_info

        if self.controller.document is not None:
            return self.content()
        if self.window.volume is None:
            raise CtrgError("open a study first")
        return study_info(self.window.volume)

    def _written(self, job, _result_or_line) -> None:
        """The export thread is done (GUI thread): its outcome is shown."""
        outcome: ExportOutcome = job.context
        outcome.seconds, outcome.error = job.seconds, job.error
        if not job.error:
            outcome.result = job.result
            outcome.warnings = list(job.result.warnings)
        self._done(outcome)

    def _done(self, outcome: ExportOutcome) -> None:
        self.last = outcome
        spec = KINDS[outcome.kind]
        if outcome.error:
            self.window.show_error(f"Cannot export the {spec.title}: {outcome.error}")
        else:
            self.window.status.message(f"Exported the {spec.title} to {outcome.result.path} in "
                                       f"{outcome.prepare_seconds + outcome.seconds:.2f} s")
            if outcome.warnings:
                from ctrg_desktop.app.editing.controller import message_box

                message_box(self.window, "Export", "\n".join(outcome.warnings))
        self.finished.emit(outcome)

    def wait(self, timeout: float | None = 30.0) -> None:
        """Block until running exports are written (the window is closing)."""
        self.jobs.wait(timeout)

    def copy_to_clipboard(self) -> str:
        """Put the report's text (with the not-for-clinical-use line) on the clipboard; returns it."""
        from ctrg_desktop.export import clipboard_text

        try:
            text = clipboard_text(self.content())
        except CtrgError as exc:
            self.window.show_error(f"Cannot copy the report: {exc}")
            return ""
        QtWidgets.QApplication.clipboard().setText(text)
        self.window.status.message("Report copied to the clipboard")
        return text


def _copied(mask):
    """A MaskSpec whose array the segmentation tool cannot change while it is written."""
    from ctrg_desktop.export import MaskSpec

    return MaskSpec(mask.name, np.array(mask.array, copy=True), mask.colour, mask.structure, mask.algorithm)


def _write_job(job, kind: str, source, extra, path: Path):
    """The runner's job: :func:`write`."""
    return write(kind, source, extra, path)


def write(kind: str, source, extra, path: Path):
    """Write one export (any thread): ``source`` is the ReportContent (or, for masks without a
    report, the study dict); ``extra`` the key images or the masks."""
    import ctrg_desktop.export as ex

    if kind == "text":
        return ex.write_text(source, path)
    if kind == "json":
        return ex.write_json(source, path)
    if kind == "pdf":
        from ctrg_desktop.app.export_pdf import export_pdf

        return export_pdf(source, path, images=extra)
    if kind == "dicom-sr":
        return ex.write_dicom_sr(source, path)
    if kind == "dicom-seg":
        return ex.write_dicom_seg(extra, source, path)
    if kind == "nifti-labelmap":
        return ex.write_nifti_labelmap(extra, source, path)
    if kind == "nifti-masks":
        return ex.write_nifti_masks(extra, source, path)
    raise ValueError(f"unknown export {kind!r}")

