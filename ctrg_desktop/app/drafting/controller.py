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
"""

from __future__ import annotations

import asyncio
import html
import time
from pathlib import Path

import numpy as np
from PySide6 import QtCore, QtGui, QtWidgets

from ctrg_desktop.app.drafting.legend import ViewLegend
from ctrg_desktop.app.drafting.model_menu import default_model
from ctrg_desktop.app.drafting.observations import by_structure, observations_of
from ctrg_desktop.app.drafting.report_model import SentenceRef
from ctrg_desktop.app.drafting.report_panel import ReportPanel
from ctrg_desktop.app.drafting.structure_panel import StructurePanel
from ctrg_desktop.app.drafting.worker import DraftOutcome, DraftWorker
from ctrg_desktop.model.catalogue import zoo_entries
from ctrg_desktop.overlays.evidence import EvidenceLayers
from ctrg_desktop.overlays.patch_lookup import geometry_mismatch, geometry_of

Qt = QtCore.Qt
TOOLTIP_COLOURS = ("#fffbe6", "#111111")  #: hover tooltip background, text: legible over any image


def tooltip_palette() -> QtGui.QPalette:
    """Dark text on a light background for the patch tooltip (the views' own palette is dark)."""
    palette = QtGui.QPalette(QtWidgets.QToolTip.palette())
    for group in (QtGui.QPalette.ColorGroup.Active, QtGui.QPalette.ColorGroup.Inactive):
        palette.setColor(group, QtGui.QPalette.ColorRole.ToolTipBase, QtGui.QColor(TOOLTIP_COLOURS[0]))
        palette.setColor(group, QtGui.QPalette.ColorRole.ToolTipText, QtGui.QColor(TOOLTIP_COLOURS[1]))
    return palette


DRAFT_FILTER = "Draft reports (*.json);;All files (*)"
#: status-bar progress and text per stage of a draft
STAGE_PROGRESS = {"start": (0.05, "starting the model process"), "load": (0.2, "loading the model"),
                  "preprocess": (0.4, "preprocessing the study"), "encode": (0.5, "encoding the study"),
                  "decode": (0.6, "writing the report")}


class DraftingController(QtCore.QObject):
    """Signals: ``draft_shown(draft)`` when a draft is on screen (drafted or opened),
    ``draft_done(ok)`` when a draft request ends (success, failure or cancel)."""

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

    # --- docks ----------------------------------------------------------------------------
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

    # --- model and device -----------------------------------------------------------------
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

    # --- drafting -------------------------------------------------------------------------
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
        future = asyncio.get_event_loop().create_future()

        def finish(ok: bool) -> None:
            if not future.done():
                future.set_result(ok)

        self.draft_done.connect(finish)
        try:
            if not self.draft_report():
                return False
            return await future
        finally:
            self.draft_done.disconnect(finish)

    # --- showing a draft ------------------------------------------------------------------
    def show_draft(self, draft) -> None:
        """Put ``draft`` on screen for the open study: report, structures, no evidence ticked yet."""
        window = self.window
        self.clear()
        self.draft = draft
        self.evidence = EvidenceLayers(draft, window.layers, geometry_of(window.volume))
        model = draft.model.get("name", "?")
        seconds = draft.timings.get("total")
        header = f"<b>{model}</b> on {draft.device.upper()}" + (f", {seconds:.1f} s" if seconds else "") + \
            (f"<br>{draft.created}" if draft.created else "") + \
            "<br><i>Draft for review. Not for diagnostic use.</i>"
        self.report_panel.set_draft(draft, header)
        self.structure_panel.set_structures([(s.index, s.name, s.colour, len(s.sentences))
                                             for s in draft.structures], by_structure(observations_of(draft)))
        for title in ("Report", "Structures"):
            window.docks[title].show()
            window.docks[title].raise_()
        self.draft_shown.emit(draft)

    def clear(self) -> None:
        if self.evidence is not None:
            self.evidence.clear()
        self.evidence, self.draft, self.focused, self.draft_path = None, None, None, None
        self.report_panel.clear()
        self.structure_panel.set_structures([])
        self._evidence_changed()

    def set_structure_shown(self, index: int, on: bool) -> None:
        """Show or hide structure ``index``'s heat map and patches (the Structures boxes call this)."""
        if self.evidence is None:
            return
        self.evidence.set_shown(index, on)
        self.structure_panel.show_checked(index, on)
        if not on and self.focused == index:
            self.focused = None
            self.evidence.focus(None)
        if not on:  # its sentences are no longer highlighted
            panel = self.report_panel
            kept = [r for r in panel.selected_refs() if r.structure != index]
            panel._select([panel.model.index_of(r) for r in kept], QtCore.QModelIndex(), scroll=False)
        self._evidence_changed()

    def _evidence_changed(self) -> None:
        """The legends and the report's tinted sentences follow the shown structures."""
        shown = sorted(self.evidence.shown) if self.evidence is not None else []
        structures = self.draft.structures if self.draft is not None else []
        entries = [(structures[i].name, structures[i].colour, self.focused in (None, i)) for i in shown]
        for legend in self.legends.values():
            legend.set(entries)
        self.report_panel.model.set_highlighted(shown)

    def focus_structure(self, index: int) -> None:
        """Show structure ``index`` (ticked), bright; the other shown structures are dimmed."""
        if self.evidence is None:
            return
        self.evidence.focus(index)
        self.focused = index
        self.structure_panel.show_checked(index, True)
        self.structure_panel.highlight(index)
        self._evidence_changed()

    def best_patch(self, index: int) -> dict | None:
        """Structure ``index``'s highest-scoring top patch whose centre lies in the study (``None``
        when all of them lie in the padding around it)."""
        shape = self.window.volume.shape if self.window.volume is not None else None
        for p in sorted(self.draft.structures[index].top_patches, key=lambda p: -p["score"]):
            centre = np.round(np.asarray(p["centre_voxel"], float))
            if p.get("inside_study", True) and (shape is None or all(0 <= c < n for c, n in zip(centre, shape))):
                return p
        return None

    def choose_sentence(self, ref: SentenceRef, scroll: bool = True) -> None:
        """Focus the sentence's structure and move every view to its best patch (``scroll``: bring
        the sentence into view in the report; not when the user clicked it there)."""
        if self.draft is None:
            return
        self.focus_structure(ref.structure)
        self.report_panel.select_sentence(ref, scroll)
        self.go_to_patch(ref.structure)
        self._slices_first()

    def choose_structure(self, index: int, scroll: bool = True) -> None:
        """A structure heading chosen: like a sentence, with all its sentences selected."""
        if self.draft is None:
            return
        self.focus_structure(index)
        self.report_panel.select_structure(index, scroll)
        self.go_to_patch(index)
        self._slices_first()

    def _slices_first(self) -> None:
        """Draw the slice views now (tens of ms); the 3D view, much slower on a software
        OpenGL, follows in its own event-loop pass."""
        for view in self.window.slice_views.values():
            view.render_now()

    def go_to_patch(self, index: int, patch: dict | None = None) -> None:
        """Move the views to ``patch`` (default: the best inside the study), clamped to the study."""
        patch = patch or self.best_patch(index)
        s = self.draft.structures[index]
        if patch is None:
            self.window.status.message(f"{s.name}: no attended patch lies inside the study (the views stay)")
            return
        self.window.state.set_cursor(np.round(np.asarray(patch["centre_voxel"], float)))  # clamped
        self.window.status.message(f"{self.evidence.describe(index, patch)}, at voxel "
                                   f"{', '.join(str(v) for v in self.window.state.cursor)}")

    def show_structure(self, name: str | None = None) -> int:
        """Focus structure ``name`` (default: the first one the draft mentions), select its first
        sentence and move the views there; returns its index. ``KeyError`` for an unknown name."""
        if self.draft is None:
            raise RuntimeError("no draft is shown")
        if name is None:
            mentioned = [s.index for s in self.draft.structures if s.mentioned]
            index = mentioned[0] if mentioned else 0
        else:
            index = self.draft.structure(name).index
        self.choose_sentence(SentenceRef(index, 0))
        return index

    # --- views: hover and click -----------------------------------------------------------
    def _patches_under(self, view, kji) -> list:
        if self.evidence is None or not self.evidence.shown:
            return []
        kji = list(kji)
        kji[view.axis] = view.slice_index
        return self.evidence.patches_at(kji)

    def _hover(self, view, kji) -> None:
        hits = self._patches_under(view, kji)
        if not hits:
            self.hover_text = ""
            if self._tooltip_shown:
                QtWidgets.QToolTip.hideText()
                self._tooltip_shown = False
            return
        self.hover_text = "\n".join(self.evidence.describe(i, p) for i, p in hits)
        rows = "".join(f"<tr><td style='color:{self.draft.structures[i].colour}'>&#9632;</td>"
                       f"<td><nobr>{html.escape(self.evidence.describe(i, p))}</nobr></td></tr>" for i, p in hits)
        QtWidgets.QToolTip.setPalette(tooltip_palette())
        QtWidgets.QToolTip.showText(QtGui.QCursor.pos(), f"<table>{rows}</table>", view)
        self._tooltip_shown = True

    def patch_clicked(self, view, kji) -> int | None:
        """A click at voxel ``kji`` of ``view``: select the sentences of the patch's structure."""
        hits = self._patches_under(view, kji)
        if not hits:
            return None
        index = hits[0][0]
        self.focus_structure(index)
        self.report_panel.select_structure(index)
        s = self.draft.structures[index]
        self.window.status.message(f"{s.name}: patch #{hits[0][1]['rank']}, {len(s.sentences)} sentence(s)")
        return index

    def eventFilter(self, obj, event):  # noqa: N802
        if (event.type() == QtCore.QEvent.Type.MouseButtonPress and event.button() == Qt.MouseButton.LeftButton
                and not event.modifiers() and self.evidence is not None and self.window.state.tool == "navigate"
                and self.window.state.volume is not None):
            p = event.position()
            world = obj.display_to_world(p.x(), p.y())
            self.patch_clicked(obj, np.round(self.window.state.volume.world_to_voxel(world)))
        return False  # the view still moves its crosshair

    # --- saved drafts ---------------------------------------------------------------------
    def save_draft(self, path) -> Path | None:
        """Write the report as the reader sees it, the model's draft kept inside (the editing
        layer's Report > Save report; without it, the model's draft alone)."""
        editing = getattr(self.window, "editing", None)
        if editing is not None:
            return Path(path) if editing.files.save(path) is not None else None
        try:
            saved = self.draft.save(path)
        except OSError as exc:
            self.window.show_error(f"Cannot save the draft: {exc}")
            return None
        self.draft_path = saved
        self.window.status.message(f"Draft saved to {saved}")
        return saved

    def choose_draft(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self.window, "Open draft", self.window.settings["last_folder"],
                                                        DRAFT_FILTER)
        if path:
            self.open_draft(Path(path))

    def read_draft(self, path):
        """The model's draft of a saved draft or report file, with its attention map, or ``None``
        (the problem is shown). A saved report's edited document comes with it (:meth:`opened_file`)."""
        from ctrg_desktop.errors import CtrgError
        from ctrg_desktop.reports.report_file import read_report

        try:
            self._opened = read_report(Path(path))
        except (CtrgError, OSError) as exc:
            self.window.show_error(f"Cannot open draft {Path(path).name}: {exc}")
            return None
        return self._opened.draft

    def opened_file(self, draft):
        """The report file ``draft`` was read from (its edited document, its masks), or None."""
        opened = self._opened
        return opened if opened is not None and opened.draft is draft else None

    def study_of(self, draft, path) -> Path | None:
        """The study file a draft names, when it still exists (else the problem is shown)."""
        source = draft.study.get("source") or ""
        if source and Path(source).exists():
            return Path(source)
        self.window.show_error(f"Open the study of {Path(path).name} first (it names {source or 'no study file'})")
        return None

    def open_draft(self, path) -> bool:
        """Review a saved draft without a model: on the open study, or on the study it names
        (opened first). A study whose geometry differs from the draft's is warned about."""
        path = Path(path)
        draft = self.read_draft(path)
        if draft is None:
            return False
        if self.window.volume is None:
            source = self.study_of(draft, path)
            if source is None:
                return False
            self._pending_review = (draft, path)
            self.window.start_loading(source)
            return True
        editing = getattr(self.window, "editing", None)
        if editing is None:
            return self.review(draft, path)
        opened = self.opened_file(draft)
        return editing.prompt.confirm("Opening another report replaces them", lambda: self.review(draft, path),
                                      report=editing.would_replace(draft, opened),
                                      masks=opened is not None and opened.masks is not None,
                                      measurements=opened is not None and opened.measurements is not None)

    def review(self, draft, path) -> bool:
        """Show a loaded draft on the open study, warning when its geometry differs."""
        self.show_draft(draft)
        self.draft_path = Path(path)
        problem = geometry_mismatch(draft.study, self.window.volume)
        if problem:
            message = f"This draft may not belong to the open study: {problem}"
            draft.warnings.append(message)
            self.report_panel.set_notes(draft.warnings)
            self.window.show_error(message)
        else:
            self.window.status.message(f"Reviewing {Path(path).name} (no model loaded)")
        return True

    # --- lifecycle ------------------------------------------------------------------------
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
