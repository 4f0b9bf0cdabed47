"""Learning-rate schedule as a pure function of the step (nanoGPT habit): linear warm-up over the
first ``warmup_fraction`` of the steps, then linear decay to 0 at ``total_steps``."""

from __future__ import annotations


def warmup_steps(total_steps: int, warmup_fraction: float) -> int:
    """Number of warm-up steps: ``round(total_steps * warmup_fraction)``."""
    return round(total_steps * warmup_fraction)


def lr_at(step: int, total_steps: int, base_lr: float, warmup_fraction: float = 0.1) -> float:
    """Learning rate for optimiser step ``step`` (0-based) of ``total_steps``.

    Warm-up: ``base_lr * (step + 1) / warmup`` for ``step < warmup`` (the first step is not 0);
    then ``base_lr * (total - step) / (total - warmup)``, reaching 0 after the last step.
    Examples (total 10, warm-up 0.2, base 1.0): steps 0, 1 -> 0.5, 1.0; step 2 -> 1.0; step 6 -> 0.5.
    """
    if total_steps < 1:
        raise ValueError(f"total_steps must be positive, got {total_steps}")
    if not 0.0 <= warmup_fraction < 1.0:
        raise ValueError(f"warmup_fraction must lie in [0, 1), got {warmup_fraction}")
    if step < 0:
        raise ValueError(f"step must be >= 0, got {step}")
    warm = warmup_steps(total_steps, warmup_fraction)
    if step < warm:
        return base_lr * (step + 1) / warm
    if step >= total_steps:
        return 0.0
    return base_lr * (total_steps - step) / (total_steps - warm)
