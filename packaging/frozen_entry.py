"""Entry point of the frozen (PyInstaller) app: one executable, several roles.

- ``multiprocessing`` children (the drafting worker is spawned, and so is the resource tracker
  of its shared memory): ``freeze_support()`` runs them and exits, before anything else.
- ``EXE -m MODULE ARGS`` / ``EXE -c CODE ARGS`` (with optional ``-u``/``-B``/... flags first): the
  app re-runs ``sys.executable`` the way a source install runs Python -- ``-m ctrg_desktop.cli``
  (training wizard), ``-m torch.distributed.run`` (torchrun and its workers), ``-c`` (GPU probe).
- called as ``ctrg`` (the symlink next to the executable): the command-line interface.
- otherwise: the desktop app (``ctrg-desktop``).
"""

from __future__ import annotations

import multiprocessing
import os
import sys

#: interpreter flags accepted (and ignored, except -u) before -m / -c
PYTHON_FLAGS = frozenset("uBEsOIqS")
CLI_NAMES = ("ctrg",)


def choose(argv: list[str]) -> tuple[str, str | None, list[str], bool]:
    """``(role, target, argv, unbuffered)`` for a command line; role is "gui", "cli", "module" or
    "code"; ``argv`` is what ``sys.argv`` becomes."""
    args = list(argv[1:])
    flags: set[str] = set()
    while args and len(args[0]) > 1 and args[0][0] == "-" and args[0][1:] and set(args[0][1:]) <= PYTHON_FLAGS:
        flags.update(args.pop(0)[1:])
    if args and args[0] in ("-m", "-c") and len(args) >= 2:
        role = "module" if args[0] == "-m" else "code"
        target, rest = args[1], args[2:]
        return role, target, [target if role == "module" else "-c", *rest], "u" in flags
    base = os.path.basename(argv[0] if argv else "")
    name = base[:-4] if base.lower().endswith(".exe") else base
    role = "cli" if name in CLI_NAMES else "gui"
    return role, None, list(argv), False


def _unbuffer() -> None:
    for stream in (sys.stdout, sys.stderr):
        if stream is not None and hasattr(stream, "reconfigure"):
            stream.reconfigure(line_buffering=True, write_through=True)


def main() -> int:
    multiprocessing.freeze_support()  # a spawned child runs here and exits
    role, target, argv, unbuffered = choose(sys.argv)
    if unbuffered or os.environ.get("PYTHONUNBUFFERED"):
        _unbuffer()  # the frozen interpreter ignores PYTHON* variables
    sys.argv = argv
    if role == "module":
        import importlib.util
        import runpy

        if importlib.util.find_spec(target) is None:
            print(f"{os.path.basename(sys.executable)}: error: module {target!r} is not part of this packaged app",
                  file=sys.stderr)
            return 1
        runpy.run_module(target, run_name="__main__", alter_sys=True)
        return 0
    if role == "code":
        exec(compile(target, "<string>", "exec"), {"__name__": "__main__", "__builtins__": __builtins__})
        return 0
    if role == "cli":
        from ctrg_desktop.cli import main as cli_main

        return cli_main()
    from ctrg_desktop.app.main import main as gui_main

    return gui_main()


if __name__ == "__main__":
    sys.exit(main())
