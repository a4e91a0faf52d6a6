"""Per-domain precision and recall of a curation recipe (`python benchmarks/curation.py --domains`).

Rows are curation_eval.jsonl (written for this project: prose, templated math and code) and
curation_domains.jsonl (GSM8K math, HumanEval code, MGSM and multilingual chat, with planted
defects per domain). Each row's domain: `meta.domain`, else from its kind or source. Rows with
planted PII are left out (they are clean for a recipe without the pii step; `--pii` measures them).
"""

from __future__ import annotations

from collections import Counter, defaultdict

from workbench.curate.recipe import load_recipe, run_steps
from workbench.data.records import unique_ids

DOMAIN_ORDER = ("prose", "math", "code", "non_english")
TARGETS = {"clean_kept": 0.99, "bad_removed": 1.0, "exact_removed": 1.0, "near_removed": 0.90}
BAD_KINDS = {"degenerate_repetition", "empty_answer", "unclosed_think", "broken_think", "boilerplate"}
_BY_KIND = {"math": "math", "math_think": "math", "code": "code", "multi_turn_code": "code"}


def domain_of(rec) -> str:
    meta = rec.meta
    if meta.get("domain"):
        return meta["domain"]
    base = meta["kind"] if meta["label"] == "clean" else rec.source.rsplit("/", 1)[-1]
    return _BY_KIND.get(base, "prose")


def category(rec) -> str:
    if rec.meta["label"] == "clean":
        return "clean"
    kind = rec.meta["kind"]
    if kind == "exact_duplicate":
        return "exact"
    if kind == "near_duplicate":
        return "near"
    assert kind in BAD_KINDS, kind
    return "bad"


def measure(records, recipe) -> dict[str, dict]:
    """Per domain: counts of each category, how many of each were removed, and by which step."""
    records = [r for r in records if r.meta["label"] != "pii"]
    result = run_steps(records, load_recipe(recipe))
    removed = {r["record_id"]: r for r in result.removals}
    out: dict[str, dict] = defaultdict(lambda: {"n": Counter(), "removed": Counter(), "lost": [], "missed": []})
    for rec in records:
        d, c = out[domain_of(rec)], category(rec)
        d["n"][c] += 1
        if rec.id in removed:
            d["removed"][c] += 1
            if c == "clean":
                d["lost"].append((rec, removed[rec.id]))
        elif c != "clean":
            d["missed"].append(rec)
    return dict(out)


def summarize(stats: dict) -> dict[str, float]:
    n, rm = stats["n"], stats["removed"]
    defects = n["bad"] + n["exact"] + n["near"]
    caught = rm["bad"] + rm["exact"] + rm["near"]
    removed = caught + rm["clean"]
    return {
        "clean_kept": 1 - rm["clean"] / n["clean"] if n["clean"] else 1.0,
        "bad_removed": rm["bad"] / n["bad"] if n["bad"] else 1.0,
        "exact_removed": rm["exact"] / n["exact"] if n["exact"] else 1.0,
        "near_removed": rm["near"] / n["near"] if n["near"] else 1.0,
        "precision": caught / removed if removed else 1.0,
        "recall": caught / defects if defects else 1.0,
    }


def passes(summary: dict[str, float]) -> bool:
    return all(summary[k] >= v - 1e-9 for k, v in TARGETS.items())


def _cell(done: int, total: int) -> str:
    return f"{done}/{total} ({done / total:.1%})" if total else "-"


def print_table(per_domain: dict[str, dict]) -> bool:
    print(f"{'domain':<12}{'clean kept':>20}{'bad removed':>18}{'exact dups':>16}{'near dups':>16}"
          f"{'precision':>11}{'recall':>8}  targets")
    ok_all = True
    for name in [d for d in DOMAIN_ORDER if d in per_domain] + sorted(set(per_domain) - set(DOMAIN_ORDER)):
        st = per_domain[name]
        n, rm = st["n"], st["removed"]
        s = summarize(st)
        ok = passes(s)
        ok_all &= ok
        print(f"{name:<12}{_cell(n['clean'] - rm['clean'], n['clean']):>20}{_cell(rm['bad'], n['bad']):>18}"
              f"{_cell(rm['exact'], n['exact']):>16}{_cell(rm['near'], n['near']):>16}{s['precision']:>11.3f}"
              f"{s['recall']:>8.3f}  {'met' if ok else 'NOT met'}")
    return ok_all


def stats_table(records) -> None:
    """gopher_quality and gopher_repetition statistics per domain: clean rows vs planted bad rows
    (quantiles of the clean rows that the rules' thresholds are read against)."""
    from workbench.curate.filters import quality_stats, repetition_stats

    rows: dict[tuple[str, str], list[dict]] = defaultdict(list)
    for rec in records:
        if rec.meta["label"] == "pii" or category(rec) in ("exact", "near"):
            continue
        for m in rec.turns("assistant"):
            if m["content"].strip():
                st = quality_stats(m["content"]) | repetition_stats(m["content"])
                rows[(domain_of(rec), category(rec))].append(st)
    keys = ["words", "alpha_words_frac", "avg_word_length", "top_2_gram_frac", "dup_line_frac", "dup_5_gram_char_frac"]
    print("per assistant turn: min / 1% / median / 99% / max (clean), min / median (planted bad)")
    for key in keys:
        print(f"  {key}")
        for dom in DOMAIN_ORDER:
            clean = sorted(st[key] for st in rows[(dom, "clean")])
            bad = sorted(st[key] for st in rows[(dom, "bad")])
            if not clean:
                continue
            q = [clean[int(f * (len(clean) - 1))] for f in (0, 0.01, 0.5, 0.99, 1)]
            b = f"{bad[0]:.3f} / {bad[len(bad) // 2]:.3f}" if bad else "-"
            print(f"    {dom:<12} clean " + " / ".join(f"{x:.3f}" for x in q) + f"   bad {b}")


def domain_report(records, recipe, overrides=(), show_stats: bool = False, show: str | None = None,
                  command: str = "python benchmarks/curation.py --domains") -> int:
    records = list(unique_ids(records))
    if show_stats:
        stats_table(records)
        return 0
    spec = load_recipe(recipe).to_dict()
    for item in overrides:
        key, _, raw = item.partition("=")
        step, _, param = key.partition(".")
        import yaml

        for s in spec["steps"]:
            if s["step"] == step:
                s["params"][param] = yaml.safe_load(raw)
    per_domain = measure(records, spec)
    print(f"$ {command.strip()}")
    print(f"recipe {recipe}{''.join(' --set ' + x for x in overrides)}: {len(records)} rows "
          f"(curation_eval.jsonl + curation_domains.jsonl, PII rows left out)")
    ok = print_table(per_domain)
    print("targets: clean kept >= 99%, bad rows removed 100%, exact duplicates 100%, near duplicates >= 90%")
    for name, st in per_domain.items():
        for rec, why in st["lost"]:
            print(f"  {name} clean lost: {rec.id} ({rec.meta['kind']}) {why['step']}: {why['reason']} {why['detail']}")
            if show and why["reason"].startswith(show):
                print("    " + rec.text()[:500].replace("\n", "\n    "))
        for rec in st["missed"]:
            print(f"  {name} defect kept: {rec.id} ({rec.meta['kind']}) {rec.messages[-1]['content'][:100]!r}")
    return 0 if ok else 1
