"""Similar cases: ms per query of the exact reference-index search over 100,000 synthetic references."""

from __future__ import annotations

import time

import numpy as np

from benchmarks.run import Result

TARGET_MS = 50.0  # issue 14: under 50 ms for 100,000 references on 2 cores
REFERENCES = 100_000
QUERIES = 200


def run(args) -> Result:
    from ctrg_desktop.retrieval.index import ReferenceIndex
    from ctrg_desktop.retrieval.projection import Projection

    rng = np.random.default_rng(0)
    hidden, dim = 512, 64  # the retriever's default sizes
    arrays = {"mean": np.zeros(18), "std": np.ones(18), "w1": rng.normal(size=(18, hidden)) / 18 ** 0.5,
              "b1": np.zeros(hidden), "w2": rng.normal(size=(hidden, dim)) / hidden ** 0.5, "b2": np.zeros(dim)}
    results = {}
    for kind in ("poincare", "cosine"):
        logits = rng.normal(size=(REFERENCES, 18)).astype(np.float32) * 2
        started = time.perf_counter()
        index = ReferenceIndex(Projection(kind, 1.0, arrays), "0" * 64, [f"train_{i}_a_1" for i in range(REFERENCES)],
                               [f"train_{i}" for i in range(REFERENCES)], ["train"] * REFERENCES,
                               [""] * REFERENCES, logits, np.zeros((REFERENCES, 18), np.uint8))
        built = time.perf_counter() - started
        queries = rng.normal(size=(QUERIES, 18)).astype(np.float32) * 2
        times = []
        for _ in range(max(1, args.repeat)):
            for i, q in enumerate(queries):
                start = time.perf_counter()
                found = index.query(q, k=3, exclude_patients=[f"train_{i}"])
                times.append((time.perf_counter() - start) * 1000.0)
                assert len(found) == 3
        results[kind] = float(np.median(times))
        print(f"{kind:8s} {REFERENCES} references (built in {built:.1f} s): median {results[kind]:.2f} ms, "
              f"95th percentile {np.percentile(times, 95):.2f} ms per query (k 3, one patient excluded, "
              f"{len(times)} queries)")
    return Result(results["poincare"], "ms per query (poincare, median)", f"< {TARGET_MS:g} ms")
