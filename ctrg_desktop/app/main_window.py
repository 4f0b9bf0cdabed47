"""The main window: open studies (dialogs, drag and drop, recent, demo), four linked views,
overlay layers, window presets, progress and cancel for loads running off the GUI thread.

About 480 lines: the window is where every controller (drafting, editing, segmentation,
measurements, similar cases) is created and wired to the study it opens; the controllers
themselves live in their packages."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6 import QtCore, QtWidgets

from ctrg_desktop import __version__
from ctrg_desktop.app.drafting.controller import DraftingController
from ctrg_desktop.app.editing.controller import EditingController
from ctrg_desktop.app.interaction.bindings import drag_bindings
from ctrg_desktop.app.interaction.key_router import KeyRouter
from ctrg_desktop.app.interaction.state import ViewerState
from ctrg_desktop.app.loader import LoadResult, StudyLoader
from ctrg_desktop.app.measure.controller import MeasurementController
from ctrg_desktop.app.overlay_render import SliceOverlays
from ctrg_desktop.app.overlay_render3d import VolumeOverlays
from ctrg_desktop.app.panels.layer_list import LayerListPanel
from ctrg_desktop.app.panels.series_browser import SeriesBrowser
from ctrg_desktop.app.panels.study_info import StudyPanel
from ctrg_desktop.app.reading import ReadingTools
from ctrg_desktop.app.segment.controller import SegmentationController
from ctrg_desktop.app.settings import Settings
from ctrg_desktop.app.similar.controller import SimilarCasesController
from ctrg_desktop.app.status import StatusPanel
from ctrg_desktop.app.views.layout import ViewLayout
from ctrg_desktop.app.views.slice_view import SliceView
from ctrg_desktop.app.views.volume_view import VolumeView
from ctrg_desktop.app.vtk_bridge import ImageHandle, user_matrix
from ctrg_desktop.app.window_actions import build_menus
from ctrg_desktop.errors import LoadCancelled, MultipleSeriesError
from ctrg_desktop.io.volume import Volume
from ctrg_desktop.overlays import LayerList

STUDY_FILTER = "CT studies (*.nii *.nii.gz *.nrrd *.nhdr *.mha *.mhd *.dcm *.zip);;All files (*)"
LABEL_FILTER = "Label maps (*.nii *.nii.gz *.nrrd *.mha *.mhd);;All files (*)"


class MainWindow(QtWidgets.QMainWindow):
    """Top-level window. ``open_study`` never raises: problems are shown and the window stays usable."""

    study_opened = QtCore.Signal(object)
    load_done = QtCore.Signal(bool)

    def __init__(self, settings: Settings | None = None):
        super().__init__()
        self.setWindowTitle(f"ctrg-desktop {__version__}")
        self.settings = settings or Settings()
        self.volume: Volume | None = None
        self.study_path: Path | None = None
        self.last_error: str | None = None
        self.state = ViewerState(self.settings.window_presets(), self)
        self.layers = LayerList()
        self.slice_views = {name: SliceView(name, self.state) for name in ("axial", "coronal", "sagittal")}
        self.volume_view = VolumeView()
        self.views = {**self.slice_views, "3d": self.volume_view}
        self.layout_widget = ViewLayout(self.views)
        self.setCentralWidget(self.layout_widget)
        self.loader = StudyLoader(self)
        self.loader.progress.connect(self._on_progress)
        self.loader.finished.connect(self._on_loaded)
        self._request: LoadResult | None = None
        self._pending_steps: list = []
        self._flushing = False
        self._overlay_renderers: list = []
        self.timings: dict[str, float] = {}
        self.confirm_close = True  #: ask Save / Discard / Cancel on close when work is unsaved
        self._close_ok = False
        self._build_docks()
        self.status = StatusPanel(self.statusBar(), self.cancel_loading)
        self.drafting = DraftingController(self)  # Report menu, Report and Structures docks
        self.drafting.add_docks()
        self.segmentation = SegmentationController(self)  # Segment menu, Masks dock, SAM worker
        self.segmentation.add_dock()
        self.measuring = MeasurementController(self)  # line and ellipse tools, Measurements dock
        self.measuring.add_dock()
        self.editing = EditingController(self)  # report edits, autosave, Export, Accept
        self.similar = SimilarCasesController(self)  # Similar cases dock (after editing: it edits the report)
        self.similar.add_dock()
        self.reading = ReadingTools(self)  # thick slab, cine, slices fitted to the layout
        self.actions_ = build_menus(self)
        self._connect_views()
        self._restore_settings()
        self.setAcceptDrops(True)
        self.status.message("Open a CT study (File menu, drag and drop) or the demo study (Ctrl+D)")

    # --- construction ---------------------------------------------------------------------
    def _build_docks(self) -> None:
        self.layer_panel = LayerListPanel(self.layers)
        self.series_browser = SeriesBrowser()
        self.series_browser.series_chosen.connect(lambda folder, uid: self.start_loading(folder, uid))
        self.info = StudyPanel()  # the Study tab: patient, study, series, geometry; Copy JSON
        self.series_browser.entries_changed.connect(self.info.set_catalog)
        self.docks = {}
        for title, widget in (("Layers", self.layer_panel), ("Series", self.series_browser),
                              ("Study", self.info)):
            dock = QtWidgets.QDockWidget(title, self)
            dock.setObjectName(f"dock-{title.lower()}")
            dock.setWidget(widget)
            self.addDockWidget(QtCore.Qt.DockWidgetArea.RightDockWidgetArea, dock)
            self.docks[title] = dock
        self.tabifyDockWidget(self.docks["Series"], self.docks["Study"])
        self.docks["Layers"].raise_()

    def _connect_views(self) -> None:
        for view in self.slice_views.values():
            view.hovered.connect(self._show_readout)
            view.measured.connect(lambda mm: self.status.message(f"Distance: {mm:.1f} mm"))
            view.tools.double_clicked = self.layout_widget.toggle_maximised
            view.tools.bindings = drag_bindings(self.settings["mouse_drag"])
        self.key_router = KeyRouter(self)  # slice keys go to the view under the mouse
        self.state.cursor_changed.connect(lambda _old: self._show_readout(
            self.state.cursor, self.state.cursor_world(), self.state.value_at(self.state.cursor)))
        self.state.window_changed.connect(self._sync_preset_box)
        self.state.tool_changed.connect(self._sync_tool)

    def _restore_settings(self) -> None:
        geometry = self.settings["geometry"]
        if geometry:
            self.restoreGeometry(QtCore.QByteArray.fromBase64(geometry.encode()))
        else:
            self.resize(1400, 900)
        state = self.settings["state"]
        if state:
            self.restoreState(QtCore.QByteArray.fromBase64(state.encode()))
        if self.settings["preset"] in self.state.presets:
            self.set_preset(self.settings["preset"])
        self.set_layout(self.settings["layout"] if self.settings["layout"] else "2x2")
        if self.settings["volume_preset"] in self.volume_preset_box_items():
            self.set_volume_preset(self.settings["volume_preset"])
        self._rebuild_recent()

    def volume_preset_box_items(self) -> list[str]:
        return [self.volume_preset_box.itemText(n) for n in range(self.volume_preset_box.count())]

    def save_settings(self) -> None:
        self.settings["geometry"] = bytes(self.saveGeometry().toBase64()).decode()
        self.settings["state"] = bytes(self.saveState().toBase64()).decode()
        self.settings["preset"] = self.state.preset or self.settings["preset"]
        self.settings["layout"] = self.layout_widget.layout_name
        self.settings["volume_preset"] = self.volume_view.preset
        try:
            self.settings.save()
        except OSError as exc:
            self.status.message(f"Cannot save settings: {exc}")

    def closeEvent(self, event):  # noqa: N802
        if self.confirm_close and not self._close_ok:
            self._close_ok = None  # answered at once: this event goes on
            if not self.editing.prompt.confirm("Closing the window loses them", self._confirmed_close):
                self._close_ok = False
                event.ignore()  # asked (the window closes after the answer) or cancelled
                return
        self._close_ok = True
        self.loader.cancel()
        self.editing.shutdown()
        self.drafting.shutdown()
        self.segmentation.shutdown()
        self.series_browser.shutdown()
        self.save_settings()
        for view in self.views.values():
            view.close_view()
        super().closeEvent(event)

    def _confirmed_close(self) -> None:
        """Saved or discarded: the close goes on (at once inside closeEvent, else on the next pass)."""
        if self._close_ok is False:
            self._close_ok = True
            QtCore.QTimer.singleShot(0, self.close)

    # --- opening studies ------------------------------------------------------------------
    def choose_file(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open CT study", self.settings["last_folder"],
                                                        STUDY_FILTER)
        if path:
            self.start_loading(Path(path))

    def choose_folder(self) -> None:
        path = QtWidgets.QFileDialog.getExistingDirectory(self, "Open DICOM folder", self.settings["last_folder"])
        if path:
            self.start_loading(Path(path))

    def open_demo(self) -> bool:
        """Open the demo study and wait for it (fetched once with pip)."""
        from ctrg_desktop.data.demo import ensure_demo_study
        from ctrg_desktop.errors import CtrgError

        self.status.message("Fetching the demo study...")
        try:
            demo = ensure_demo_study()
        except CtrgError as exc:
            self.show_error(str(exc))
            return False
        return self.open_study(demo.nifti)

    def open_demo_async(self) -> None:
        QtCore.QTimer.singleShot(0, self.open_demo)

    def open_study(self, path, series_uid: str | None = None) -> bool:
        """Load and show a study, keeping the event loop running; True when it is shown."""
        from ctrg_desktop.app.jobs import run_until_signal

        return bool(run_until_signal(self.load_done, lambda: self.start_loading(path, series_uid))[0])

    def start_loading(self, path, series_uid: str | None = None) -> None:
        """Start reading ``path`` in the background (a load in progress is cancelled); unsaved
        work of the open study is saved or discarded first (or the load is cancelled)."""
        self.editing.prompt.confirm("Opening another study closes them", lambda: self._start_loading(path, series_uid),
                                    cancelled=self._load_refused)

    def _load_refused(self) -> None:
        self.last_error = "the unsaved work was kept: no other study was opened"
        self.load_done.emit(False)

    def _start_loading(self, path, series_uid: str | None = None) -> None:
        if self._pending_steps:  # the previous study is still being shown: finish that first
            self._flush_steps()
        if self.loader.busy:
            self.loader.cancel()
            self.loader.wait()
        self.volume_view.cancel_render()  # the study on screen is being replaced
        self.timings = {"start": time.perf_counter()}
        self.status.start_progress(f"Opening {Path(path).name}...")
        self._request = self.loader.load(Path(path), series_uid)

    def cancel_loading(self) -> None:
        """Cancel the study being loaded, the draft being made and a mask propagation, stop cine
        (Esc, the status bar's Cancel)."""
        self.reading.cine.stop()
        self.drafting.cancel()
        self.segmentation.cancel()
        if self.loader.busy:
            self.loader.cancel()
            self.status.message("Cancelling...")

    def _on_progress(self, fraction: float, message: str) -> None:
        self.status.progress(fraction, message)

    def _on_loaded(self, result: LoadResult) -> None:
        if result is not self._request:
            result.extras_wanted.set()
            return  # a load that was replaced by a newer one
        self._request = None
        self.status.stop_progress()
        if result.ok:
            self._show_study(result)
            return  # load_done comes when the study is fully shown
        self.volume_view.request_render()  # a render cancelled for this load
        if isinstance(result.error, MultipleSeriesError):
            self._offer_series(result.path, result.error.series)
        elif isinstance(result.error, LoadCancelled):
            self.status.message("Loading cancelled")
            self.last_error = "loading was cancelled"
        else:
            self.show_error(f"Cannot open {result.path.name}: {result.error}")
        self.load_done.emit(result.ok)

    def _offer_series(self, folder: Path, series: list) -> None:
        self.series_browser.set_series(folder, series)
        self.docks["Series"].show()
        self.docks["Series"].raise_()
        self.last_error = f"{folder.name} holds {len(series)} series: choose one in the Series panel"
        self.status.message(self.last_error)

    def _show_study(self, result: LoadResult) -> None:
        """Show the slices at once (first the active view), then the rest one event-loop pass
        at a time so the window stays responsive; ``load_done`` comes at the end."""
        volume = result.volume
        for renderer in self._overlay_renderers:
            renderer.detach()
        self.layers.clear()
        self.layers.shape = volume.shape
        self.volume, self.study_path, self.last_error = volume, result.path, None
        self.state.set_volume(volume)
        self._matrix = user_matrix(volume)
        self._overlay_renderers = []
        blends: dict = {}
        for view in self.slice_views.values():
            view.set_image(volume.array, self._matrix)
            self._overlay_renderers.append(SliceOverlays(view, self.layers, self._matrix, blends))
        visible = [v for v in self.slice_views.values() if v.isVisible()]
        active = self.slice_views.get(self.layout_widget.active)
        first = active if active in visible else (visible[0] if visible else None)
        if first is not None:
            first.render_now()
        self.timings["first_slice"] = time.perf_counter()
        steps = []
        for view in visible:
            if view is not first:
                view.cancel_render()  # rendered below, one per event-loop pass
                steps.append(view.render_now)
        steps.append(result.extras_wanted.set)
        steps.append(lambda: self._finish_study(result))
        self._pending_steps = steps
        QtCore.QTimer.singleShot(1, self._next_step)

    def _next_step(self) -> None:
        """Run one pending step of showing a study (each in its own event-loop pass); a step
        returning False is not ready yet and is tried again a little later."""
        if not self._pending_steps:
            return
        step = self._pending_steps.pop(0)
        if step() is False:
            self._pending_steps.insert(0, step)
            QtCore.QTimer.singleShot(5, self._next_step)
        elif self._pending_steps:  # 1 ms: a real timer, so overdue timers (and input) go first
            QtCore.QTimer.singleShot(1, self._next_step)

    def _flush_steps(self) -> None:
        """Finish showing the current study now (before another load starts)."""
        self._flushing = True
        try:
            while self._pending_steps:
                self._pending_steps.pop(0)()
        finally:
            self._flushing = False

    def _finish_study(self, result: LoadResult):
        if not result.extras_ready.is_set():  # the 3D copy and summary are still being computed
            result.extras_wanted.set()
            if not self._flushing:
                return False
            result.extras_ready.wait()
        volume = result.volume
        self._show_3d(result)
        self.info.show_study(volume, result.summary or volume.summary())
        self.series_browser.show_source(result.path, volume.series.series_instance_uid)
        self.setWindowTitle(f"{result.path.name} - ctrg-desktop {__version__}")
        self.status.message(f"Opened {result.path} ({' x '.join(map(str, volume.shape))}) "
                            f"in {result.seconds:.2f} s")
        self.settings.add_recent(result.path)
        self._rebuild_recent()
        self.timings["shown"] = time.perf_counter()
        self.study_opened.emit(volume)
        self.load_done.emit(True)

    def _show_3d(self, result: LoadResult) -> None:
        volume = result.volume
        array_3d, stride = result.array_3d, result.stride_3d
        if array_3d is None:
            from ctrg_desktop.app.loader import array_for_3d

            array_3d, stride = array_for_3d(volume.array)
        spacing = tuple(s * f for s, f in zip(volume.spacing, stride))
        self._handle_3d = ImageHandle(array_3d, spacing)
        self.volume_view.set_image(self._handle_3d, self._matrix)
        self._overlay_renderers.append(
            VolumeOverlays(self.volume_view, self.layers, self._matrix, volume.spacing, stride))

    def _rebuild_recent(self) -> None:
        self.recent_menu.clear()
        for path in self.settings["recent"]:
            action = self.recent_menu.addAction(path)
            action.triggered.connect(lambda _=False, p=path: self.start_loading(Path(p)))
        self.recent_menu.setEnabled(bool(self.settings["recent"]))

    # --- drag and drop --------------------------------------------------------------------
    def dragEnterEvent(self, event):  # noqa: N802
        if event.mimeData().hasUrls():
            event.acceptProposedAction()

    def dropEvent(self, event):  # noqa: N802
        paths = [Path(u.toLocalFile()) for u in event.mimeData().urls() if u.isLocalFile()]
        if paths:
            event.acceptProposedAction()
            self.start_loading(paths[0])

    # --- view settings --------------------------------------------------------------------
    def set_preset(self, name: str) -> None:
        self.state.apply_preset(name)

    def _sync_preset_box(self, level: float, width: float) -> None:
        with QtCore.QSignalBlocker(self.preset_box):
            self.preset_box.setCurrentText(self.state.preset or "custom")

    def _sync_tool(self, tool: str) -> None:
        for action in self.tool_actions.actions():
            action.setChecked(action.text().lower().startswith(tool))

    def save_window_preset(self) -> None:
        name, ok = QtWidgets.QInputDialog.getText(self, "Save window preset", "Name:")
        if ok and name.strip():
            self.settings.save_window_preset(name.strip(), self.state.level, self.state.width)
            self.state.presets[name.strip()] = (self.state.level, self.state.width)
            self.preset_box.insertItem(self.preset_box.count() - 1, name.strip())
            self.state.set_window(self.state.level, self.state.width, preset=name.strip())

    def set_layout(self, name: str) -> None:
        self.layout_widget.set_layout(name)
        with QtCore.QSignalBlocker(self.layout_box):
            self.layout_box.setCurrentText(name)

    def set_volume_preset(self, name: str) -> None:
        self.volume_view.set_preset(name)
        with QtCore.QSignalBlocker(self.volume_preset_box):
            self.volume_preset_box.setCurrentText(name)

    def reset_views(self) -> None:
        for view in self.views.values():
            view.reset_view()
            view.request_render()

    def set_crosshair_visible(self, visible: bool) -> None:
        for view in self.slice_views.values():
            view.set_crosshair_visible(visible)

    def _show_readout(self, kji, world, hu) -> None:
        k, j, i = (int(v) for v in kji)
        value = "outside" if hu is None else f"{hu:.0f} HU"
        x, y, z = world
        self.status.readout(f"voxel (k,j,i) {k}, {j}, {i}   LPS ({x:.1f}, {y:.1f}, {z:.1f}) mm   {value}")

    # --- overlays, screenshots, help ------------------------------------------------------
    def choose_label_map(self) -> None:
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Load label map", self.settings["last_folder"],
                                                        LABEL_FILTER)
        if path:
            self.add_label_map_file(Path(path))

    def add_label_map_file(self, path) -> bool:
        """Read a label map on the study's grid and add it as an overlay layer."""
        from ctrg_desktop.app.label_files import read_label_map

        if self.volume is None:
            self.show_error("Open a study before loading a label map")
            return False
        try:
            layer = read_label_map(path, self.volume)
        except (OSError, ValueError, RuntimeError) as exc:
            self.show_error(f"Cannot load label map {Path(path).name}: {exc}")
            return False
        self.layers.add(layer)
        return True

    def choose_screenshot(self) -> None:
        path, _ = QtWidgets.QFileDialog.getSaveFileName(self, "Save screenshot", "view.png", "PNG (*.png)")
        if path:
            self.save_screenshot(path, self.layout_widget.active)

    def save_screenshot(self, path, view: str | None = None) -> Path:
        """PNG of one view (``axial``, ``coronal``, ``sagittal``, ``3d``) or of the whole window."""
        from ctrg_desktop.app.screenshot import grab_window, save_view_png

        if view is not None:
            return save_view_png(self.views[view], path)
        if not grab_window(self, self.views.values()).save(str(path), "PNG"):
            raise OSError(f"cannot write {path}")
        return Path(path)

    def render_all(self) -> None:
        for view in self.views.values():
            view.render_now()

    def show_help(self) -> None:
        from ctrg_desktop.app.help_dialog import HelpDialog

        dialog = HelpDialog(self.actions_, self, drags=self.slice_views["axial"].tools.bindings)
        dialog.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        dialog.open()
        self.help_dialog = dialog

    def show_about(self) -> None:
        QtWidgets.QMessageBox.about(self, "ctrg-desktop", f"ctrg-desktop {__version__}\nChest CT viewer "
                                    "and structure-grounded report drafting. Not for diagnostic use.")

    def show_error(self, message: str) -> None:
        """Status bar + a non-blocking message box; the window stays usable."""
        self.last_error = message
        self.status.message(message)
        box = QtWidgets.QMessageBox(QtWidgets.QMessageBox.Icon.Warning, "ctrg-desktop", message, parent=self)
        box.setAttribute(QtCore.Qt.WidgetAttribute.WA_DeleteOnClose)
        box.open()
        self.error_box = box
