"""The drafting controller's saved drafts: save the draft, open a saved draft or report file and
review it without a model (on the open study, or on the study it names, opened first), warning
when the study's geometry differs from the draft's.

A mixin of :class:`ctrg_desktop.app.drafting.controller.DraftingController` (its state lives there).
"""

from __future__ import annotations

from pathlib import Path

from PySide6 import QtWidgets

from ctrg_desktop.overlays.patch_lookup import geometry_mismatch

DRAFT_FILTER = "Draft reports (*.json);;All files (*)"


class DraftFiles:
    """Saved drafts (mixin: ``self.draft``, ``self.draft_path``, ``self._opened``, ``self._pending_review``)."""

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
