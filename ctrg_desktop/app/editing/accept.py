"""Report > Accept report: the corrected report becomes one record of the corrections dataset.

The record (:meth:`ctrg_desktop.corrections.CorrectionsDataset.accept`: the de-identified volume,
the final text per structure, the model's draft, the diff, the edited keywords, the labels and
the segmentation masks assigned to report structures) is written on a background thread into
``default_corrections_dir()`` (``user_data_dir()/corrections``; ``CTRG_DATA_DIR`` moves the
data folder), or the ``root`` given. Afterwards the document is marked clean and its autosave
is discarded (the masks too when the record holds every one of them), and a message box and the
status bar say what was written: the record, its sentences and masks, the folder. A refused accept
(empty report, an identifier of the study in the text, a mask still being propagated, ...) is
shown with its one-line reason; nothing is written then.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from PySide6 import QtCore

from ctrg_desktop.app.jobs import JobRunner, user_line
from ctrg_desktop.errors import CtrgError

PROPAGATING = "a mask is still being propagated: wait for it or cancel it (Esc)"


@dataclass
class AcceptOutcome:
    root: Path
    record_id: str = ""
    record_dir: Path | None = None
    error: str = ""
    seconds: float = 0.0
    masks: list[str] = field(default_factory=list)    #: structures whose masks went into the record
    skipped: list[str] = field(default_factory=list)  #: masks not tied to a report structure
    sentences: int = 0                                #: sentences of the recorded report
    structures: int = 0                               #: structures with at least one sentence
    mask_state: int | None = None                     #: the mask set's state when accepted
    similar: str = ""                                 #: what became of it in the similar cases (one line)

    @property
    def ok(self) -> bool:
        return not self.error


def masks_by_structure(specs, names: list[str]) -> tuple[dict[str, np.ndarray], list[str]]:
    """MaskSpecs -> {structure: boolean union of its masks} for report structures ``names``;
    the names of masks without such a structure are returned apart."""
    out: dict[str, np.ndarray] = {}
    skipped = []
    for spec in specs:
        if spec.structure not in names:
            skipped.append(spec.name)
            continue
        array = np.asarray(spec.array).astype(bool)
        out[spec.structure] = out[spec.structure] | array if spec.structure in out else array.copy()
    return out, skipped


class AcceptAction(QtCore.QObject):
    """``accept()`` starts an accept; ``finished(AcceptOutcome)`` follows on the GUI thread."""

    finished = QtCore.Signal(object)

    def __init__(self, controller):
        super().__init__(controller)
        self.controller = controller
        self.window = controller.window
        self.root: Path | None = None  #: None: the default corrections folder
        self.jobs = JobRunner(self, name="ctrg-accept", describe=user_line)
        self.jobs.finished.connect(self._written)
        self.jobs.failed.connect(self._written)
        self.last: AcceptOutcome | None = None
        self.confirm_box = None

    def target(self) -> Path:
        from ctrg_desktop.corrections import default_corrections_dir

        return Path(self.root) if self.root is not None else default_corrections_dir()

    @property
    def busy(self) -> bool:
        return self.jobs.busy

    def accept(self, root=None, masks=None) -> bool:
        """Accept the edited report for the open study (returns at once). ``masks``: MaskSpecs
        (default: the segmentation tool's). False when it could not start (shown; ``finished`` follows)."""
        from ctrg_desktop.reports.document import ReportDocument

        controller, window = self.controller, self.window
        outcome = AcceptOutcome(Path(root) if root is not None else self.target())
        document = controller.document
        if self.busy:
            window.status.message("An accept is already running")
            return False
        if document is None or window.volume is None:
            outcome.error = "there is no report to accept: open a study and draft or open a report first"
            self._done(outcome, None, -1)
            return False
        segmentation = getattr(window, "segmentation", None)
        if segmentation is not None and segmentation.propagating:
            outcome.error = PROPAGATING
            self._done(outcome, None, -1)
            return False
        if masks is None and segmentation is not None and segmentation.masks is not None:
            outcome.mask_state = segmentation.masks.state
        arrays, outcome.skipped = masks_by_structure(controller.masks() if masks is None else masks,
                                                     document.names)
        outcome.masks = sorted(arrays)
        outcome.sentences = sum(len(s.sentences) for s in document.structures)
        outcome.structures = sum(1 for s in document.structures if s.sentences)
        snapshot = ReportDocument.from_json(document.to_json())  # the GUI may go on editing meanwhile
        window.status.message("Accepting the report into the corrections dataset...")
        draft = getattr(getattr(window, "drafting", None), "draft", None)
        self.jobs.run(_write_record, outcome.root, snapshot, window.volume, arrays, draft, name="accept",
                      context=(outcome, document, document.revision))
        return True

    def _written(self, job, _result_or_line) -> None:
        """The accept thread is done (GUI thread): its outcome is shown."""
        outcome, document, revision = job.context
        outcome.seconds, outcome.error = job.seconds, job.error
        if not job.error:
            outcome.record_id, outcome.record_dir, outcome.similar = job.result
        self._done(outcome, document, revision)

    def _done(self, outcome: AcceptOutcome, document, revision: int) -> None:
        self.last = outcome
        controller, window = self.controller, self.window
        if outcome.error:
            window.show_error(f"Cannot accept the report: {outcome.error}")
        else:
            current = document is not None and document is controller.document and document.revision == revision
            if current:
                document.mark_clean()
                controller.autosave.timer.stop()
                if document.study_key:
                    controller.autosave.discard(document.study_key)
                controller._update_state()
            self._masks_recorded(outcome)
            note = f"; masks of {', '.join(outcome.masks)}" if outcome.masks else ""
            if outcome.skipped:
                note += f"; not tied to a report structure, left out: {', '.join(outcome.skipped)}"
            later = "" if current else " (the report changed meanwhile: accept again to record the changes)"
            window.status.message(f"Accepted as {outcome.record_id} in {outcome.root}{note}{later}")
            self._confirm(outcome, later)
        self.finished.emit(outcome)

    def _masks_recorded(self, outcome: AcceptOutcome) -> None:
        """Every mask went into the record unchanged since: the masks count as saved."""
        segmentation = getattr(self.window, "segmentation", None)
        if outcome.mask_state is None or outcome.skipped or segmentation is None or segmentation.masks is None:
            return
        if segmentation.masks.mark_clean(outcome.mask_state):
            self.controller.autosave.masks.flush()

    def _confirm(self, outcome: AcceptOutcome, later: str) -> None:
        """A small box naming what was written (``confirm_box``)."""
        from ctrg_desktop.app.editing.controller import message_box

        lines = [f"Record {outcome.record_id} was added to the corrections dataset.",
                 f"Report: {outcome.sentences} sentence(s) in {outcome.structures} structure(s).",
                 "Masks: " + (", ".join(outcome.masks) if outcome.masks else "none") + "."]
        if outcome.skipped:
            lines.append(f"Left out (not tied to a report structure): {', '.join(outcome.skipped)}.")
        lines.append(f"Folder: {outcome.record_dir or outcome.root}")
        if outcome.similar:
            lines.append(outcome.similar[0].upper() + outcome.similar[1:] + ".")
        if later:
            lines.append(later.strip(" ()") + ".")
        self.confirm_box = message_box(self.window, "Report accepted", "\n".join(lines))

    def wait(self, timeout: float | None = 60.0) -> None:
        self.jobs.wait(timeout)


def _write_record(job, root: Path, snapshot, volume, masks, draft) -> tuple[str, Path, str]:
    """The runner's job: one record into the corrections dataset at ``root``, then into the similar
    cases of the drafting model; (its id, its folder, a line on the similar cases)."""
    from ctrg_desktop.corrections import CorrectionsDataset

    dataset = CorrectionsDataset(root)
    record_id = dataset.accept(snapshot, volume, masks=masks or None, model_info=snapshot.model)
    return record_id, dataset.record_dir(record_id), _add_to_similar_cases(record_id, snapshot, volume, draft)


def _add_to_similar_cases(record_id: str, snapshot, volume, draft) -> str:
    """Add the accepted report to the drafting model's reference index; a line saying what happened
    (a failure here never undoes the accepted record)."""
    from ctrg_desktop.app.similar.lookup import IndexCache, draft_logits
    from ctrg_desktop.retrieval.accepted import add_accepted

    if draft is None or not draft.observations:
        return ""
    try:
        index = IndexCache().index_for(snapshot.model)
        add_accepted(index, record_id, snapshot.report_text(), draft_logits(draft.observations), volume,
                     draft.observations, draft.structures)
    except (CtrgError, OSError, ValueError) as exc:
        return f"not added to the similar cases: {' '.join(str(exc).split())}"
    return "added to the similar cases of " + str(snapshot.model.get("name") or "the model")

