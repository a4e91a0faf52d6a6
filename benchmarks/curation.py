"""How well a curation recipe separates planted defects from clean rows, per step.

    python benchmarks/curation.py [--recipe examples/recipes/default.yaml] [--pii drop|redact]
                                  [--data datasets/curation_eval.jsonl] [--show REASON]
                                  [--set STEP.PARAM=VALUE ...] [--stats] [--domains]

Runs the recipe in memory (`workbench.curate.recipe.run_steps`, no catalog) on the labelled
set written by datasets/make_curation_eval.py and prints, per step:
  precision  removed rows that were defects (pii rows count as defects for the pii step only)
  recall     planted defects this step removed, of all planted defects (pii step: of the pii rows)
  clean lost clean rows this step removed
then the totals: clean rows kept (the >= 97% target) and every planted defect that survived.
`--pii` appends the PII step to the recipe (and measures it alone on every row); `--set`
overrides a step parameter; `--show REASON` prints the rows removed for REASON; `--stats`
prints the gopher_repetition statistics of clean turns against the planted loops, the
measurement behind the default recipe's repetition thresholds.

`--domains` runs the recipe on curation_eval.jsonl and datasets/curation_domains.jsonl together
(real GSM8K math, HumanEval code and MGSM/multilingual chat rows with planted defects; see
datasets/README.md) and prints per domain (prose, math, code, non-English) the clean rows kept,
the planted bad rows (loops, empty answers, broken think blocks, boilerplate), exact and near
duplicates removed, and precision and recall of all removals; `--domains --stats` prints the
gopher_quality and gopher_repetition statistics of each domain's clean rows against the planted ones.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections import Counter
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from workbench.curate.recipe import DEFAULT_RECIPE, load_recipe, run_steps  # noqa: E402
from workbench.data.records import make_record, unique_ids  # noqa: E402

DATA = ROOT / "datasets" / "curation_eval.jsonl"
DOMAINS = ROOT / "datasets" / "curation_domains.jsonl"


def load(path: Path):
    rows = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    return list(unique_ids(make_record(r["messages"], r.get("source", ""), r.get("reasoning_mode"), r["meta"])
                           for r in rows))


def is_target(label: str, step: str) -> bool:
    """Whether removing a row with this label is right: defects always, pii rows by the pii step."""
    return label == "defect" or (label == "pii" and step == "pii")


def repetition_table(records, spec, title: str) -> None:
    """Per rule: how many clean turns and planted-repetition rows exceed the threshold of `spec`
    (RepetitionParams), the largest clean value and the smallest value among the planted rows."""
    from workbench.curate.filters import repetition_stats

    limits = {"dup_para_frac": spec.dup_para_frac, "dup_para_char_frac": spec.dup_para_char_frac,
              "dup_line_frac": spec.dup_line_frac, "dup_line_char_frac": spec.dup_line_char_frac}
    limits |= {f"top_{n}_gram_frac": v for n, v in spec.top_ngram_frac.items()}
    limits |= {f"dup_{n}_gram_char_frac": v for n, v in spec.dup_ngram_frac.items()}
    ngrams = tuple(sorted(spec.top_ngram_frac)) + tuple(sorted(spec.dup_ngram_frac))
    top_min = max(spec.min_words, spec.top_ngram_min_words or 0)
    clean, planted = [], []  # clean: per turn; planted: per row, a list of its turns
    for r in records:
        texts = [m["content"] for m in r.turns("assistant")] if spec.per_turn else [r.assistant_text()]
        turns = [repetition_stats(t, ngrams, spec.skip_code, spec.ignore_symbol_lines) for t in texts if t.strip()]
        if r.meta["label"] == "clean":
            clean += turns
        elif r.meta["kind"] == "degenerate_repetition":
            planted.append(turns)

    def value(t, rule):
        need = top_min if rule.startswith("top_") else spec.min_words if "gram" in rule else 0
        return t[rule] if t["words"] >= need else 0.0

    unit = "turns" if spec.per_turn else "rows"
    print(f"{title}: {len(clean)} clean {unit}, {len(planted)} planted repetition rows; n-gram rules from "
          f"{spec.min_words} words, top n-gram rules from {top_min}")
    print(f"  {'rule':<22}{'limit':>7}{'clean max':>11}{'clean over':>12}{'planted over':>14}{'planted min':>13}")
    for rule, limit in limits.items():
        row_vals = [max(value(t, rule) for t in turns) for turns in planted]
        print(f"  {rule:<22}{limit:>7}{max(value(t, rule) for t in clean):>11.3f}"
              f"{sum(value(t, rule) > limit for t in clean):>12}{sum(v > limit for v in row_vals):>14}{min(row_vals):>13.3f}")
    over = sum(any(value(t, k) > v for k, v in limits.items()) for t in clean)
    caught = sum(any(value(t, k) > v for t in turns for k, v in limits.items()) for turns in planted)
    print(f"  clean {unit} over some limit: {over}/{len(clean)}; planted rows caught: {caught}/{len(planted)}")


def _top_only(records, spec) -> str:
    from workbench.curate.filters import RepetitionFilter

    filt = RepetitionFilter(spec)
    hits = [(r.meta, filt.check(r)) for r in records if r.meta["label"] == "clean" or r.meta["kind"] == "degenerate_repetition"]
    top = [(m, v) for m, v in hits if v is not None and v.reason.startswith("top_")]
    return (f"clean rows over {sum(m['label'] == 'clean' for m, _ in top)}, "
            f"planted rows over {sum(m['label'] != 'clean' for m, _ in top)}")


def repetition_tables(records, recipe) -> int:
    from workbench.curate.filters import RepetitionParams

    gopher = RepetitionParams(per_turn=False, skip_code=False, ignore_symbol_lines=False)
    repetition_table(records, gopher, "Gopher thresholds, whole assistant text (the old default)")
    per_turn = RepetitionParams()
    repetition_table(records, per_turn, "Gopher thresholds, per turn, code and symbol-only lines left out")
    for words in (10, 25, 40, 50, 75, 100):  # from how many words do the top n-gram rules mean something?
        spec = RepetitionParams(top_ngram_min_words=words, dup_ngram_frac={})
        print(f"  top n-gram rules at Gopher limits from {words:>3} words: " + _top_only(records, spec))
    spec = next(p for s, p in recipe.steps if s == "gopher_repetition")
    repetition_table(records, spec, f"recipe {recipe.name}")
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
    ap.add_argument("--set", action="append", default=[], metavar="STEP.PARAM=VALUE",
                    help="override a step parameter (YAML value), e.g. minhash_dedup.threshold=0.7")
    ap.add_argument("--show", help="print the rows removed for this reason")
    ap.add_argument("--stats", action="store_true",
                    help="gopher_repetition statistics per assistant turn: clean rows vs planted repetition")
    ap.add_argument("--domains", action="store_true",
                    help="per domain (prose, math, code, non-English) on curation_eval + curation_domains")
    args = ap.parse_args(argv)

    if args.domains:
        from curation_domains import domain_report

        command = "python benchmarks/curation.py " + " ".join(sys.argv[1:] if argv is None else argv)
        return domain_report(load(Path(args.data)) + load(DOMAINS), args.recipe, args.set, args.stats, args.show,
                             command=command)
    records = load(Path(args.data))
    if args.stats:
        return repetition_tables(records, load_recipe(args.recipe))
    label = {r.id: r.meta["label"] for r in records}
    kind = {r.id: r.meta["kind"] for r in records}
    recipe = load_recipe(args.recipe)
    if args.pii or args.set:
        spec = recipe.to_dict()
        for item in args.set:
            key, _, raw = item.partition("=")
            step, _, param = key.partition(".")
            targets = [s for s in spec["steps"] if s["step"] == step]
            if not targets or not param or not raw:
                ap.error(f"--set {item}: expected STEP.PARAM=VALUE for a step of the recipe")
            for s in targets:
                s["params"][param] = yaml.safe_load(raw)
        if args.pii:
            spec["steps"].append({"step": "pii", "params": {"action": args.pii}})
        recipe = load_recipe(spec)
    t0 = time.perf_counter()
    result = run_steps(records, recipe)
    wall = time.perf_counter() - t0

    n = Counter(label.values())
    print(f"{args.data}: {len(records)} rows ({n['clean']} clean, {n['defect']} planted defects, {n['pii']} with PII); "
          f"recipe {recipe.name} ({Path(args.recipe).name}{' + pii ' + args.pii if args.pii else ''}{''.join(' --set ' + x for x in args.set)}); {wall:.1f} s")
    by_step: dict[str, list[dict]] = {}
    for r in result.removals:
        by_step.setdefault(r["step"], []).append(r)
    print(f"{'step':<20}{'removed':>8}{'precision':>11}{'recall':>8}{'clean lost':>12}  reasons")
    for s in result.summary:
        rows = by_step.get(s["step"], [])
        hits = sum(is_target(label[r["record_id"]], s["step"]) for r in rows)
        lost = sum(label[r["record_id"]] == "clean" for r in rows)
        prec = f"{hits / len(rows):.3f}" if rows else "-"
        reasons = ", ".join(f"{k} {v}" for k, v in Counter(r["reason"] for r in rows).most_common(4))
        print(f"{s['step']:<20}{len(rows):>8}{prec:>11}{hits / max(1, n['pii'] if s['step'] == 'pii' else n['defect']):>8.3f}{lost:>12}  {reasons}")
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
