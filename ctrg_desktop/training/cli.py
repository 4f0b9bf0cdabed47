"""``ctrg train structure|report --config FILE --data DIR --out DIR [--resume] [--steps N] [--device D]``.

Wire into ``ctrg_desktop.cli.build_parser`` with ``add_train_parser(sub)``; the handler returns 0
and raises ``ValueError`` / ``CtrgError`` for bad input (the CLI prints one line, exit code 2).
SIGINT / SIGTERM stop the run after its current step with a checkpoint (exit code 130 / 143).
Under ``torchrun --nproc_per_node N -m ctrg_desktop train ...`` every process runs it (DDP).
"""

from __future__ import annotations

from pathlib import Path

from ctrg_desktop.training.config import DEVICES, STAGES


def _cmd_train(args) -> int:
    from ctrg_desktop.training import distributed, stop
    from ctrg_desktop.training.config import TrainConfig, read_config_file
    from ctrg_desktop.training.loop import train

    data = read_config_file(args.config)
    if data.get("stage", args.stage) != args.stage:
        raise ValueError(f"train config {args.config} is for stage {data['stage']!r}, not {args.stage!r}")
    data.update(stage=args.stage)
    overrides = {"steps": args.steps, "device": args.device, "init_from": args.init_from and str(args.init_from),
                 "batch_size": args.batch_size, "num_workers": args.num_workers}
    data.update({k: v for k, v in overrides.items() if v is not None})
    if args.steps is not None:
        data.pop("epochs", None)
    config = TrainConfig.from_dict(data, where=f"train config {args.config}")
    try:
        with stop.handle_stop_signals():  # Ctrl-C / the wizard's Stop: finish the step, checkpoint, exit
            result = train(config, args.data, args.out, resume=args.resume)
    except stop.TrainingStopped as stopped:
        return stopped.exit_code  # 130 after SIGINT: a resumable stop for the wizard (training.runs)
    finally:
        distributed.cleanup()
    if result.model_dir is not None:
        print(result.model_dir)
    return 0


def add_train_parser(subparsers) -> None:
    """Register ``train`` on an ``argparse`` sub-parser collection (``parser.add_subparsers()``)."""
    p = subparsers.add_parser("train", help="train the structure-query model (stage 1 structure, stage 2 report)")
    p.add_argument("stage", choices=STAGES, help="structure: contrastive stage 1; report: decoder stage 2")
    p.add_argument("--config", type=Path, required=True, help="train config (.json or .toml)")
    p.add_argument("--data", type=Path, required=True, help="CT-RATE layout folder (e.g. from `ctrg phantoms`)")
    p.add_argument("--out", type=Path, required=True, help="run folder: log, checkpoints, final model/")
    p.add_argument("--resume", action="store_true", help="continue from the newest checkpoint in --out")
    p.add_argument("--steps", type=int, help="override the config's steps (and drop its epochs)")
    p.add_argument("--device", choices=DEVICES, help="override the config's device")
    p.add_argument("--init-from", type=Path, help="start from this model / run folder (stage 2: the stage-1 run)")
    p.add_argument("--batch-size", type=int, help="override the config's per-process batch size")
    p.add_argument("--num-workers", type=int, help="override the config's data-loader workers")
    p.set_defaults(func=_cmd_train)
