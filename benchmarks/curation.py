"""How well a curation recipe separates planted defects from clean rows, per step.

    python benchmarks/curation.py [--recipe examples/recipes/default.yaml] [--pii drop|redact]
                                  [--data datasets/curation_eval.jsonl] [--show REASON]

Runs the recipe in memory (`workbench.curate.recipe.run_steps`, no catalog) on the labelled
set written by datasets/make_curation_eval.py and prints, per step:
  precision  removed rows that were defects (pii rows count as defects for the pii step only)
  recall     planted defects this step removed, of all planted defects
  clean lost clean rows this step removed
then the totals: clean rows kept (the >= 97% target) and every planted defect that survived.
`--pii` appends the PII step to the recipe; `--show REASON` prints the rows removed for REASON.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.curate.recipe import DEFAULT_RECIPE, load_recipe, run_steps  # noqa: E402
from workbench.data.records import make_record, unique_ids  # noqa: E402

DATA = ROOT / "datasets" / "curation_eval.jsonl"


def load(path: Path):
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(unique_ids(make_record(r["messages"], r.get("source", ""), r.get("reasoning_mode"), r["meta"])
                           for r in rows))


def is_target(label: str, step: str) -> bool:
    """Whether removing a row with this label is right: defects always, pii rows by the pii step."""
    return label == "defect" or (label == "pii" and step == "pii")


def repetition_table(records) -> int:
    """Per rule: how many clean turns and planted-repetition rows exceed the recipe's threshold,
    the largest clean value and the smallest value among planted rows caught by nothing else."""
    from workbench.curate.filters import RepetitionParams, repetition_stats

    spec = next(p for s, p in load_recipe(DEFAULT_RECIPE).steps if s == "gopher_repetition")
    assert isinstance(spec, RepetitionParams)
    limits = {"dup_para_frac": spec.dup_para_frac, "dup_para_char_frac": spec.dup_para_char_frac,
              "dup_line_frac": spec.dup_line_frac, "dup_line_char_frac": spec.dup_line_char_frac}
    limits |= {f"top_{n}_gram_frac": v for n, v in spec.top_ngram_frac.items()}
    limits |= {f"dup_{n}_gram_char_frac": v for n, v in spec.dup_ngram_frac.items()}
    ngram_rules = {k for k in limits if "gram" in k}
    ngrams = tuple(sorted(spec.top_ngram_frac)) + tuple(sorted(spec.dup_ngram_frac))
    clean, planted = [], []  # per turn / per row (max over its turns)
    for r in records:
        turns = [repetition_stats(m["content"], ngrams, spec.skip_code, spec.ignore_symbol_lines)
                 for m in r.turns("assistant") if m["content"].strip()]
        top_min = max(spec.min_words, spec.top_ngram_min_words or 0)
        for t in turns:
            t["_ok"] = t["words"] >= spec.min_words
            t["_top_ok"] = t["words"] >= top_min
        if r.meta["label"] == "clean":
            clean += turns
        elif r.meta["kind"] == "degenerate_repetition":
            planted.append(turns)

    def value(t, rule):
        if rule.startswith("top_"):
            return t[rule] if t["_top_ok"] else 0.0
        return t[rule] if rule not in ngram_rules or t["_ok"] else 0.0

    print(f"gopher_repetition per assistant turn ({len(clean)} clean turns, {len(planted)} planted repetition rows; "
          f"n-gram rules on turns of >= {spec.min_words} words, top n-gram rules >= {spec.top_ngram_min_words})")
    print(f"{'rule':<22}{'limit':>7}{'clean max':>11}{'clean over':>12}{'planted over':>14}{'planted min':>13}")
    for rule, limit in limits.items():
        row_vals = [max(value(t, rule) for t in turns) for turns in planted]
        cmax = max(value(t, rule) for t in clean)
        print(f"{rule:<22}{limit:>7}{cmax:>11.3f}{sum(value(t, rule) > limit for t in clean):>12}"
              f"{sum(v > limit for v in row_vals):>14}{min(row_vals):>13.3f}")
    caught = sum(any(value(t, k) > v for t in turns for k, v in limits.items()) for turns in planted)
    print(f"planted repetition rows caught by some rule: {caught}/{len(planted)}")
    return 0


def pii_alone(records, action: str) -> None:
    """The pii step alone on every row: precision and recall against the planted PII, per kind."""
    from workbench.curate.pii import PIIStep

    res = PIIStep(PIIStep.Params(action=action)).apply(records)
    hit = set(res.drops) | set(res.edits)
    kinds = Counter(r.meta["kind"] for r in records if r.meta["label"] == "pii")
    found = Counter(r.meta["kind"] for r in records if r.meta["label"] == "pii" and r.id in hit)
    wrong = [r for r in records if r.id in hit and r.meta["label"] != "pii"]
    print(f"pii step alone on all {len(records)} rows: {len(hit)} flagged, precision {1 - len(wrong) / max(1, len(hit)):.3f}, "
          f"recall {sum(found.values())}/{sum(kinds.values())}; " + ", ".join(f"{k} {found[k]}/{v}" for k, v in sorted(kinds.items()))
          + (f"; false positives: {', '.join(r.id + ' (' + r.meta['kind'] + ')' for r in wrong)}" if wrong else ""))
    for r in records:
        if r.meta["label"] == "pii" and r.id not in hit:
            print(f"  missed {r.meta['kind']}: {r.text()[:200]!r}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--recipe", default=str(DEFAULT_RECIPE))
    ap.add_argument("--data", default=str(DATA))
    ap.add_argument("--pii", choices=["drop", "redact"], help="append the pii step with this action")
    ap.add_argument("--show", help="print the rows removed for this reason")
    ap.add_argument("--stats", action="store_true",
                    help="gopher_repetition statistics per assistant turn: clean rows vs planted repetition")
    args = ap.parse_args(argv)

    records = load(Path(args.data))
    if args.stats:
        return repetition_table(records)
    label = {r.id: r.meta["label"] for r in records}
    kind = {r.id: r.meta["kind"] for r in records}
    recipe = load_recipe(args.recipe)
    if args.pii:
        spec = recipe.to_dict()
        spec["steps"].append({"step": "pii", "params": {"action": args.pii}})
        recipe = load_recipe(spec)
    t0 = time.perf_counter()
    result = run_steps(records, recipe)
    wall = time.perf_counter() - t0

    n = Counter(label.values())
    print(f"{args.data}: {len(records)} rows ({n['clean']} clean, {n['defect']} planted defects, {n['pii']} with PII); "
          f"recipe {recipe.name} ({Path(args.recipe).name}{' + pii ' + args.pii if args.pii else ''}); {wall:.1f} s")
    by_step: dict[str, list[dict]] = {}
    for r in result.removals:
        by_step.setdefault(r["step"], []).append(r)
    print(f"{'step':<20}{'removed':>8}{'precision':>11}{'recall':>8}{'clean lost':>12}  reasons")
    n_targets = n["defect"] + (n["pii"] if args.pii else 0)
    for s in result.summary:
        rows = by_step.get(s["step"], [])
        hits = sum(is_target(label[r["record_id"]], s["step"]) for r in rows)
        lost = sum(label[r["record_id"]] == "clean" for r in rows)
        prec = f"{hits / len(rows):.3f}" if rows else "-"
        reasons = ", ".join(f"{k} {v}" for k, v in Counter(r["reason"] for r in rows).most_common(4))
        print(f"{s['step']:<20}{len(rows):>8}{prec:>11}{hits / max(1, n_targets):>8.3f}{lost:>12}  {reasons}")
    removed = {r["record_id"] for r in result.removals}
    lost = [i for i in removed if label[i] == "clean"]
    missed = [i for i, lab in label.items() if lab == "defect" and i not in removed]
    pii_removed = sum(label[i] == "pii" for i in removed)
    print(f"clean rows kept: {n['clean'] - len(lost)}/{n['clean']} ({1 - len(lost) / n['clean']:.1%}); "
          f"planted defects removed: {n['defect'] - len(missed)}/{n['defect']}; pii rows removed: {pii_removed}/{n['pii']}")
    if missed:
        print("defects that survived: " + ", ".join(f"{i} ({kind[i]})" for i in missed))
    if lost:
        print("clean rows lost: " + ", ".join(f"{i} ({kind[i]})" for i in sorted(lost)))
    if args.pii:
        pii_alone(records, args.pii)
    if args.show:
        texts = {r.id: r.text() for r in records}
        for r in result.removals:
            if r["reason"] == args.show or r["reason"].startswith(args.show):
                print(f"--- {r['record_id']} [{label[r['record_id']]}/{kind[r['record_id']]}] {r['reason']}: {r['detail']}")
                print(texts[r["record_id"]][:600])
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
