"""An edited report against the model's draft: sentences added, removed, changed and moved per
structure, keyword changes, and unified diffs (:meth:`ReportDocument.diff`)."""

from __future__ import annotations

import difflib
from dataclasses import dataclass, field

from ctrg_desktop.reports.sentences import Sentence, StructureSection


@dataclass
class StructureDiff:
    """One structure's sentences against the draft: texts added, removed, changed (old, new)."""

    name: str
    added: list[str] = field(default_factory=list)
    removed: list[str] = field(default_factory=list)
    changed: list[tuple[str, str]] = field(default_factory=list)
    unchanged: int = 0
    unified: str = ""

    @property
    def is_changed(self) -> bool:
        return bool(self.added or self.removed or self.changed or self.unified)


@dataclass
class ReportDiff:
    """The edited report against the model's draft (see :meth:`ReportDocument.diff`)."""

    structures: list[StructureDiff]
    moved: list[tuple[str, str, str]]          #: (sentence text, from structure, to structure)
    keywords: dict[str, dict[str, list[str]]]  #: structure -> {"added": [...], "removed": [...]}
    unified: str                               #: the whole report, one sentence a line, unified diff

    @property
    def is_changed(self) -> bool:
        return bool(self.unified or self.keywords or any(s.is_changed for s in self.structures))

    def structure(self, name: str) -> StructureDiff:
        for s in self.structures:
            if s.name == name:
                return s
        raise KeyError(name)

    def to_json(self) -> dict:
        return {"structures": [{"name": s.name, "added": s.added, "removed": s.removed,
                                "changed": [list(c) for c in s.changed], "unchanged": s.unchanged}
                               for s in self.structures],
                "moved": [list(m) for m in self.moved], "keywords": self.keywords, "unified": self.unified}


def diff_report(structures: list[StructureSection], draft: list[list[Sentence]],
                keywords: dict[str, dict[str, list[str]]]) -> ReportDiff:
    """The edited report (``structures``) against the model's ``draft`` (a sentence list per structure);
    ``keywords``: the keyword changes per structure.

    Per structure, sentences are matched by id, then by identical text: a matched pair with
    different text is ``changed``; the draft's unmatched sentences are ``removed``, the
    structure's unmatched ones ``added`` (a sentence moved between structures counts in both
    and is listed in ``moved``). ``unified`` diffs the report one sentence a line under a
    ``# structure`` heading; each StructureDiff has its own ``unified`` too.
    """
    where_draft = {s.id: structures[i].name for i, ss in enumerate(draft) for s in ss}
    diffs, moved = [], []
    old_lines, new_lines = [], []
    for section, drafted in zip(structures, draft):
        d = StructureDiff(section.name)
        current = list(section.sentences)
        draft_left = {s.id: s for s in drafted}
        pending = []
        for s in current:
            old = draft_left.pop(s.id, None)
            if old is None:
                pending.append(s)
            elif old.text == s.text:
                d.unchanged += 1
            else:
                d.changed.append((old.text, s.text))
        for s in pending:
            twin = next((o for o in draft_left.values() if o.text == s.text), None)
            if twin is not None:
                del draft_left[twin.id]
                d.unchanged += 1
            else:
                d.added.append(s.text)
                if s.id in where_draft and where_draft[s.id] != section.name:
                    moved.append((s.text, where_draft[s.id], section.name))
        d.removed = [s.text for s in drafted if s.id in draft_left]
        before = [s.text for s in drafted]
        after = [s.text for s in current]
        d.unified = "\n".join(difflib.unified_diff(before, after, f"draft/{section.name}",
                                                   f"edited/{section.name}", lineterm=""))
        diffs.append(d)
        old_lines += [f"# {section.name}", *before]
        new_lines += [f"# {section.name}", *after]
    unified = "\n".join(difflib.unified_diff(old_lines, new_lines, "draft", "edited", lineterm=""))
    return ReportDiff(diffs, moved, keywords, unified)
