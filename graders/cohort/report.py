"""Outputs of a cohort run: grades.csv and report.html (score distributions and frequent mistakes)."""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter
from pathlib import Path

import numpy as np

CSV_FIELDS = ["student", "assignment", "status", "score", "max_score", "nbgrader_score", "recheck_score", "flags",
              "detail", "diagnoses"]
STATUS_MEANING = {
    "graded": "graded normally (a score of 0 here is a real zero)",
    "timeout": "graded; at least one cell ran past the time limit and scored 0",
    "dead_kernel": "the kernel died (os._exit, crash, memory limit); cells not run score 0",
    "corrupt_notebook": "the notebook file is not valid JSON/nbformat: not graded",
    "missing_notebook": "the expected notebook is missing (renamed?): not graded",
    "tampered": "cheating evidence or a grade the clean recheck cannot reproduce: 0 pending review",
    "error": "grading failed for another reason (see detail)",
}


def write_csv(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in sorted(records, key=lambda r: r["student"]):
            row = {k: r.get(k) for k in CSV_FIELDS}
            row["flags"] = "; ".join(r.get("flags") or [])
            row["diagnoses"] = " ".join(r.get("diagnoses") or [])
            for k in ("score", "max_score", "nbgrader_score", "recheck_score"):
                if row[k] is not None:
                    row[k] = f"{float(row[k]):g}"
            w.writerow(row)
    return path


def _figure_png(fig) -> str:
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90, bbox_inches="tight")
    import matplotlib.pyplot as plt

    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode()


def write_html(records: list[dict], path: Path, assignment: str) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    statuses = Counter(r["status"] for r in records)
    cells: dict[str, list[float]] = {}
    for r in records:
        if r["status"] in ("graded", "timeout"):
            for gid, sc in (r.get("cells") or {}).items():
                if sc.get("nbgrader") is not None:
                    cells.setdefault(gid, []).append(float(sc["nbgrader"]))
    mistakes = Counter(code for r in records for code in (r.get("diagnoses") or []))
    parts = [f"<html><head><meta charset='utf-8'><title>Cohort report: {html.escape(assignment)}</title></head><body>",
             f"<h1>Cohort report: {html.escape(assignment)}</h1>",
             "<h2>Submissions by status</h2><table border=1 cellpadding=4><tr><th>status</th><th>count</th>"
             "<th>meaning</th></tr>"]
    for st, n in sorted(statuses.items()):
        parts.append(f"<tr><td>{st}</td><td>{n}</td><td>{html.escape(STATUS_MEANING.get(st, ''))}</td></tr>")
    parts.append("</table>")
    if cells:
        names = sorted(cells)
        fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.9), 3.5))
        ax.boxplot([cells[n] for n in names])
        ax.set_xticks(range(1, len(names) + 1), names, rotation=45, ha="right")
        ax.set_ylabel("points")
        ax.set_title("score distribution per exercise (graded submissions)")
        parts.append(f"<h2>Scores per exercise</h2><img src='data:image/png;base64,{_figure_png(fig)}'>")
        parts.append("<table border=1 cellpadding=4><tr><th>exercise</th><th>mean</th><th>full marks</th></tr>")
        for n in names:
            v = np.array(cells[n])
            parts.append(f"<tr><td>{html.escape(n)}</td><td>{v.mean():.2f}</td><td>{np.mean(v == v.max()):.0%}</td></tr>")
        parts.append("</table>")
    totals = [float(r["score"]) for r in records if r["status"] in ("graded", "timeout")]
    if totals:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(totals, bins=min(20, max(5, len(set(totals)))))
        ax.set_xlabel("total score")
        ax.set_ylabel("students")
        parts.append(f"<h2>Total scores</h2><img src='data:image/png;base64,{_figure_png(fig)}'>")
    if mistakes:
        top = mistakes.most_common(10)
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(top) + 1))
        ax.barh([c for c, _ in top][::-1], [n for _, n in top][::-1])
        ax.set_xlabel("students whose tests named this mistake")
        parts.append(f"<h2>Most frequent diagnosed mistakes</h2><img src='data:image/png;base64,{_figure_png(fig)}'>")
    flagged = [r for r in records if r["status"] in ("tampered", "error", "dead_kernel", "corrupt_notebook",
                                                         "missing_notebook")]
    if flagged:
        parts.append("<h2>Needs attention</h2><table border=1 cellpadding=4><tr><th>student</th><th>status</th>"
                     "<th>detail</th></tr>")
        for r in flagged:
            detail = "; ".join([r.get("detail") or ""] + list(r.get("flags") or []))
            parts.append(f"<tr><td>{html.escape(r['student'])}</td><td>{r['status']}</td>"
                         f"<td>{html.escape(detail)}</td></tr>")
        parts.append("</table>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
