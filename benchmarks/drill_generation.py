"""Problem generation time per drill family against the 200 ms budget, measured in one run.

    .venv/bin/python benchmarks/drill_generation.py [--n 50]

Prints, per family (every registered family: quick, multiple choice, find-the-bug, derivations, explanations,
live coding), the median and worst wall time to generate one problem (fresh Generator each time, after one
warm-up call that pays SymPy's first-import costs) and the ratio budget / worst; then the same for a whole
45-minute mock interview plan (six problems, budget six times 200 ms) and the machine's load average, since on
a shared machine the wall time grows with the load. Generation includes everything a problem needs before
the first answer (for a matrix derivation: the gradient's values at the comparison points). The SymPy
derivation that confirms a RIGHT matrix answer runs when that answer is first checked; its time (the check
of a right answer) is printed on the last line, for information (it has no budget).
"""

from __future__ import annotations

import argparse
import os
import statistics
import time

import numpy as np

from graders.drill import problems as P
from graders.drill.session import mock_plan

BUDGET_MS = 200.0


def _times(make, n: int) -> list[float]:
    make(np.random.default_rng(10_000))  # warm-up
    out = []
    for seed in range(n):
        t = time.perf_counter()
        make(np.random.default_rng(seed))
        out.append((time.perf_counter() - t) * 1000)
    return out


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=50, help="problems per family")
    args = ap.parse_args(argv)
    print(f"{'family':18s} {'kind':12s} {'median ms':>10s} {'worst ms':>10s} {'budget/worst':>13s}")
    worst_all, worst_name = 0.0, ""
    for name, fam in P.FAMILIES.items():
        times = _times(lambda rng, name=name: P.generate(name, rng), args.n)
        worst = max(times)
        if worst > worst_all:
            worst_all, worst_name = worst, name
        print(f"{name:18s} {fam.kind:12s} {statistics.median(times):10.2f} {worst:10.2f} {BUDGET_MS / worst:12.1f}x")
    mock = _times(mock_plan, max(5, args.n // 5))
    print(f"{'mock interview':18s} {'6 problems':12s} {statistics.median(mock):10.2f} {max(mock):10.2f} "
          f"{6 * BUDGET_MS / max(mock):12.1f}x")
    checks = []
    for seed in range(max(5, args.n // 5)):
        p = P.generate("derive_matrix", np.random.default_rng(20_000 + seed))
        t = time.perf_counter()
        assert P.check_answer(p, f"{p.data['shape']}: {p.data['solution']}").correct
        checks.append((time.perf_counter() - t) * 1000)
    load = ", ".join(f"{x:.1f}" for x in os.getloadavg()) if hasattr(os, "getloadavg") else "n/a"
    print(f"slowest problem: {worst_name} {worst_all:.2f} ms = {worst_all / BUDGET_MS:.3f} of the {BUDGET_MS:.0f} ms "
          f"budget ({'within' if worst_all < BUDGET_MS else 'OVER'} budget); load average {load} on "
          f"{os.cpu_count()} CPUs")
    print(f"checking a right matrix-derivation answer (SymPy derivation and confirmation): median "
          f"{statistics.median(checks):.0f} ms, worst {max(checks):.0f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
