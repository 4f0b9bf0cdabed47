"""Fuzzed headers (issue "hardening"): small NIfTI, MetaImage, NRRD and DICOM studies with flipped
header bytes, extreme field values and cuts. Every case must end in a volume (finite, strict-JSON
summary) or in one :class:`CtrgError` naming the study: no other exception, no traceback, no
hang (10 s per case) and no more than 2 GiB of address space.

The cases run in worker processes (``fuzz_worker.py``, a few hundred cases each, under
``RLIMIT_AS``; a case that overruns its time kills its worker, which is restarted after it).
Workers run with ``CTRG_MAX_VOLUME_MB=512``: the configured limit is what bounds the memory a
header may claim, and 512 MiB of voxels fits, decoded twice, in 2 GiB.
"""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys
from collections import Counter
from pathlib import Path

import pytest

WORKER = Path(__file__).with_name("fuzz_worker.py")
ROOT = Path(__file__).resolve().parents[2]
WORKERS = 2


def _cases() -> list:
    spec = importlib.util.spec_from_file_location("ctrg_fuzz_worker", WORKER)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)  # stdlib imports only at module level
    return module.CASES


def _run(work: Path, first: int, stop: int, env: dict) -> subprocess.Popen:
    work.mkdir(parents=True, exist_ok=True)
    return subprocess.Popen([sys.executable, str(WORKER), str(work), str(first), str(stop)], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


@pytest.mark.slow
@pytest.mark.skipif(os.name != "posix", reason="RLIMIT_AS and SIGALRM are POSIX")
def test_fuzzed_headers_end_in_a_volume_or_one_clear_error(tmp_path):
    cases = _cases()
    assert len(cases) >= 300
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CTRG_MAX_VOLUME_MB": "512", "MALLOC_ARENA_MAX": "2",
           "ITK_GLOBAL_DEFAULT_NUMBER_OF_THREADS": "1", "OMP_NUM_THREADS": "1", "OPENBLAS_NUM_THREADS": "1"}
    step = -(-len(cases) // WORKERS)
    pending = [(first, min(first + step, len(cases))) for first in range(0, len(cases), step)]
    results: dict[int, dict] = {}
    while pending:
        running = [(first, stop, _run(tmp_path / f"w{first}", first, stop, env)) for first, stop in pending]
        pending = []
        for first, stop, proc in running:
            out, err = proc.communicate(timeout=600)
            started = None
            for line in out.splitlines():
                row = json.loads(line)
                if "start" in row:
                    started = row["start"]
                else:
                    results[row["case"]] = row
                    started = None
            if started is not None:  # the worker died inside this case (SIGALRM, memory, crash)
                results[started] = {"case": started, "name": cases[started][0], "outcome": "bad",
                                    "detail": f"worker ended with {proc.returncode} in this case: {err[-800:]}"}
                if started + 1 < stop:
                    pending.append((started + 1, stop))
            else:
                assert proc.returncode == 0, err[-2000:]

    assert sorted(results) == list(range(len(cases)))
    failures = [r for r in results.values()
                if r["outcome"] not in ("ok", "error") or "Traceback" in r.get("stderr", "")]
    report = "\n".join(f"#{r['case']} {r['name']}: {r['outcome']}: {r['detail'][-600:]}" for r in failures[:15])
    assert not failures, f"{len(failures)} of {len(cases)} fuzzed studies failed:\n{report}"
    outcomes = Counter(r["outcome"] for r in results.values())
    assert outcomes["ok"] > 100 and outcomes["error"] > 100, outcomes  # the mutations bite, and not all
