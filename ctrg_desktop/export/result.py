"""What every exporter returns."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path


@dataclass
class ExportResult:
    """The file written (``files`` lists all of them when there are several) and what to tell the user."""

    path: Path
    warnings: list[str] = field(default_factory=list)
    files: list[Path] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.path = Path(self.path)
        if not self.files:
            self.files = [self.path]
