"""The end of a wizard run: the new and the starting model's ``ctrg evaluate`` results side by
side, the zoo card (parent, data, command, metrics, limits) and registration in the zoo."""

from __future__ import annotations

import json
import math
from pathlib import Path

from ctrg_desktop.model.catalogue import NAME_RE, known_names, zoo_dirs
from ctrg_desktop.training import runs

HEADLINE = (("BLEU-1", ("nlg", "BLEU-1")), ("BLEU-4", ("nlg", "BLEU-4")), ("METEOR", ("nlg", "METEOR")),
            ("ROUGE-L", ("nlg", "ROUGE-L")), ("CIDEr", ("nlg", "CIDEr")),
            ("CE precision", ("clinical_efficacy", "micro", "precision")),
            ("CE recall", ("clinical_efficacy", "micro", "recall")),
            ("CE F1", ("clinical_efficacy", "micro", "f1")),
            ("Recall@10", ("retrieval", "recall@10")), ("Grounding", ("grounding", "mean")),
            ("Distinct reports", ("diversity", "generated", "distinct_reports")))


def headline_metrics(result: dict) -> dict[str, float | None]:
    """The numbers the side-by-side table shows, from a ``ctrg evaluate`` JSON."""
    out = {}
    for name, keys in HEADLINE:
        value = result
        for key in keys:
            value = value.get(key) if isinstance(value, dict) else None
        out[name] = float(value) if isinstance(value, (int, float)) and math.isfinite(value) else None
    return out


def compare_metrics(new: dict, parent: dict) -> list[tuple[str, float | None, float | None]]:
    """(metric, starting model, new model) rows of two ``ctrg evaluate`` results."""
    a, b = headline_metrics(parent), headline_metrics(new)
    return [(name, a[name], b[name]) for name, _ in HEADLINE]


def metrics_markdown(rows, split: str, n_studies: int | None = None) -> str:
    def f(v):
        return "n/a" if v is None else f"{v:.3f}"

    head = f"Held-out split `{split}`" + (f" ({n_studies} studies)" if n_studies else "")
    lines = [head, "", "| metric | starting model | this model |", "|---|---|---|"]
    lines += [f"| {name} | {f(a)} | {f(b)} |" for name, a, b in rows]
    return "\n".join(lines)


def load_metrics(state: runs.RunState) -> tuple[dict, dict] | None:
    try:
        return (json.loads(Path(state.metrics["new"]).read_text()),
                json.loads(Path(state.metrics["parent"]).read_text()))
    except (KeyError, OSError, json.JSONDecodeError):
        return None


def model_card(state: runs.RunState, name: str) -> str:
    """The zoo card of the run's model: parent, data, command, settings, metrics, limits."""
    config = json.loads(state.config_path.read_text())
    lines = [f"# {name}", "",
             f"- fine-tuned from `{state.parent_model}` ({runs.TRAIN_KINDS[state.kind][2].lower()}) in the "
             f"ctrg-desktop training wizard, run {state.id}",
             f"- parent model: {state.parent_model} ({state.parent_folder})",
             f"- data: {', '.join(state.data_dirs)}" + (f" (merged into {state.data_dir})"
                                                        if len(state.data_dirs) > 1 else ""),
             f"- steps: {state.steps}, batch {config.get('batch_size')} x {state.nproc} process(es), "
             f"lr {config.get('lr')}, device {state.device}",
             f"- command: `{runs.shell_line(runs.train_command(state))}`",
             f"- trained: {state.ended or runs.now()}"
             + (f", {state.s_per_step:.2f} s/step measured before the run" if state.s_per_step else ""),
             "", "## Metrics", ""]
    loaded = load_metrics(state)
    if loaded:
        new, parent = loaded
        lines.append(metrics_markdown(compare_metrics(new, parent), state.eval_split or "?",
                                      new.get("meta", {}).get("n_studies")))
    else:
        lines.append("Not evaluated: run `ctrg evaluate` on a held-out split.")
    lines += ["", "## Limits", "",
              "Trained on the user's corrections (and any folder listed above); small datasets over-fit "
              "quickly: compare with the starting model before relying on it.", "",
              "**Not for clinical use.** Research and development only; every draft needs a radiologist's "
              "review.", ""]
    return "\n".join(lines)


def check_model_name(name: str, zoo=None) -> str:
    """A usable zoo name, or ``runs.RunError`` saying why not (already taken included)."""
    name = name.strip()
    if not NAME_RE.match(name):
        raise runs.RunError(f"model name {name!r}: use letters, digits, '.', '_' or '-' (at most 64, no spaces)")
    zoo = Path(zoo) if zoo is not None else zoo_dirs()[1][1]
    if (zoo / name).exists() or name in known_names():
        raise runs.RunError(f"a model named {name!r} exists already")
    return name


CARD_FILE = "card.md"  #: the card ``ctrg register`` stores, written into the run folder first


def _checked_registration(state: runs.RunState, name: str, zoo) -> str:
    name = check_model_name(name, zoo)
    if not state.model_dir.joinpath("model.safetensors").is_file():
        raise runs.RunError(f"run {state.id} has no trained model yet ({state.model_dir})")
    return name


def register_command(state: runs.RunState, name: str, zoo=None) -> list[str]:
    """``ctrg register`` of the run's model as ``name`` with its card (written to the run folder): the
    wizard runs it as a child process, so the GUI process never imports torch. ``RunError`` for a
    taken or bad name or a run without a model; :func:`mark_registered` once it exits with 0."""
    name = _checked_registration(state, name, zoo)
    card = state.path / CARD_FILE
    card.write_text(model_card(state, name), encoding="utf-8")
    cmd = [*runs.cli_prefix(1), "register", str(state.model_dir), "--name", name, "--card", str(card)]
    return cmd + ["--zoo", str(zoo)] if zoo is not None else cmd


def mark_registered(state: runs.RunState, name: str, zoo=None) -> Path:
    """Record in ``run.json`` that the run's model is in the zoo (user's by default) as ``name``; its folder."""
    folder = (Path(zoo) if zoo is not None else zoo_dirs()[1][1]) / name
    state.registered = {"name": name, "folder": str(folder)}
    state.status = "registered"
    state.save()
    return folder


def register_run(state: runs.RunState, name: str, zoo=None) -> Path:
    """Copy the run's model into the zoo (user's by default) as ``name`` with its card, in this process."""
    from ctrg_desktop.model.zoo import register_model

    name = _checked_registration(state, name, zoo)
    register_model(state.model_dir, name, card=model_card(state, name), zoo=zoo)
    return mark_registered(state, name, zoo)
