"""Outputs of a cohort run: grades.csv and report.html (flagged students first, then score distributions per
exercise in notebook order, frequent diagnosed mistakes). Means and distributions count only submissions whose
score can be trusted as it stands (graded, timeout); flagged ones are listed for review instead."""

from __future__ import annotations

import base64
import csv
import html
import io
from collections import Counter
from pathlib import Path

import numpy as np

CSV_FIELDS = ["student", "assignment", "status", "score", "max_score", "nbgrader_score", "flags", "detail",
              "diagnoses"]
STATUS_MEANING = {
    "graded": "graded normally (a score of 0 here is a real zero)",
    "timeout": "graded; a cell or the notebook's time budget ran out and what did not run scored 0",
    "dead_kernel": "the student's code killed its kernel (os._exit, crash, memory limit); cells after it score 0",
    "needs_review": "grading could not finish (a test the grader could not run, a kernel that stopped answering); "
                    "the score counts what was graded before: review by hand",
    "tampered": "the submission's process attacked the grader; the score is the grader's own: review by hand",
    "feedback_error": "graded; the feedback HTML could not be made for this student",
    "rejected": "the submission holds a symbolic link or a special file: not graded",
    "corrupt_notebook": "the notebook file is not valid JSON/nbformat: not graded",
    "missing_notebook": "the expected notebook is missing (renamed?): not graded",
    "error": "grading failed for another reason (see detail)",
}
TRUSTED = ("graded", "timeout", "feedback_error")
ATTENTION_ORDER = ["tampered", "needs_review", "error", "rejected", "dead_kernel", "corrupt_notebook",
                   "missing_notebook", "feedback_error", "timeout"]


def exercise_order(course) -> list[str]:
    """Grade ids of the assignment's test cells in notebook order."""
    import nbformat

    order = []
    for name in course.source_notebooks():
        nb = nbformat.read(str(course.root / "solutions" / course.assignment / name), as_version=4)
        for c in nb.cells:
            meta = c.get("metadata", {}).get("nbgrader", {})
            if meta.get("grade") and meta.get("grade_id"):
                order.append(meta["grade_id"])
    return order


def write_csv(records: list[dict], path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=CSV_FIELDS)
        w.writeheader()
        for r in sorted(records, key=lambda r: r["student"]):
            row = {k: r.get(k) for k in CSV_FIELDS}
            row["flags"] = "; ".join(r.get("flags") or [])
            row["diagnoses"] = " ".join(r.get("diagnoses") or [])
            for k in ("score", "max_score", "nbgrader_score"):
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


def _attention_key(r: dict) -> tuple:
    st = r["status"]
    rank = ATTENTION_ORDER.index(st) if st in ATTENTION_ORDER else len(ATTENTION_ORDER)
    return rank, r["student"]


def write_html(records: list[dict], path: Path, assignment: str, order: list[str] | None = None) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    statuses = Counter(r["status"] for r in records)
    trusted = [r for r in records if r["status"] in TRUSTED]
    cells: dict[str, list[float]] = {}
    for r in trusted:
        for gid, sc in (r.get("cells") or {}).items():
            if isinstance(sc, dict) and sc.get("score") is not None:
                cells.setdefault(gid, []).append(float(sc["score"]))
    names = [g for g in (order or []) if g in cells] + sorted(g for g in cells if g not in (order or []))
    mistakes = Counter(code for r in trusted for code in (r.get("diagnoses") or []))
    parts = [f"<html><head><meta charset='utf-8'><title>Cohort report: {html.escape(assignment)}</title>"
             "<style>body{font-family:sans-serif;max-width:1100px} td{vertical-align:top}</style></head><body>",
             f"<h1>Cohort report: {html.escape(assignment)}</h1>"]
    flagged = sorted((r for r in records if r["status"] not in ("graded",)), key=_attention_key)
    if flagged:
        parts.append("<h2>Needs attention</h2><table border=1 cellpadding=4><tr><th>student</th><th>status</th>"
                     "<th>score</th><th>detail and flags</th></tr>")
        for r in flagged:
            detail = "; ".join(x for x in [r.get("detail") or ""] + list(r.get("flags") or []) if x)
            parts.append(f"<tr><td>{html.escape(r['student'])}</td><td>{html.escape(r['status'])}</td>"
                         f"<td>{float(r.get('score') or 0):g}</td><td>{html.escape(detail)}</td></tr>")
        parts.append("</table>")
    parts.append("<h2>Submissions by status</h2><table border=1 cellpadding=4><tr><th>status</th><th>count</th>"
                 "<th>meaning</th></tr>")
    for st, n in sorted(statuses.items(), key=lambda kv: (kv[0] != "graded", kv[0])):
        parts.append(f"<tr><td>{html.escape(st)}</td><td>{n}</td><td>{html.escape(STATUS_MEANING.get(st, ''))}</td></tr>")
    parts.append("</table>")
    if names:
        fig, ax = plt.subplots(figsize=(max(6, len(names) * 0.9), 3.5))
        ax.boxplot([cells[n] for n in names])
        ax.set_xticks(range(1, len(names) + 1), names, rotation=45, ha="right")
        ax.set_ylabel("points")
        ax.set_title("score distribution per exercise (submissions graded normally)")
        parts.append(f"<h2>Scores per exercise</h2><img src='data:image/png;base64,{_figure_png(fig)}'>")
        parts.append("<table border=1 cellpadding=4><tr><th>exercise</th><th>mean</th><th>full marks</th></tr>")
        for n in names:
            v = np.array(cells[n])
            parts.append(f"<tr><td>{html.escape(n)}</td><td>{v.mean():.2f}</td><td>{np.mean(v == v.max()):.0%}</td></tr>")
        parts.append("</table>")
    totals = [float(r["score"]) for r in trusted]
    if totals:
        fig, ax = plt.subplots(figsize=(6, 3))
        ax.hist(totals, bins=min(20, max(5, len(set(totals)))))
        ax.set_xlabel("total score")
        ax.set_ylabel("students")
        parts.append(f"<h2>Total scores</h2><p>mean {np.mean(totals):.2f} over {len(totals)} submissions graded "
                     f"normally (flagged ones excluded)</p><img src='data:image/png;base64,{_figure_png(fig)}'>")
    if mistakes:
        top = mistakes.most_common(10)
        fig, ax = plt.subplots(figsize=(6, 0.4 * len(top) + 1))
        ax.barh([c for c, _ in top][::-1], [n for _, n in top][::-1])
        ax.set_xlabel("students whose tests named this mistake")
        parts.append(f"<h2>Most frequent diagnosed mistakes</h2><img src='data:image/png;base64,{_figure_png(fig)}'>")
    parts.append("</body></html>")
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    return path
