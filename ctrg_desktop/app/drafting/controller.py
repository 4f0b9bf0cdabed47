"""Drafting in the main window: run the model, show the report and each structure's evidence.

One :class:`DraftingController` per window (``window.drafting``). It owns the worker, the
Structures and Report docks and the evidence layers, and links them:

* sentence clicked in the report -> its structure is focused (its patches bright, the others
  dimmed) and every view moves to the structure's highest-scoring patch inside the study (none
  there: the views stay and the status bar says so);
* left click on a patch in a slice view -> the structure's sentences are selected;
* hovering a patch -> tooltip with structure, rank and share of the structure's attention;
* ticked structures: heat map and boxes in the structure's colour, a legend in each slice view,
  their sentences tinted in the report.

Where each part lives: showing a draft and its evidence :mod:`.evidence_view`; saved drafts
:mod:`.draft_files`; this module: the docks, the model and device, running a draft.
"""

from __future__ import annotations

import time
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.drafting.draft_files import DraftFiles
from ctrg_desktop.app.drafting.evidence_view import EvidenceView
from ctrg_desktop.app.drafting.legend import ViewLegend
from ctrg_desktop.app.drafting.model_menu import default_model
from ctrg_desktop.app.drafting.report_panel import ReportPanel
from ctrg_desktop.app.drafting.structure_panel import StructurePanel
from ctrg_desktop.app.drafting.worker import DraftOutcome, DraftWorker
from ctrg_desktop.model.catalogue import zoo_entries
from ctrg_desktop.overlays.evidence import EvidenceLayers

Qt = QtCore.Qt
#: status-bar progress and text per stage of a draft
STAGE_PROGRESS = {"start": (0.05, "starting the model process"), "load": (0.2, "loading the model"),
                  "preprocess": (0.4, "preprocessing the study"), "encode": (0.5, "encoding the study"),
                  "decode": (0.6, "writing the report")}


class DraftingController(EvidenceView, DraftFiles, QtCore.QObject):
    """Signals: ``draft_shown(draft)`` when a draft is on screen (drafted or opened),
    ``draft_done(ok)`` when a draft request ends (success, failure or cancel).

    Its parts: :class:`~.evidence_view.EvidenceView` (a draft on screen, its evidence, hover and
    click), :class:`~.draft_files.DraftFiles` (saved drafts); here the model, the device and drafting."""

    draft_shown = QtCore.Signal(object)
    draft_done = QtCore.Signal(bool)

    def __init__(self, window):
        super().__init__(window)
        self.window = window
        self.model: str | None = default_model(zoo_entries())
        self.device = "auto"
        self.worker_info: dict = {}
        self.draft = None
        self.draft_path: Path | None = None
        self.evidence: EvidenceLayers | None = None
        self.focused: int | None = None
        self.last_outcome: DraftOutcome | None = None
        self.prewarm = False  # start the worker and load the model when a study opens (the app sets it)
        self.options: dict = {}  # extra draft_report settings (beams, lengths), none by default
        self.hover_text = ""
        self._job_volume = None
        self._pending_review = None
        self._opened = None  # the report file read last (ctrg_desktop.reports.report_file.OpenedReport)
        self._tooltip_shown = False
        self.device_actions: QtGui.QActionGroup | None = None  # set by the Report menu
        self.worker = DraftWorker(self)
        self.worker.stage.connect(self._on_stage)
        self.worker.finished.connect(self._on_finished)
        self.worker.ready.connect(self._on_ready)
        self.worker.warmed.connect(lambda model, error: error and window.status.message(
            f"Cannot load model {model}: {error}"))
        self.structure_panel = StructurePanel()
        self.structure_panel.toggled.connect(self.set_structure_shown)
        self.report_panel = ReportPanel()
        self.report_panel.sentence_chosen.connect(lambda ref: self.choose_sentence(ref, scroll=False))
        self.report_panel.structure_chosen.connect(lambda index: self.choose_structure(index, scroll=False))
        self.device_label = QtWidgets.QLabel()
        window.statusBar().insertPermanentWidget(0, self.device_label)
        self._update_device_label()
        window.study_opened.connect(self._on_study_opened)
        self.legends = {name: ViewLegend(view) for name, view in window.slice_views.items()}
        for view in window.slice_views.values():
            view.hovered.connect(lambda kji, world, hu, v=view: self._hover(v, kji))
            view.installEventFilter(self)

    def add_docks(self) -> None:
        """Report beside the views (right, on top, tall); Structures tabbed with the other docks below."""
        window = self.window
        for title, widget in (("Report", self.report_panel), ("Structures", self.structure_panel)):
            dock = QtWidgets.QDockWidget(title, window)
            dock.setObjectName(f"dock-{title.lower()}")
            dock.setWidget(widget)
            window.docks[title] = dock
        report, structures = window.docks["Report"], window.docks["Structures"]
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, report)
        window.splitDockWidget(report, structures, Qt.Orientation.Vertical)
        for title in ("Layers", "Series", "Study"):  # out of their places, into one tab group
            dock = window.docks[title]
            visible = dock.isVisibleTo(window) or not window.isVisible()
            window.removeDockWidget(dock)
            window.tabifyDockWidget(structures, dock)
            dock.setVisible(visible)
        structures.raise_()
        report.setMinimumWidth(340)
        window.resizeDocks([report, structures], [560, 300], Qt.Orientation.Vertical)

    def set_model(self, name: str) -> bool:
        """Use zoo model ``name`` for the next drafts (the open study stays)."""
        names = [m.name for m in zoo_entries() if m.usable]
        if name not in names and not Path(name).is_dir():
            self.window.show_error(f"no model {name!r} in the model zoo; it has: {', '.join(names) or 'nothing'}")
            return False
        self.model = name
        self._update_device_label()
        self.window.status.message(f"Model for drafting: {name}")
        if self.prewarm and self.window.volume is not None:
            self.worker.warm(name)
        return True

    def set_device(self, device: str) -> None:
        if device not in ("auto", "cuda", "cpu"):
            raise ValueError(f"unknown device {device!r}: use auto, cuda or cpu")
        self.device = device
        for act in self.device_actions.actions() if self.device_actions else ():
            act.setChecked(act.data() == device)
        self._update_device_label()

    def _resolved_device(self) -> str:
        if self.device != "auto" or not self.worker_info:
            return self.device
        return "cuda" if self.worker_info.get("cuda") else "cpu"

    def _update_device_label(self) -> None:
        device, used = self._resolved_device(), self.draft.device if self.draft is not None else None
        shown = device.upper() if device != "auto" else "auto"
        if device == "cuda" and self.worker_info.get("cuda_name"):
            shown += f" ({self.worker_info['cuda_name']})"
        if self.device == "auto" and device != "auto":
            shown = f"auto: {shown}"
        if used and not used.startswith(device if device != "auto" else "-"):
            shown += f", shown draft made on {used.upper()}"
        self.device_label.setText(f"Model: {self.model or 'none'}   Device: {shown}")

    def _on_ready(self, info: dict) -> None:
        self.worker_info = dict(info)
        for act in self.device_actions.actions() if self.device_actions else ():
            if act.data() == "cuda":
                act.setEnabled(bool(info.get("cuda")) or self.device == "cuda")
                act.setToolTip("" if info.get("cuda") else "CUDA is not available on this machine")
        self._update_device_label()

    @property
    def busy(self) -> bool:
        return self.worker.busy

    def draft_report(self) -> bool:
        """Start drafting the open study (returns at once; ``draft_done`` follows)."""
        window = self.window
        if window.volume is None:
            window.show_error("Open a study before drafting a report")
            return False
        if self.model is None:
            window.show_error("The model zoo has no usable model: train or import one first")
            return False
        if self.busy:
            window.status.message("A draft is already running (Esc cancels it)")
            return False
        editing = getattr(window, "editing", None)
        if editing is None:
            self._start_draft()
            return True
        return editing.prompt.confirm("A new draft replaces the edited report", self._start_draft, masks=False)

    def _start_draft(self) -> None:
        window = self.window
        if window.volume is None or self.busy:
            return
        self._job_volume = window.volume
        self._clicked_at = time.perf_counter()
        self.worker.draft(window.volume, self.model, self.device, options=self.options)
        window.status.start_progress(f"Drafting a report with {self.model}...")

    def cancel(self) -> None:
        if self.busy:
            self.worker.cancel()
            self.window.status.message("Cancelling the draft...")

    def _on_stage(self, stage: str) -> None:
        if not self.busy:
            return
        fraction, text = STAGE_PROGRESS.get(stage, (0.5, stage))
        if stage == "load":
            text = f"loading model {self.model}"
        self.window.status.progress(fraction, f"Drafting: {text}...")

    def _on_finished(self, outcome: DraftOutcome) -> None:
        if not self.worker.take_finished(outcome):
            return
        self.last_outcome = outcome
        window = self.window
        window.status.stop_progress()
        if outcome.cancelled:
            window.status.message("Draft cancelled")
            window.last_error = "the draft was cancelled"
        elif outcome.error:
            window.show_error(f"Cannot draft a report: {outcome.error}")
        elif self._job_volume is not window.volume:
            window.status.message("Draft discarded: another study was opened meanwhile")
            window.last_error = "the study changed during the draft"
        else:
            draft = outcome.draft
            outcome.stage_times["shown"] = time.perf_counter() - self._clicked_at
            self.show_draft(draft)
            seconds = outcome.stage_times["shown"]
            window.status.message(f"Draft ready in {seconds:.1f} s ({self.model} on {draft.device.upper()})"
                                  + (f"; {draft.warnings[0]}" if draft.warnings else ""))
            self._update_device_label()
            if any("out of memory" in w for w in draft.warnings):
                self._note(draft.warnings[0])
        self._job_volume = None
        self.draft_done.emit(outcome.ok and outcome.draft is self.draft)

    def _note(self, message: str) -> None:
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Information, "ctrg-desktop", message,
                                    parent=self.window)
        box.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.note_box = box

    async def draft_async(self) -> bool:
        """Draft the open study; the coroutine ends when the draft is shown (True) or failed."""
        from ctrg_desktop.app.jobs import wait_for_signal

        return await wait_for_signal(self.draft_done, self.draft_report)

    def _on_study_opened(self, volume) -> None:
        self.clear()
        if self._pending_review is not None:
            draft, path = self._pending_review
            self._pending_review = None
            self.review(draft, path)
        elif self.prewarm and self.model and not self.busy:
            self.worker.warm(self.model)

    def shutdown(self) -> None:
        self.worker.shutdown()
