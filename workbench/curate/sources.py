"""Removal rates per record source and per step, and a warning when a step hits one source hard.

A filter tuned on one kind of data can quietly take 5-10% of another source's best rows (web
rules on short math solutions). `source_report` counts, for every source of the input version,
how many of its rows each step removed; a step that removed more than `warn_share` of one
source's rows while removing at most `max_elsewhere` of the other sources' rows raises a
warning with a few example rows, shown by `workbench curate`, `curate report` and their `--json`.
Shares are of the source's rows in the version being curated.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from typing import Any, Iterable

from workbench.curate.text import short
from workbench.data.records import Record

WARN_SHARE = 0.05
MAX_ELSEWHERE = 0.02
N_EXAMPLES = 3
DELIBERATE = frozenset({"select"})  # steps whose purpose is to keep or drop rows by their source


def source_report(records: Iterable[Record], removals: list[dict[str, Any]], warn_share: float = WARN_SHARE,
                  max_elsewhere: float = MAX_ELSEWHERE, n_examples: int = N_EXAMPLES) -> dict[str, Any]:
    """{"sources": {source: {"rows", "removed", "by_step": {step: n}}}, "steps": [...], "warnings": [...]}.

    A warning: {"step", "source", "removed", "rows", "share", "elsewhere_removed", "elsewhere_rows",
    "elsewhere_share", "examples": [{"record_id", "reason", "detail", "text"}]}.
    """
    by_id = {r.id: r for r in records}
    rows = Counter((by_id[i].source or "(none)") for i in by_id)
    hits: dict[str, dict[str, list[dict]]] = defaultdict(lambda: defaultdict(list))  # step -> source -> removals
    steps: list[str] = []
    for rem in removals:
        rec = by_id.get(rem["record_id"])
        if rec is None:
            continue
        if rem["step"] not in steps:
            steps.append(rem["step"])
        hits[rem["step"]][rec.source or "(none)"].append(rem)
    sources = {}
    for src, n in sorted(rows.items()):
        by_step = {s: len(hits[s][src]) for s in steps if hits[s].get(src)}
        sources[src] = {"rows": n, "removed": sum(by_step.values()), "by_step": by_step}
    warnings = []
    total = sum(rows.values())
    for step in steps:
        if step in DELIBERATE:
            continue  # a step that removes by source on purpose: its rate is shown, not warned about
        for src, rems in sorted(hits[step].items()):
            share = len(rems) / rows[src]
            other_rows = total - rows[src]
            other_removed = sum(len(v) for s, v in hits[step].items() if s != src)
            elsewhere = other_removed / other_rows if other_rows else 0.0
            if share > warn_share and elsewhere <= max_elsewhere:
                warnings.append({
                    "step": step, "source": src, "removed": len(rems), "rows": rows[src], "share": round(share, 4),
                    "elsewhere_removed": other_removed, "elsewhere_rows": other_rows, "elsewhere_share": round(elsewhere, 4),
                    "examples": [{"record_id": r["record_id"], "reason": r["reason"], "detail": r["detail"],
                                  "text": short(by_id[r["record_id"]].text(), 300)} for r in rems[:n_examples]],
                })
    return {"warn_share": warn_share, "max_elsewhere": max_elsewhere, "steps": steps, "sources": sources,
            "warnings": warnings}


def warning_line(w: dict[str, Any]) -> str:
    return (f"{w['step']} removed {w['removed']}/{w['rows']} ({w['share']:.1%}) of source {w['source']!r} but "
            f"{w['elsewhere_removed']}/{w['elsewhere_rows']} ({w['elsewhere_share']:.1%}) of the others: "
            f"check its rules against this source")

