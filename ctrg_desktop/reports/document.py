"""The editable working state of one report, with undo/redo, a diff against the model's draft
and a JSON form that restores everything (history included) after a crash. No Qt here.

Attributes the GUI and the exporters read (plain data; change them only through the methods):

* ``document.structures``: list of :class:`StructureSection` in structure-set order, each with
  ``.index``, ``.name``, ``.colour`` and ``.sentences`` (list of :class:`Sentence`: ``.id``
  (stable, e.g. ``"s7"``), ``.text``, ``.origin`` ``"model"`` or ``"user"``, ``.draft_text``
  (the model's words for model sentences), ``.edited``). The catch-all structure of the set
  (``others``) is one of them; ``document.others`` returns it.
* ``document.structure_set``: the edited copy of the structure set (keywords as the user left
  them); ``document.original_structure_set``: as the draft was routed.
* ``document.model``: the draft's model info (name, version, config_hash, structure_set, ...);
  ``document.draft_text``: the model's report as generated; ``document.study_key``.
* ``document.revision``: grows by one on every change, undo and redo (a change counter for
  autosave); ``is_modified`` is False exactly when undo/redo lead back to the state of the last
  :meth:`mark_clean` (or the freshly built document).

Edits: :meth:`edit_text`, :meth:`add_sentence`, :meth:`delete_sentence`, :meth:`move_sentence`
(reorder within a structure), :meth:`move_to_structure`, :meth:`set_keywords`, :meth:`reroute`;
each is a command (:mod:`ctrg_desktop.reports.history`) on the undo stack: :meth:`undo`,
:meth:`redo`, ``can_undo``/``can_redo``. Listeners added with :meth:`add_listener` are called
``listener(document, change)`` with a :class:`DocumentChange` after every change. The parts
(sentences, sections, text cleaning) are in :mod:`~ctrg_desktop.reports.sentences`, the diff in
:mod:`~ctrg_desktop.reports.report_diff`; their names are re-exported here.
"""

from __future__ import annotations

import copy
import datetime

from ctrg_desktop.errors import CtrgError, check_format
from ctrg_desktop.reports import history as h
from ctrg_desktop.reports.parser import _CONTINUATIONS, match_structures
from ctrg_desktop.reports.report_diff import ReportDiff, StructureDiff, diff_report
from ctrg_desktop.reports.sentences import (ORIGIN_MODEL, ORIGIN_USER, DocumentChange, Sentence, StructureSection,
                                            clean_keywords, clean_text)
from ctrg_desktop.reports.structures import StructureSet, load_structure_set

__all__ = ["FORMAT", "FORMAT_VERSION", "ORIGIN_MODEL", "ORIGIN_USER", "DocumentChange", "ReportDiff", "ReportDocument",
           "Sentence", "StructureDiff", "StructureSection", "clean_keywords", "clean_text"]

FORMAT = "ctrg-report-document"
FORMAT_VERSION = 1


class ReportDocument:
    """Editable report (module docstring). Build with :meth:`from_draft`, :meth:`empty` or :meth:`from_json`."""

    def __init__(self, structure_set: StructureSet | str = "chest_ct", *, model: dict | None = None,
                 draft_text: str = "", study_key: str = "", history_limit: int = 1000):
        try:
            chosen = structure_set if isinstance(structure_set, StructureSet) else load_structure_set(structure_set)
        except ValueError as exc:
            raise CtrgError(f"cannot load the structure set: {exc}") from exc
        self.original_structure_set: StructureSet = copy.deepcopy(chosen)
        self.structure_set: StructureSet = copy.deepcopy(chosen)
        self.structures: list[StructureSection] = [StructureSection(i, s.name, s.colour)
                                                   for i, s in enumerate(chosen.structures)]
        self.model: dict = dict(model or {})
        self.draft_text = draft_text
        self.study_key = study_key
        self.created = datetime.datetime.now().astimezone().isoformat(timespec="seconds")
        self.revision = 0
        self.history = h.UndoStack(limit=history_limit)
        self._draft: list[list[Sentence]] = [[] for _ in self.structures]
        self._next_id = 1
        self._listeners: list = []

    # ---------------------------------------------------------------------------------- building

    @classmethod
    def empty(cls, structure_set: StructureSet | str = "chest_ct", study_key: str = "") -> "ReportDocument":
        """A document with no sentences (a report written from scratch)."""
        return cls(structure_set, study_key=study_key)

    @classmethod
    def from_draft(cls, draft, structure_set: StructureSet | str | None = None,
                   study_key: str = "") -> "ReportDocument":
        """A document holding a :class:`ctrg_desktop.inference.DraftReport`'s routed sentences.

        ``structure_set`` defaults to the model's (``draft.model["structure_set"]``); its structure
        names must be the draft's. A sentence routed to several structures appears in each
        (separate ids). The draft's sentences are kept for :meth:`diff`.
        """
        chosen = structure_set or (draft.model or {}).get("structure_set") or "chest_ct"
        try:
            chosen = chosen if isinstance(chosen, StructureSet) else load_structure_set(chosen)
        except ValueError as exc:
            raise CtrgError(f"cannot load the draft's structure set: {exc}") from exc
        names = [s.name for s in draft.structures]
        if names != chosen.names:
            raise CtrgError(f"the draft's structures ({', '.join(names)}) are not those of structure set "
                            f"{chosen.name!r} ({', '.join(chosen.names)})")
        doc = cls(chosen, model=draft.model, draft_text=draft.report, study_key=study_key)
        for section, structure in zip(doc.structures, draft.structures):
            for text in structure.sentences:
                text = " ".join(str(text).split())
                if text:
                    section.sentences.append(Sentence(doc._new_id(), text, ORIGIN_MODEL, text))
        doc._draft = [[copy.copy(s) for s in section.sentences] for section in doc.structures]
        return doc

    def _new_id(self) -> str:
        sid = f"s{self._next_id}"
        self._next_id += 1
        return sid

    # ---------------------------------------------------------------------------------- reading

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.structures]

    @property
    def others(self) -> StructureSection:
        """The catch-all structure (sentences no keyword claims)."""
        return self.structures[self.structure_set.others_index]

    @property
    def draft_structures(self) -> list[list[Sentence]]:
        """Copies of the model's draft sentences per structure (empty lists for an empty document)."""
        return [[copy.copy(s) for s in sentences] for sentences in self._draft]

    def structure(self, key: int | str) -> StructureSection:
        """A structure by index or name; ``CtrgError`` when there is none."""
        return self.structures[self._index(key)]

    def _index(self, key: int | str) -> int:
        if isinstance(key, StructureSection):
            key = key.index
        if isinstance(key, bool) or not isinstance(key, (int, str)):
            raise CtrgError(f"a structure is named by its index or name, got {key!r}")
        if isinstance(key, int):
            if not 0 <= key < len(self.structures):
                raise CtrgError(f"no structure {key}: the report has {len(self.structures)}")
            return key
        try:
            return self.names.index(key)
        except ValueError:
            raise CtrgError(f"no structure {key!r}; the report has {', '.join(self.names)}") from None

    def locate(self, sentence_id: str) -> tuple[int, int]:
        """(structure index, position) of a sentence; ``CtrgError`` when absent."""
        for i, section in enumerate(self.structures):
            for p, s in enumerate(section.sentences):
                if s.id == sentence_id:
                    return i, p
        raise CtrgError(f"no sentence {sentence_id!r} in this report")

    def sentence(self, sentence_id: str) -> Sentence:
        i, p = self.locate(sentence_id)
        return self.structures[i].sentences[p]

    def keywords(self, key: int | str) -> list[str]:
        """The (edited) keywords of a structure."""
        return list(self.structure_set.structures[self._index(key)].keywords)

    def keyword_changes(self) -> dict[str, dict[str, list[str]]]:
        """Per edited structure: keywords ``added`` and ``removed`` against the original set."""
        out = {}
        for old, new in zip(self.original_structure_set.structures, self.structure_set.structures):
            added = [k for k in new.keywords if k not in old.keywords]
            removed = [k for k in old.keywords if k not in new.keywords]
            if added or removed:
                out[new.name] = {"added": added, "removed": removed}
        return out

    def structure_texts(self, with_defaults: bool = True) -> list[str]:
        """One text per structure in structure-set order; the set's default sentence where empty."""
        return [s.text or (self.structure_set.default_sentence(s.index) if with_defaults else "")
                for s in self.structures]

    def report_text(self) -> str:
        """The final report: structures joined in structure-set order, without default sentences.

        A sentence that sits in several structures (routed to each) is written once, where it first appears.
        """
        seen, out = set(), []
        for section in self.structures:
            for s in section.sentences:
                if s.text not in seen:
                    seen.add(s.text)
                    out.append(s.text)
        return " ".join(out)

    final_text = report_text

    @property
    def can_undo(self) -> bool:
        return bool(self.history.done)

    @property
    def can_redo(self) -> bool:
        return bool(self.history.undone)

    @property
    def undo_label(self) -> str:
        return self.history.done[-1].label if self.history.done else ""

    @property
    def redo_label(self) -> str:
        return self.history.undone[-1].label if self.history.undone else ""

    @property
    def is_modified(self) -> bool:
        """False when the text and keywords are those of the last :meth:`mark_clean` (or of the build)."""
        return not self.history.is_clean

    def mark_clean(self) -> None:
        """Remember the current state as saved/exported/accepted."""
        self.history.mark_clean()

    # ---------------------------------------------------------------------------------- listeners

    def add_listener(self, listener) -> None:
        """``listener(document, change: DocumentChange)`` after every change, undo and redo."""
        if listener not in self._listeners:
            self._listeners.append(listener)

    def remove_listener(self, listener) -> None:
        if listener in self._listeners:
            self._listeners.remove(listener)

    def _notify(self, kind: str, command: h.Command | None, structures: tuple[str, ...]) -> None:
        change = DocumentChange(kind, command.label if command else "", structures, self.revision)
        for listener in list(self._listeners):
            listener(self, change)

    # ---------------------------------------------------------------------------------- editing

    def _do(self, command: h.Command) -> None:
        command.apply(self)
        self.history.push(command)
        self.revision += 1
        self._notify("edit", command, command.structures(self))

    def edit_text(self, sentence_id: str, text: str, merge: bool = False) -> None:
        """Replace a sentence's text. ``merge=True`` folds this edit into the previous one when that
        was an edit of the same sentence (one undo step for a run of keystrokes)."""
        sentence = self.sentence(sentence_id)
        text = clean_text(text)
        if text == sentence.text:
            return
        last = self.history.done[-1] if self.history.done else None
        if merge and isinstance(last, h.EditText) and last.sentence_id == sentence_id and not self.history.undone:
            last.new = text
            if self.history.is_clean:
                self.history.clean = None  # the clean state was the one before this keystroke
            last.apply(self)
            self.revision += 1
            self._notify("edit", last, last.structures(self))
            return
        self._do(h.EditText(sentence_id, sentence.text, text))

    def add_sentence(self, structure: int | str, text: str, position: int | None = None) -> str:
        """Add a user sentence to a structure (at the end by default); returns its id."""
        index = self._index(structure)
        size = len(self.structures[index].sentences)
        position = size if position is None else self._position(position, size + 1)
        sentence = Sentence(self._new_id(), clean_text(text), ORIGIN_USER, None)
        self._do(h.AddSentence(index, position, sentence.to_json()))
        return sentence.id

    def delete_sentence(self, sentence_id: str) -> None:
        index, position = self.locate(sentence_id)
        sentence = self.structures[index].sentences[position]
        self._do(h.DeleteSentence(index, position, sentence.to_json()))

    def move_sentence(self, sentence_id: str, position: int) -> None:
        """Reorder within the sentence's structure: it ends up at ``position`` (negative counts from the end)."""
        self.move_to_structure(sentence_id, self.locate(sentence_id)[0], position)

    def move_to_structure(self, sentence_id: str, structure: int | str, position: int | None = None) -> None:
        """Move a sentence to ``structure`` (at the end by default, else to index ``position``)."""
        source = list(self.locate(sentence_id))
        target_index = self._index(structure)
        size = len(self.structures[target_index].sentences) - (target_index == source[0])
        position = size if position is None else self._position(position, size + 1)
        if [target_index, position] == source:
            return
        self._do(h.MoveSentence(sentence_id, source, [target_index, position]))

    def set_keywords(self, structure: int | str, keywords) -> None:
        """Replace a structure's routing keywords (in the document's structure set copy)."""
        index = self._index(structure)
        new = clean_keywords(keywords)
        old = list(self.structure_set.structures[index].keywords)
        if new != old:
            self._do(h.SetKeywords(index, old, new))

    def reroute(self) -> int:
        """Route every sentence again with the edited keywords (as the parser routes a report:
        keyword hits, else continuing the previous sentence, else ``others``). Sentences are taken
        in report order (structure by structure) and identical ones count once; a sentence routed
        to several structures is copied into each (the copy already there keeps its id). Returns
        how many sentences changed place (0: nothing to do, no undo step)."""
        before = self._layout()
        routed: list[list[Sentence]] = [[] for _ in self.structures]
        twins = {(i, s.text): s.id for i, sec in enumerate(self.structures) for s in reversed(sec.sentences)}
        used: set[str] = set()
        previous: tuple[int, ...] | None = None
        previous_text = ""
        seen: set[str] = set()
        for home, section in enumerate(self.structures):
            for sentence in section.sentences:
                if sentence.text in seen:
                    continue
                seen.add(sentence.text)
                hits = tuple(match_structures(sentence.text, self.structure_set))
                if not hits:
                    continues = previous is not None and (sentence.text.lower().startswith(_CONTINUATIONS)
                                                          or previous_text.rstrip().endswith(","))
                    hits = previous if continues else (self.structure_set.others_index,)
                keeper = home if home in hits else hits[0]
                for target in hits:
                    if target == keeper:
                        routed[target].append(sentence)
                        used.add(sentence.id)
                        continue
                    sid = twins.get((target, sentence.text))
                    sid = sid if sid and sid not in used and sid != sentence.id else ""
                    routed[target].append(Sentence(sid, sentence.text, sentence.origin, sentence.draft_text))
                    used.add(sid)
                previous, previous_text = hits, sentence.text
        for sentences in routed:
            for s in sentences:
                if not s.id:
                    s.id = self._new_id()
        after = [[s.to_json() for s in sentences] for sentences in routed]
        if after == before:
            return 0
        moved = set().union(*({s["id"] for s in b} ^ {s["id"] for s in a} for b, a in zip(before, after)))
        self._do(h.Reroute(before, after))
        return max(len(moved), 1)

    def undo(self) -> bool:
        """Undo the last edit; False when there is none."""
        if not self.history.done:
            return False
        command = self.history.pop_undo()
        touched = command.structures(self)
        command.revert(self)
        self.revision += 1
        self._notify("undo", command, touched or command.structures(self))
        return True

    def redo(self) -> bool:
        """Redo the last undone edit; False when there is none."""
        if not self.history.undone:
            return False
        command = self.history.pop_redo()
        command.apply(self)
        self.revision += 1
        self._notify("redo", command, command.structures(self))
        return True

    @staticmethod
    def _position(position: int, size: int) -> int:
        """A list index in ``range(size)``; negative counts from the end."""
        if isinstance(position, bool) or not isinstance(position, int):
            raise CtrgError(f"a position is a whole number, got {position!r}")
        p = position + size if position < 0 else position
        if not 0 <= p < size:
            raise CtrgError(f"position {position} is outside 0..{size - 1}")
        return p

    # ------------------------------------------------------------------- primitives used by commands

    def _sentence(self, sentence_id: str) -> Sentence:
        return self.sentence(sentence_id)

    def _insert(self, structure: int, position: int, sentence: Sentence) -> None:
        self.structures[structure].sentences.insert(position, sentence)

    def _remove(self, sentence_id: str) -> Sentence:
        i, p = self.locate(sentence_id)
        return self.structures[i].sentences.pop(p)

    def _set_keywords(self, structure: int, keywords: list[str]) -> None:
        self.structure_set.structures[structure].keywords = list(keywords)

    def _layout(self) -> list[list[dict]]:
        return [[s.to_json() for s in section.sentences] for section in self.structures]

    def _set_layout(self, layout: list[list[dict]]) -> None:
        for section, sentences in zip(self.structures, layout):
            section.sentences = [Sentence.from_json(s) for s in sentences]

    # ---------------------------------------------------------------------------------- diff

    def diff(self) -> ReportDiff:
        """The edited report against the model's draft (:func:`~ctrg_desktop.reports.report_diff.diff_report`)."""
        return diff_report(self.structures, self._draft, self.keyword_changes())

    # ---------------------------------------------------------------------------------- JSON

    def to_json(self) -> dict:
        """Everything, history included (JSON-ready): :meth:`from_json` restores an equal document."""
        return {"format": FORMAT, "format_version": FORMAT_VERSION, "created": self.created,
                "study_key": self.study_key, "model": copy.deepcopy(self.model), "draft_text": self.draft_text,
                "structure_set": self.structure_set.to_json(),
                "original_structure_set": self.original_structure_set.to_json(),
                "draft": [[s.to_json() for s in ss] for ss in self._draft],
                "structures": [{"name": s.name, "sentences": [x.to_json() for x in s.sentences]}
                               for s in self.structures],
                "next_id": self._next_id, "revision": self.revision,
                "history": self.history.to_json()}

    @classmethod
    def from_json(cls, data: dict) -> "ReportDocument":
        """Rebuild a document from :meth:`to_json`; ``CtrgError`` when the data is not a valid document."""
        check_format(data, FORMAT, FORMAT_VERSION, "this is a ctrg report document")
        try:
            edited = StructureSet.from_json(data["structure_set"])
            original = StructureSet.from_json(data["original_structure_set"])
            history = h.UndoStack.from_json(data.get("history", {}))
            doc = cls(original, model=data.get("model") or {}, draft_text=data.get("draft_text", ""),
                      study_key=data.get("study_key", ""), history_limit=history.limit)
            if edited.names != original.names:
                raise CtrgError("the edited structure set names other structures than the original")
            doc.structure_set = edited
            structures = data["structures"]
            if [s["name"] for s in structures] != doc.names or len(data["draft"]) != len(doc.names):
                raise CtrgError("the document's structures do not match its structure set")
            for section, item in zip(doc.structures, structures):
                section.sentences = [Sentence.from_json(s) for s in item["sentences"]]
            doc._draft = [[Sentence.from_json(s) for s in ss] for ss in data["draft"]]
            doc._next_id = int(data["next_id"])
            doc.revision = int(data.get("revision", 0))
            doc.created = data.get("created", doc.created)
            doc.history = history
        except (KeyError, TypeError, ValueError) as exc:
            raise CtrgError(f"malformed report document: {exc}") from exc
        ids = [s.id for sec in doc.structures for s in sec.sentences]
        if len(set(ids)) != len(ids):
            raise CtrgError("malformed report document: duplicate sentence ids")
        return doc

    def __eq__(self, other) -> bool:
        if not isinstance(other, ReportDocument):
            return NotImplemented
        mine, theirs = self.to_json(), other.to_json()
        return mine == theirs

    __hash__ = None  # mutable

    def __repr__(self) -> str:
        count = sum(len(s.sentences) for s in self.structures)
        return (f"ReportDocument({self.structure_set.name!r}, {count} sentences, revision {self.revision}, "
                f"{len(self.history.done)} undo steps)")
