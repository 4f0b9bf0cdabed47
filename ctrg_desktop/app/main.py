"""``ctrg-desktop``: start the GUI, optionally on a study, optionally render a screenshot and exit."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from ctrg_desktop import __version__


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctrg-desktop", description="Chest CT viewer and report drafting")
    parser.add_argument("study", nargs="?", type=Path, help="a CT file, DICOM folder or zip")
    parser.add_argument("--version", action="version", version=f"ctrg-desktop {__version__}")
    parser.add_argument("--demo", action="store_true", help="open the demo study")
    parser.add_argument("--series", help="SeriesInstanceUID when the folder holds several")
    parser.add_argument("--preset", help="window preset: lung, mediastinum, bone, abdomen, brain")
    parser.add_argument("--screenshot", type=Path, help="write a PNG of the window and exit")
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    from PySide6 import QtCore, QtWidgets

    from ctrg_desktop.app.main_window import MainWindow

    app = QtWidgets.QApplication.instance() or QtWidgets.QApplication(sys.argv[:1])
    window = MainWindow()
    window.show()
    ok = True
    if args.demo:
        ok = window.open_demo()
    elif args.study:
        ok = window.open_study(args.study, args.series)
    if args.preset:
        window.preview.presets.setCurrentText(args.preset)
    if args.screenshot:
        app.processEvents()
        QtCore.QThread.msleep(50)
        app.processEvents()
        window.grab().save(str(args.screenshot))
        if not ok:
            print(f"ctrg-desktop: error: {window.last_error}", file=sys.stderr)
        return 0 if ok else 2
    return app.exec()
