"""Undo/redo for :class:`ctrg_desktop.reports.document.ReportDocument`: one command per edit.

Every command holds all it needs to apply and revert itself (sentence ids, positions, the old
and new text or keywords) and serialises to a JSON dict (``{"op": ..., ...}``), so a document's
history survives a save/restore. Commands change the document only through its primitives
``_insert(structure, position, sentence)``, ``_remove(sentence_id)``, ``_sentence(id)``,
``_set_keywords(structure, keywords)`` and ``_set_layout(layout)``.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass, field

from ctrg_desktop.errors import CtrgError


@dataclass
class Command:
    """Base: ``apply(doc)`` performs the edit, ``revert(doc)`` undoes it exactly."""

    op = ""

    def apply(self, doc) -> None:
        raise NotImplementedError

    def revert(self, doc) -> None:
        raise NotImplementedError

    @property
    def label(self) -> str:
        """Short text for the GUI's "Undo ..." entry."""
        return self.op.replace("_", " ")

    def structures(self, doc) -> tuple[str, ...]:
        """Names of the structures the command touches (for change listeners)."""
        return ()

    def to_json(self) -> dict:
        return {"op": self.op, **copy.deepcopy(self.__dict__)}


@dataclass
class EditText(Command):
    op = "edit_text"
    sentence_id: str
    old: str
    new: str

    def apply(self, doc) -> None:
        doc._sentence(self.sentence_id).text = self.new

    def revert(self, doc) -> None:
        doc._sentence(self.sentence_id).text = self.old

    @property
    def label(self) -> str:
        return "edit sentence"

    def structures(self, doc) -> tuple[str, ...]:
        return (doc.structures[doc.locate(self.sentence_id)[0]].name,)


@dataclass
class AddSentence(Command):
    op = "add_sentence"
    structure: int
    position: int
    sentence: dict  #: Sentence.to_json()

    def apply(self, doc) -> None:
        from ctrg_desktop.reports.document import Sentence

        doc._insert(self.structure, self.position, Sentence.from_json(self.sentence))

    def revert(self, doc) -> None:
        doc._remove(self.sentence["id"])

    @property
    def label(self) -> str:
        return "add sentence"

    def structures(self, doc) -> tuple[str, ...]:
        return (doc.structures[self.structure].name,)


@dataclass
class DeleteSentence(Command):
    op = "delete_sentence"
    structure: int
    position: int
    sentence: dict

    def apply(self, doc) -> None:
        doc._remove(self.sentence["id"])

    def revert(self, doc) -> None:
        from ctrg_desktop.reports.document import Sentence

        doc._insert(self.structure, self.position, Sentence.from_json(self.sentence))

    @property
    def label(self) -> str:
        return "delete sentence"

    def structures(self, doc) -> tuple[str, ...]:
        return (doc.structures[self.structure].name,)


@dataclass
class MoveSentence(Command):
    """Move within a structure (reorder) or to another structure; positions are list indices."""

    op = "move_sentence"
    sentence_id: str
    source: list[int]   #: [structure, position] before the move
    target: list[int]   #: [structure, position] after the move

    def apply(self, doc) -> None:
        sentence = doc._remove(self.sentence_id)
        doc._insert(self.target[0], self.target[1], sentence)

    def revert(self, doc) -> None:
        sentence = doc._remove(self.sentence_id)
        doc._insert(self.source[0], self.source[1], sentence)

    @property
    def label(self) -> str:
        return "reorder sentence" if self.source[0] == self.target[0] else "move sentence"

    def structures(self, doc) -> tuple[str, ...]:
        names = [doc.structures[self.source[0]].name, doc.structures[self.target[0]].name]
        return tuple(dict.fromkeys(names))


@dataclass
class SetKeywords(Command):
    op = "set_keywords"
    structure: int
    old: list[str]
    new: list[str]

    def apply(self, doc) -> None:
        doc._set_keywords(self.structure, self.new)

    def revert(self, doc) -> None:
        doc._set_keywords(self.structure, self.old)

    @property
    def label(self) -> str:
        return "edit keywords"

    def structures(self, doc) -> tuple[str, ...]:
        return (doc.structures[self.structure].name,)


@dataclass
class Reroute(Command):
    """Replace the whole sentence layout (per structure, a list of Sentence dicts)."""

    op = "reroute"
    before: list[list[dict]]
    after: list[list[dict]]

    def apply(self, doc) -> None:
        doc._set_layout(self.after)

    def revert(self, doc) -> None:
        doc._set_layout(self.before)

    @property
    def label(self) -> str:
        return "re-route sentences"

    def structures(self, doc) -> tuple[str, ...]:
        return tuple(doc.structures[i].name for i in range(len(self.before))
                     if [s["id"] for s in self.before[i]] != [s["id"] for s in self.after[i]])


COMMANDS: dict[str, type[Command]] = {c.op: c for c in (EditText, AddSentence, DeleteSentence, MoveSentence,
                                                         SetKeywords, Reroute)}


def command_from_json(data: dict) -> Command:
    """Rebuild a command from :meth:`Command.to_json`; ``CtrgError`` when malformed."""
    try:
        fields = dict(data)
        cls = COMMANDS[fields.pop("op")]
        return cls(**fields)
    except (KeyError, TypeError) as exc:
        raise CtrgError(f"malformed edit history entry {str(data)[:80]!r}: {exc}") from exc


@dataclass
class UndoStack:
    """Done and undone commands; a new command clears the redo side. ``limit`` caps the undo depth.

    ``clean`` is the undo depth at which the document was last marked clean (saved/exported), or
    None when that state can no longer be reached by undo/redo.
    """

    limit: int = 1000
    done: list[Command] = field(default_factory=list)
    undone: list[Command] = field(default_factory=list)
    clean: int | None = 0

    @property
    def is_clean(self) -> bool:
        return self.clean == len(self.done)

    def mark_clean(self) -> None:
        self.clean = len(self.done)

    def push(self, command: Command) -> None:
        if self.clean is not None and self.clean > len(self.done):
            self.clean = None  # the clean state was on the undone branch, now dropped
        self.done.append(command)
        self.undone.clear()
        extra = len(self.done) - self.limit
        if extra > 0:
            del self.done[:extra]
            if self.clean is not None:
                self.clean = self.clean - extra if self.clean >= extra else None

    def pop_undo(self) -> Command:
        command = self.done.pop()
        self.undone.append(command)
        return command

    def pop_redo(self) -> Command:
        command = self.undone.pop()
        self.done.append(command)
        return command

    def to_json(self) -> dict:
        return {"undo": [c.to_json() for c in self.done], "redo": [c.to_json() for c in self.undone],
                "limit": self.limit, "clean": self.clean}

    @classmethod
    def from_json(cls, data: dict) -> "UndoStack":
        clean = data.get("clean", 0)
        return cls(limit=int(data.get("limit", 1000)), done=[command_from_json(c) for c in data.get("undo", [])],
                   undone=[command_from_json(c) for c in data.get("redo", [])],
                   clean=None if clean is None else int(clean))
