"""PDF key images: the slices through the chosen structures' best patches inside the study.

The chosen structures are those ticked in the Structures panel (else the focused one, else
those the report mentions). For each, every visible slice view is moved to its best patch
inside the study, drawn with that structure in focus and grabbed; the reader's place (cursor,
focus) is put back afterwards. Structures with no patch inside the study get no image; when none
has one, the views are grabbed as they are, captioned so.
"""

from __future__ import annotations

from PySide6 import QtGui

MAX_IMAGES = 12


def chosen_structures(drafting) -> list[int]:
    """Ticked structures, else the focused one, else the mentioned ones."""
    if drafting.draft is None:
        return []
    ticked = sorted(drafting.evidence.shown) if drafting.evidence is not None else []
    if ticked:
        return ticked
    if drafting.focused is not None:
        return [drafting.focused]
    return [s.index for s in drafting.draft.structures if s.sentences]


def _grab(view) -> QtGui.QImage:
    from ctrg_desktop.app.screenshot import array_to_qimage

    view.render_now()
    return array_to_qimage(view.grab_array())


def key_images(window) -> list[tuple[str, QtGui.QImage]]:
    """(caption, image) pairs for the PDF (at most :data:`MAX_IMAGES`)."""
    if window.volume is None:
        return []
    views = [v for v in window.slice_views.values() if v.isVisible() and v.width() >= 8]
    drafting = window.drafting
    cursor, focused = window.state.cursor, drafting.focused
    shown = set(drafting.evidence.shown) if drafting.evidence is not None else set()
    images = []
    try:
        for index in chosen_structures(drafting):
            patch = drafting.best_patch(index)
            if patch is None:
                continue
            drafting.focus_structure(index)
            drafting.go_to_patch(index, patch)
            for view in views:
                count = window.volume.shape[view.axis]
                caption = (f"{view.name.capitalize()} slice {view.slice_index + 1} of {count}, best patch "
                           f"inside the study: {drafting.evidence.describe(index, patch)}")
                images.append((caption, _grab(view)))
                if len(images) >= MAX_IMAGES:
                    return images
    finally:
        if drafting.evidence is not None:
            for index in set(drafting.evidence.shown) - shown:  # shown only for its image
                drafting.set_structure_shown(index, False)
            drafting.evidence.focus(focused)
            drafting.focused = focused
            drafting._evidence_changed()
        window.state.set_cursor(cursor)
        for view in views:
            view.render_now()
    if not images:
        images = [(f"{v.name.capitalize()} slice {v.slice_index + 1} of {window.volume.shape[v.axis]} "
                   "(no structure with evidence inside the study)", _grab(v)) for v in views]
    return images
