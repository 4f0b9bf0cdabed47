"""Structure sets: the anatomical structures a model observes and the keywords that route
report sentences to them. Stored as JSON in ``resources/structures/`` (user-editable)."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from ctrg_desktop.resources import resources_dir


@dataclass
class Structure:
    """One anatomical structure: display name, colour (#rrggbb) and lower-case-insensitive keywords."""

    name: str
    keywords: list[str]
    colour: str = "#90a4ae"


@dataclass
class StructureSet:
    """An ordered list of structures; the one named ``others_name`` catches unmatched sentences."""

    name: str
    structures: list[Structure]
    default_text: str = "No abnormality found in {structure}."
    others_name: str = "others"
    description: str = ""
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        names = [s.name for s in self.structures]
        if len(set(names)) != len(names):
            raise ValueError(f"structure set {self.name!r} has duplicate structure names")
        if self.others_name not in names:
            raise ValueError(f"structure set {self.name!r} needs a catch-all structure named "
                             f"{self.others_name!r}")
        for s in self.structures:
            if any(not k.strip() for k in s.keywords):
                raise ValueError(f"structure {s.name!r} has an empty keyword")

    @property
    def names(self) -> list[str]:
        return [s.name for s in self.structures]

    @property
    def others_index(self) -> int:
        return self.names.index(self.others_name)

    def __len__(self) -> int:
        return len(self.structures)

    def default_sentence(self, index: int) -> str:
        return self.default_text.format(structure=self.structures[index].name)

    def to_json(self) -> dict:
        return {"name": self.name, "description": self.description,
                "default_text": self.default_text, "others_name": self.others_name,
                "structures": [asdict(s) for s in self.structures]}

    def save(self, path: Path) -> None:
        path.write_text(json.dumps(self.to_json(), indent=2) + "\n")

    @classmethod
    def from_json(cls, data: dict) -> "StructureSet":
        try:
            structures = [Structure(name=s["name"], keywords=list(s["keywords"]),
                                    colour=s.get("colour", "#90a4ae")) for s in data["structures"]]
            return cls(name=data["name"], structures=structures,
                       default_text=data.get("default_text", cls.default_text),
                       others_name=data.get("others_name", "others"),
                       description=data.get("description", ""))
        except (KeyError, TypeError) as exc:
            raise ValueError(f"not a structure set: missing or malformed field {exc}") from exc


def load_structure_set(name_or_path: str | Path = "chest_ct") -> StructureSet:
    """A bundled set by name (``chest_ct``, ``brain_ct``) or a JSON file path."""
    path = Path(name_or_path)
    if not path.suffix:
        path = resources_dir() / "structures" / f"{name_or_path}.json"
    if not path.is_file():
        raise ValueError(f"no structure set at {path}")
    try:
        data = json.loads(path.read_text())
    except json.JSONDecodeError as exc:
        raise ValueError(f"structure set {path.name} is not valid JSON: {exc}") from exc
    return StructureSet.from_json(data)
