"""Regenerate the student release (notebooks/) from the nbgrader source (solutions/), or check it is current.

    python -m tools.release            # rewrite notebooks/ from solutions/
    python -m tools.release --check    # exit 1 and list differences if notebooks/ is stale

Generation uses a throw-away gradebook so that no gradebook.db appears in the repository.
"""

from __future__ import annotations

import argparse
import filecmp
import os
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def assignments(root: Path = ROOT) -> list[str]:
    """Assignment names: folders of solutions/ that hold at least one notebook, sorted."""
    src = root / "solutions"
    return sorted(p.name for p in src.iterdir() if p.is_dir() and any(p.glob("*.ipynb"))) if src.is_dir() else []


def generate(release_dir: Path, names: list[str] | None = None, root: Path = ROOT) -> None:
    """Run ``nbgrader generate_assignment`` for ``names`` (default all) into ``release_dir``."""
    names = assignments(root) if names is None else names
    if not names:
        raise SystemExit("no assignments found under solutions/")
    nbgrader = Path(sys.executable).with_name("nbgrader")
    # nbgrader runs the `alembic` command to create a gradebook, so the environment's bin/ must be on PATH.
    env = dict(os.environ, PATH=f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}")
    with tempfile.TemporaryDirectory() as tmp:
        for name in names:
            cmd = [str(nbgrader) if nbgrader.exists() else "nbgrader", "generate_assignment", name, "--force",
                   f"--CourseDirectory.root={root}", f"--CourseDirectory.release_directory={release_dir}",
                   f"--CourseDirectory.db_url=sqlite:///{tmp}/gradebook.db", "--log-level=WARN"]
            done = subprocess.run(cmd, cwd=root, capture_output=True, text=True, env=env)
            if done.returncode != 0:
                raise SystemExit(f"nbgrader generate_assignment {name} failed:\n{done.stdout}\n{done.stderr}")


def differences(a: Path, b: Path) -> list[str]:
    """Relative paths that differ between two directory trees (missing on either side included)."""
    out = []
    cmp = filecmp.dircmp(a, b)

    def walk(c: filecmp.dircmp, rel: str) -> None:
        out.extend(f"{rel}{n} (only in {c.left})" for n in c.left_only)
        out.extend(f"{rel}{n} (only in {c.right})" for n in c.right_only)
        for n in c.common_files:
            if (Path(c.left) / n).read_bytes() != (Path(c.right) / n).read_bytes():
                out.append(f"{rel}{n} differs")
        for n, sub in c.subdirs.items():
            walk(sub, f"{rel}{n}/")

    walk(cmp, "")
    return out


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report whether notebooks/ is current")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        fresh = Path(tmp) / "release"
        generate(fresh)
        target = ROOT / "notebooks"
        if args.check:
            diff = differences(fresh, target) if target.exists() else ["notebooks/ is missing"]
            for d in diff:
                print(d)
            print("notebooks/ is current" if not diff else "notebooks/ is stale: run python -m tools.release")
            return 1 if diff else 0
        if target.exists():
            shutil.rmtree(target)
        shutil.copytree(fresh, target)
        print(f"regenerated {', '.join(assignments())} into notebooks/")
        return 0


if __name__ == "__main__":
    raise SystemExit(main())
