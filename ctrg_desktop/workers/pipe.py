"""What travels over a worker's pipe: masks packed to bits, errors as one readable line, and the
child's request loop (:func:`answer_requests`; the protocol: :mod:`ctrg_desktop.workers.process`)."""

from __future__ import annotations

import numpy as np

from ctrg_desktop.errors import CtrgError


def pack(mask: np.ndarray) -> tuple[tuple[int, ...], bytes]:
    """A bool array as (shape, packed bits) for the pipe."""
    mask = np.asarray(mask, dtype=bool)
    return tuple(mask.shape), np.packbits(mask, axis=None).tobytes()


def unpack(packed) -> np.ndarray:
    shape, bits = packed
    count = int(np.prod(shape))
    return np.unpackbits(np.frombuffer(bits, np.uint8), count=count).astype(bool).reshape(shape)


def one_line(exc: BaseException) -> str:
    """An exception as one readable line (user errors as they are, others with their type)."""
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, CtrgError) else f"{type(exc).__name__}: {text}"


def answer_requests(conn, handlers: dict, ready: dict | None = None) -> None:
    """The child's loop: send ``("ready", ready)`` when given, then answer ``(kind, payload)``
    requests with ``handlers[kind](payload)`` until "quit" or the pipe closes: ("done", result),
    ("cancelled", result) for a result dict with ``cancelled`` set, or ("error", one line). A
    handler sends its notes (progress, stages, slices) itself, as ``conn.send((name, data))``
    before it returns."""
    if ready is not None:
        conn.send(("ready", ready))
    while True:
        try:
            kind, payload = conn.recv()
        except (EOFError, OSError):
            return
        if kind == "quit":
            return
        try:
            handler = handlers.get(kind)
            if handler is None:
                raise RuntimeError(f"unknown request {kind!r}")
            result = handler(payload)
            conn.send(("cancelled" if isinstance(result, dict) and result.get("cancelled") else "done", result))
        except Exception as exc:  # noqa: BLE001 -- every failure goes back as one line
            conn.send(("error", one_line(exc)))
