"""The tensor table of a GGUF file, read from its header only (no torch, no weights)."""

from __future__ import annotations

import mmap
import struct

from ctrg_desktop.model.llm_base import BaseModelError

_GGUF_SCALARS = {0: "B", 1: "b", 2: "H", 3: "h", 4: "I", 5: "i", 6: "f", 7: "?", 10: "Q", 11: "q", 12: "d"}


def gguf_tensor_shapes(path) -> dict[str, tuple[int, ...]]:
    """Tensor name -> shape (GGUF order: input features first) read from a GGUF file's header only."""
    with open(path, "rb") as f, mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ) as buf:
        pos = 0

        def take(fmt: str):
            nonlocal pos
            values = struct.unpack_from("<" + fmt, buf, pos)
            pos += struct.calcsize("<" + fmt)
            return values if len(values) > 1 else values[0]

        def skip_value(kind: int, count: int = 1) -> None:
            nonlocal pos
            if kind in _GGUF_SCALARS:
                pos += struct.calcsize("<" + _GGUF_SCALARS[kind]) * count
            elif kind == 8:
                for _ in range(count):
                    pos += 8 + take("Q")
            elif kind == 9:
                for _ in range(count):
                    inner, n = take("IQ")
                    skip_value(inner, n)
            else:
                raise ValueError(f"unknown GGUF value type {kind}")

        if bytes(buf[:4]) != b"GGUF":
            raise BaseModelError(f"{path} is not a GGUF file")
        pos = 4
        version, tensors, kvs = take("IQQ")
        if version < 2:
            raise BaseModelError(f"{path}: GGUF version {version} is too old")
        for _ in range(kvs):
            pos += 8 + take("Q")  # the key
            skip_value(take("I"))
        shapes = {}
        for _ in range(tensors):
            name = bytes(buf[pos + 8:pos + 8 + take("Q")]).decode()
            pos += len(name.encode())
            dims = take("I")
            shape = take("Q" * dims) if dims > 1 else (take("Q"),)
            pos += 4 + 8  # type, offset
            shapes[name] = tuple(int(d) for d in shape)
    return shapes
