"""Settings read from JSON/TOML into a dataclass: an object holding only the dataclass's fields."""

from __future__ import annotations

from dataclasses import fields


def check_fields(data, cls, where: str, list_known: bool = False) -> dict:
    """``data`` when it is a dict of ``cls``'s field names; otherwise ``ValueError`` naming
    ``where`` (``list_known``: the message lists the fields there are)."""
    if not isinstance(data, dict):
        raise ValueError(f"{where} must be an object, got {type(data).__name__}")
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(data) - known)
    if unknown:
        hint = f"; known: {sorted(known)}" if list_known else ""
        raise ValueError(f"{where} has unknown field(s) {unknown}{hint}")
    return data
