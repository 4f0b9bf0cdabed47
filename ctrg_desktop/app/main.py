"""``ctrg-desktop``: start the GUI, optionally on a study, optionally render a screenshot and exit."""

from __future__ import annotations

import argparse
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if not os.environ.get("DISPLAY") and not os.environ.get("WAYLAND_DISPLAY") and sys.platform.startswith("linux"):
        print("ctrg-desktop: error: no display (run under a desktop session or xvfb-run)", file=sys.stderr)
        return 2
    from PySide6 import QtWidgets

    from ctrg_desktop.app.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    window = MainWindow()
    window.show()
    app.processEvents()
    ok = True
    if args.demo:
        ok = window.open_demo()
    elif args.study:
        ok = window.open_study(args.study, args.series)
    if ok and args.labels:
        ok = window.add_label_map_file(args.labels)
    if args.preset:
        if args.preset not in window.state.presets:
            print(f"ctrg-desktop: error: unknown preset {args.preset!r}", file=sys.stderr)
            return 2
        window.set_preset(args.preset)
    if args.layout:
        window.set_layout(args.layout)
    if args.screenshot:
        return _screenshot(app, window, args.screenshot, ok)
    return app.exec()


def _screenshot(app, window, path: Path, ok: bool) -> int:
    for _ in range(3):
        app.processEvents()
    window.render_all()
    window.save_screenshot(path)
    if not ok:
        print(f"ctrg-desktop: error: {window.last_error}", file=sys.stderr)
    window.close()
    return 0 if ok else 2


if __name__ == "__main__":
    sys.exit(main())
