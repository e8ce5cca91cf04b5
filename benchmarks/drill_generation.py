"""Problem generation time per drill family against the 200 ms budget, measured in one run.

    .venv/bin/python benchmarks/drill_generation.py [--n 50]

Prints, per family, the median and worst time to generate one problem (fresh Generator each time, after one
warm-up call that pays SymPy's first-import costs) and the ratio budget / worst.
"""

from __future__ import annotations

import argparse
import statistics
import time

import numpy as np

from graders.drill import problems as P

BUDGET_MS = 200.0


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="problems per family")
    args = ap.parse_args(argv)
    print(f"{'family':16s} {'median ms':>10s} {'worst ms':>10s} {'budget/worst':>13s}")
    worst_all = 0.0
    for name in P.FAMILIES:
        P.generate(name, np.random.default_rng(10_000))  # warm-up
        times = []
        for seed in range(args.n):
            t = time.perf_counter()
            P.generate(name, np.random.default_rng(seed))
            times.append((time.perf_counter() - t) * 1000)
        worst = max(times)
        worst_all = max(worst_all, worst)
        print(f"{name:16s} {statistics.median(times):10.2f} {worst:10.2f} {BUDGET_MS / worst:12.1f}x")
    print(f"slowest problem: {worst_all:.2f} ms = {worst_all / BUDGET_MS:.3f} of the {BUDGET_MS:.0f} ms budget "
          f"({'within' if worst_all < BUDGET_MS else 'OVER'} budget)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
