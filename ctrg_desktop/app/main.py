"""``ctrg-desktop``: start the GUI, optionally on a study, optionally draft a report or open a
saved draft, optionally render a screenshot and exit.

The application runs under a qasync event loop (asyncio on Qt's loop): the start-up steps below
are one coroutine that awaits the study load and the draft while the window stays live.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
from pathlib import Path

from ctrg_desktop import __version__
from ctrg_desktop.imaging.display import WINDOW_PRESETS

LAYOUT_NAMES = ("2x2", "1x3", "single")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctrg-desktop", description="Chest CT viewer and report drafting")
    parser.add_argument("study", nargs="?", type=Path, help="a CT file, DICOM folder or zip")
    parser.add_argument("--version", action="version", version=f"ctrg-desktop {__version__}")
    parser.add_argument("--demo", action="store_true", help="open the demo study")
    parser.add_argument("--series", help="SeriesInstanceUID when the folder holds several")
    parser.add_argument("--preset", help=f"window preset: {', '.join(WINDOW_PRESETS)}")
    parser.add_argument("--layout", choices=LAYOUT_NAMES, help="view layout")
    parser.add_argument("--labels", type=Path, help="a label map on the study's grid, shown as an overlay")
    parser.add_argument("--screenshot", type=Path, help="write a PNG of the window and exit")
    parser.add_argument("--model", help="model-zoo name or folder used for drafting (default: demo)")
    parser.add_argument("--device", choices=("auto", "cuda", "cpu"), help="where the model runs (default auto)")
    parser.add_argument("--draft", action="store_true", help="draft a report of the study")
    parser.add_argument("--structure", help="with --draft / --open-draft: show this structure's evidence "
                        "(default: the first structure the report mentions)")
    parser.add_argument("--open-draft", type=Path, metavar="REPORT_JSON",
                        help="review a saved draft (report.json + its .attention.npy) without a model")
    parser.add_argument("--segment", action="store_true", help="with --draft / --open-draft: segment the shown "
                        "structure with LiteMedSAM, prompted by its top patches on the axial slice of its best patch")
    parser.add_argument("--propagate", action="store_true",
                        help="with --segment: grow that mask through the neighbouring slices")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux"):
        return _fail("no display (run under a desktop session or xvfb-run)")
    if args.draft and args.open_draft:
        return _fail("--draft and --open-draft exclude each other")
    if args.draft and not (args.study or args.demo):
        return _fail("--draft needs a study (STUDY or --demo)")
    if (args.segment or args.propagate) and not (args.draft or args.open_draft):
        return _fail("--segment and --propagate need a report (--draft or --open-draft)")
    import qasync
    from PySide6 import QtWidgets

    from ctrg_desktop.app.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    loop = qasync.QEventLoop(app)
    asyncio.set_event_loop(loop)
    window = MainWindow()
    window.show()
    app.processEvents()
    try:
        with loop:
            try:
                code = loop.run_until_complete(_start(window, args))
            except RuntimeError as exc:  # the window was closed during start-up
                if "stopped before Future completed" not in str(exc):
                    raise
                return 0
            if code is not None:  # --screenshot, or bad arguments: nothing was asked of the user
                window.confirm_close = False
                window.close()
                return code
            window.drafting.prewarm = True  # from now on, opening a study loads the model ahead
            window.segmentation.prewarm = True  # ... and the segmenter, with the slice in view embedded
            if window.volume is not None:  # the study opened at start-up
                window.segmentation.warm_up()
            return loop.run_forever()
    finally:
        asyncio.set_event_loop(None)


def _fail(message: str) -> int:
    print(f"ctrg-desktop: error: {message}", file=sys.stderr)
    return 2


async def _open(window, path, series=None) -> bool:
    from ctrg_desktop.app.jobs import wait_for_signal

    return await wait_for_signal(window.load_done, lambda: window.start_loading(path, series), check_started=False)


async def _start(window, args) -> int | None:
    """Start-up steps; an exit code ends the program (screenshot mode, bad arguments), ``None``
    hands over to the interactive event loop."""
    from ctrg_desktop.errors import CtrgError

    ok = True
    if args.demo:
        from ctrg_desktop.data.demo import ensure_demo_study

        try:
            ok = await _open(window, ensure_demo_study().nifti)
        except CtrgError as exc:
            window.show_error(str(exc))
            ok = False
    elif args.study:
        ok = await _open(window, args.study, args.series)
    if ok and args.labels:
        ok = window.add_label_map_file(args.labels)
    if args.preset:
        if args.preset not in window.state.presets:
            return _fail(f"unknown preset {args.preset!r}")
        window.set_preset(args.preset)
    if args.layout:
        window.set_layout(args.layout)
    drafting = window.drafting
    if args.device:
        drafting.set_device(args.device)
    if args.model and not drafting.set_model(args.model):
        ok = False
    if ok and args.open_draft:
        draft = drafting.read_draft(args.open_draft)
        ok = draft is not None
        if ok and window.volume is None:  # no STUDY given: the one the draft names
            source = drafting.study_of(draft, args.open_draft)
            ok = source is not None and await _open(window, source)
        ok = ok and drafting.review(draft, args.open_draft)
    elif ok and args.draft:
        ok = await drafting.draft_async()
    if ok and drafting.draft is not None and (args.structure or args.screenshot or args.segment or args.propagate):
        try:
            drafting.show_structure(args.structure)
        except KeyError as exc:
            window.show_error(exc.args[0])
            ok = False
    if ok and (args.segment or args.propagate):
        ok = await window.segmentation.segment_structure_async()
        if ok and args.propagate:
            ok = await window.segmentation.propagate_async()
    if args.screenshot:
        return _screenshot(window, args.screenshot, ok)
    return None


def _screenshot(window, path: Path, ok: bool) -> int:
    from PySide6 import QtWidgets

    for _ in range(3):
        QtWidgets.QApplication.processEvents()
    window.render_all()
    window.save_screenshot(path)
    if not ok:
        print(f"ctrg-desktop: error: {window.last_error}", file=sys.stderr)
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
