"""The plain parts of a report document: a sentence (with its origin), a structure's section, the
change a listener is told of, and the text and keyword cleaning every edit goes through."""

from __future__ import annotations

from dataclasses import dataclass, field

from ctrg_desktop.errors import CtrgError

ORIGIN_MODEL = "model"
ORIGIN_USER = "user"
ORIGINS = (ORIGIN_MODEL, ORIGIN_USER)


@dataclass
class Sentence:
    """One sentence of a structure: a stable id, the text, and where it came from."""

    id: str
    text: str
    origin: str = ORIGIN_USER
    draft_text: str | None = None  #: the model's original text (model sentences only)

    @property
    def edited(self) -> bool:
        """True for a model sentence whose text the user changed."""
        return self.origin == ORIGIN_MODEL and self.text != self.draft_text

    def to_json(self) -> dict:
        return {"id": self.id, "text": self.text, "origin": self.origin, "draft_text": self.draft_text}

    @classmethod
    def from_json(cls, data: dict) -> "Sentence":
        try:
            sentence = cls(id=str(data["id"]), text=str(data["text"]), origin=data.get("origin", ORIGIN_USER),
                           draft_text=data.get("draft_text"))
        except (KeyError, TypeError) as exc:
            raise CtrgError(f"malformed sentence {str(data)[:80]!r}: missing {exc}") from exc
        if sentence.origin not in ORIGINS:
            raise CtrgError(f"sentence {sentence.id} has unknown origin {sentence.origin!r}")
        return sentence


@dataclass
class StructureSection:
    """One structure of the report with its ordered sentences."""

    index: int
    name: str
    colour: str
    sentences: list[Sentence] = field(default_factory=list)

    @property
    def text(self) -> str:
        """The sentences joined with single spaces ("" when there are none)."""
        return " ".join(s.text for s in self.sentences)


@dataclass(frozen=True)
class DocumentChange:
    """What a listener is told: ``kind`` "edit", "undo", "redo" or "restore", the command's label,
    the structures it touched and the document's new revision."""

    kind: str
    label: str
    structures: tuple[str, ...]
    revision: int


def clean_text(text: str) -> str:
    """Whitespace (line breaks included) collapsed to single spaces; ``CtrgError`` when empty."""
    if not isinstance(text, str):
        raise CtrgError(f"a sentence is text, got {type(text).__name__}")
    cleaned = " ".join(text.split())
    if not cleaned:
        raise CtrgError("a sentence cannot be empty (delete it instead)")
    return cleaned


def clean_keywords(keywords) -> list[str]:
    """Keywords as given (leading/trailing spaces are meaningful), de-duplicated; no empty ones."""
    if isinstance(keywords, str):
        raise CtrgError("keywords are a list of strings, not one string")
    out = []
    for k in keywords:
        if not isinstance(k, str) or not k.strip():
            raise CtrgError(f"a keyword must be non-empty text, got {k!r}")
        if k not in out:
            out.append(k)
    return out
