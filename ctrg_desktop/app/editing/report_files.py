"""Saving the reader's work to files: Report > Save report (the edited report as the reader sees it,
the model's draft kept inside for the diff, the masks and measurements beside:
:mod:`ctrg_desktop.reports.report_file`) and Segment > Save masks / Open masks (``.masks.npz``).
A save marks the report, the masks and the measurements clean, so their autosaves go and closing
no longer asks. A saved report opened again (File > Open draft, ``--open-draft``) brings back the
edited report, its masks and its measurements.
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ctrg_desktop.errors import CtrgError
from ctrg_desktop.measurements.files import SUFFIX as MEASUREMENTS_SUFFIX
from ctrg_desktop.measurements.files import pack_measurements
from ctrg_desktop.reports.mask_file import SUFFIX as MASKS_SUFFIX
from ctrg_desktop.reports.mask_file import pack_masks, read_masks, write_masks
from ctrg_desktop.reports.unsaved import unsaved_answer

REPORT_FILTER = "Reports (*.json);;All files (*)"
MASKS_FILTER = f"Masks (*{MASKS_SUFFIX});;All files (*)"


def default_folder() -> Path:
    """Where a scripted save without a file name writes: ``<user data>/reports``."""
    from ctrg_desktop.resources import user_data_dir

    return user_data_dir() / "reports"


class ReportFiles(QtCore.QObject):
    """Signals: ``saved(SavedFiles or Path)`` after a report (or masks) save."""

    saved = QtCore.Signal(object)

    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.window = controller.window
        self.masks_file: Path | None = None  #: the masks file saved or opened last
        self._pending_masks: Path | None = None  # masks beside an opened report, for the study opening
        self._pending_measurements: Path | None = None  # the same for measurements

    @property
    def segmentation(self):
        return getattr(self.window, "segmentation", None)

    def _masks(self):
        seg = self.segmentation
        return seg.masks if seg is not None else None

    @property
    def measuring(self):
        return getattr(self.window, "measuring", None)

    def _ask_path(self, title: str, start: Path, file_filter: str) -> Path | None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self.window, title, str(start), file_filter)
        return Path(path) if path else None

    # --- the report -----------------------------------------------------------------------
    def choose(self) -> Path | None:
        """Report > Save report...: ask for a file name, then save."""
        drafting = self.controller.drafting
        if drafting.draft is None:
            self.window.show_error("No report to save: draft a report or open one first")
            return None
        start = drafting.draft_path or Path(self.window.settings["last_folder"] or ".") / "report.json"
        path = self._ask_path("Save report", start, REPORT_FILTER)
        if path is None:
            return None
        return path if self.save(path) is not None else None

    def save(self, path):
        """Write the edited report to ``path`` (masks beside); the SavedFiles, or None (shown)."""
        from ctrg_desktop.reports.document import ReportDocument
        from ctrg_desktop.reports.report_file import write_report

        controller, window = self.controller, self.window
        draft = controller.draft if controller.document is not None else controller.drafting.draft
        if draft is None:
            window.show_error("Cannot save the report: the model's draft of it is not available "
                              "(Report > Export writes the text)")
            return None
        document = controller.document or ReportDocument.from_draft(draft, study_key=controller.study_key)
        masks = self._masks()
        state = masks.state if masks is not None else None
        measured = self.measuring.measurements if self.measuring is not None else None
        measured_state = measured.state if measured is not None else None
        previous = document.history.clean
        document.mark_clean()  # the saved history opens unmodified
        try:
            packed = pack_masks(masks, masks.shape) if masks is not None else None
            saved = write_report(path, draft, document, packed,
                                 pack_measurements(measured) if measured is not None else None)
        except (CtrgError, OSError) as exc:
            document.history.clean = previous
            window.show_error(f"Cannot save the report: {exc}")
            return None
        if masks is not None:
            masks.mark_clean(state)
            self.masks_file = saved.masks
        if measured is not None:
            measured.mark_clean(measured_state)
        controller.drafting.draft_path = Path(path)
        self._saved_now()
        sentences = sum(len(s.sentences) for s in document.structures)
        extra = f" and {len(saved.mask_names)} mask(s) beside it" if saved.mask_names else ""
        if saved.measurements is not None:
            extra += f"{' and' if not extra else ','} {len(measured)} measurement(s) beside it"
        window.status.message(f"Saved the report ({sentences} sentences){extra} to {path}")
        self.saved.emit(saved)
        return saved

    def _saved_now(self) -> None:
        """After a save: the clean state's autosaves go, the state label follows."""
        controller = self.controller
        controller.autosave.flush()
        controller.autosave.masks.flush()
        controller.autosave.measurements.flush()
        controller._update_state()

    # --- masks on their own ----------------------------------------------------------------
    def save_masks(self, path) -> Path | None:
        """Write the study's masks to ``path`` (``.masks.npz``); the path, or None (shown)."""
        masks = self._masks()
        if masks is None or not any(m.array.any() for m in masks):
            self.window.show_error("No mask to save: segment or paint one first")
            return None
        state = masks.state
        try:
            written = write_masks(path, pack_masks(masks, masks.shape))
        except (CtrgError, OSError) as exc:
            self.window.show_error(f"Cannot save the masks: {exc}")
            return None
        masks.mark_clean(state)
        self.masks_file = written
        self._saved_now()
        self.window.status.message(f"Saved {len(masks)} mask(s) to {written}")
        self.saved.emit(written)
        return written

    def choose_masks(self) -> Path | None:
        """Segment > Save masks...: ask for a file name, then save."""
        start = self.masks_file or Path(self.window.settings["last_folder"] or ".") / f"masks{MASKS_SUFFIX}"
        path = self._ask_path("Save masks", start, MASKS_FILTER)
        return self.save_masks(path) if path else None

    def choose_masks_to_open(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Open masks", self.window.settings["last_folder"],
                                                        MASKS_FILTER)
        if path:
            self.open_masks(Path(path))

    def open_masks(self, path) -> bool:
        """Replace the study's masks with those of ``path`` (asks first when masks are unsaved)."""
        seg = self.segmentation
        if seg is None or seg.masks is None or self.window.volume is None:
            self.window.show_error("Open a study before opening masks")
            return False
        try:
            saved = read_masks(path, seg.masks.shape)
        except (CtrgError, OSError) as exc:
            self.window.show_error(f"Cannot open the masks {Path(path).name}: {exc}")
            return False

        def load() -> None:
            seg.load_masks(saved, clean=True)
            self.masks_file = Path(path)
            seg.show_dock()
            self.window.status.message(f"Opened {len(saved)} mask(s) from {Path(path).name}")

        return self.controller.prompt.confirm("Opening other masks replaces them", load, report=False)

    # --- the prompt's Save ------------------------------------------------------------------
    def save_work(self, work) -> bool:
        """Save what ``work`` names: the report (with the masks and measurements) to its file, or
        the masks and the measurements alone. A file name is asked when none is known (a scripted
        answer uses ``default_folder()``)."""
        scripted = unsaved_answer() != "ask"
        key = self.controller.study_key or "study"
        drafting = self.controller.drafting
        if work.report or drafting.draft is not None:
            path = drafting.draft_path
            if path is None:
                path = default_folder() / f"{key}.json" if scripted else \
                    self._ask_path("Save report", Path(self.window.settings["last_folder"] or ".") / "report.json",
                                   REPORT_FILTER)
            return path is not None and self.save(path) is not None
        if work.masks and not self._save_masks_of_work(scripted, key):
            return False
        if work.measurements:
            files = self.measuring.files
            if scripted:
                return files.save(files.path or default_folder() / f"{key}{MEASUREMENTS_SUFFIX}") is not None
            return files.choose() is not None
        return True

    def _save_masks_of_work(self, scripted: bool, key: str) -> bool:
        path = self.masks_file
        if path is None:
            path = default_folder() / f"{key}{MASKS_SUFFIX}" if scripted else \
                self._ask_path("Save masks", Path(self.window.settings["last_folder"] or ".") / f"masks{MASKS_SUFFIX}",
                               MASKS_FILTER)
        return path is not None and self.save_masks(path) is not None

    # --- opening a saved report -------------------------------------------------------------
    def opened(self, opened) -> None:
        """A report file is shown: load the masks and measurements saved beside it (now, or once
        its study's masks and measurements exist when the study is still opening)."""
        self._pending_masks = self._pending_measurements = None
        measuring = self.measuring
        if opened is not None and opened.measurements is not None and measuring is not None:
            if measuring.volume is not self.window.volume or measuring.volume is None:
                self._pending_measurements = opened.measurements
            else:
                measuring.files.load_beside(opened.measurements)
        if opened is None or opened.masks is None:
            return
        seg = self.segmentation
        if seg is None or seg.volume is not self.window.volume or seg.masks is None:
            self._pending_masks = opened.masks
            return
        self._load_beside(opened.masks)

    def study_opened(self) -> None:
        """The study's masks exist now: load masks (and measurements) waiting for it."""
        path, self._pending_masks = self._pending_masks, None
        if path is not None:
            self._load_beside(path)
        path, self._pending_measurements = self._pending_measurements, None
        if path is not None and self.measuring is not None:
            self.measuring.files.load_beside(path)

    def _load_beside(self, path: Path) -> None:
        seg = self.segmentation
        try:
            saved = read_masks(path, seg.masks.shape)
        except (CtrgError, OSError) as exc:
            self.window.show_error(f"Cannot open the masks saved with the report: {exc}")
            return
        seg.load_masks(saved, clean=True)
        self.masks_file = path
