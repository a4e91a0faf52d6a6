"""The tool's own decision accuracy (issue 12 section 7): planted effects found, A/A pairs not.

(a) Simulated ablations at quickstart scale: an untrained base, the baseline variant "raw",
    a variant whose data teaches the measured behaviour (planted shift), one whose data does not
    (null), and an A/A control (raw's data, two more seeds); 2 seeds per trained variant. Each
    replicate is decided exactly as the report does: seed-aware paired differences against raw
    (seed variance pooled over every trained variant), Holm over the family, and the A/A
    control's noise floor. Prints the share of planted effects detected and of null / A/A
    comparisons called significant.
(b) With --home and --ablation: real stored per-item scores of that ablation. Real seed pairs of
    each variant, and many A/A draws made by permuting each item's scores between the seeds of
    one variant, are decided the same way; prints the share called significant.
(d) Paired seeds (issue 28 §1): ablations whose variants share seeds (a common seed effect c_s,
    as common random numbers give) and whose seed noise differs per variant, one variant's 10x
    another's. Each rule's false-positive rate on null pairs and its power at 1.5x its own
    reported minimum detectable difference: today's unpaired path, the pair's own paired seeds
    (k - 1 df), and the interaction pooled over the whole variant x seed table ((V - 1)(k - 1) df).
(c) CPU seconds of the statistics per decision, and with (b) the ablation's task minutes per
    decision (train + eval wall time over variants x suites).

Run: python benchmarks/decisions.py [--reps 2000] [--items 30] [--home WORKBENCH_HOME --ablation NAME]
"""

from __future__ import annotations

import argparse
import itertools
import sys
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from workbench.evals import decide, engine, verdict  # noqa: E402
from workbench.evals.simulate import SimSpec, batch_diff, batch_interaction, batch_paired, simulate  # noqa: E402

# DESIGN.md, A/A pair (plain seed 1 - plain seed 0, 30 think_follow prompts, mean log-prob per token):
# +0.010 [+0.002, +0.018]. One seed-mean difference of 0.010 -> training-noise sd ~ 0.010 / sqrt(2);
# CI half-width 0.008 over 30 items -> per-item difference sd ~ 0.021 -> residual sd ~ 0.021 / sqrt(2).
DESIGN_SEED_SD = 0.010 / 2**0.5
DESIGN_RESID_SD = 0.008 / 2.045 * 30**0.5 / 2**0.5
DESIGN_EFFECT, DESIGN_EFFECT_ITEM_SD = 1.60, 0.43  # hybrid - plain: +1.60 [+1.44, +1.76] over 30 items


def simulated(spec: SimSpec, shift: float, reps: int, rng, shift_item_sd: float = 0.0, method: str = "holm") -> dict:
    """One ablation per replicate; verdict codes of planted and null vs raw, and of the control.
    Before: unpaired, Holm, and the A/A floor. Now (the engine's default): raw, planted and null are
    trained on common seeds, so seed s is paired with seed s; Holm; no floor."""
    s = simulate(spec, {"base": 0.0, "raw": 0.0, "planted": shift, "null": 0.0, "control": 0.0}, reps, rng,
                 same_data=("raw", "control"), seeds={"base": 1}, untrained=("base",))
    if shift_item_sd:  # the effect differs between items (it did: sd 0.43 around +1.60)
        s["planted"] = s["planted"] + rng.normal(0.0, shift_item_sd, size=(reps, 1, spec.n_items))
    pool = [s["raw"], s["planted"], s["null"], s["control"]]
    hib = spec.binary  # pass rates: higher is better; likelihood-per-byte scores: lower is better
    res = {k: batch_diff(s["raw"], s[k], pool) for k in ("planted", "null", "control")}
    new = {k: batch_paired(s["raw"], s[k], interval=False) for k in ("planted", "null")}
    floor = np.maximum(np.abs(res["control"]["lo"]), np.abs(res["control"]["hi"]))
    out = {"control": res["control"]["p"] < 0.05, "delta": float(np.mean(res["planted"]["delta"]))}
    for tag, r, fl in (("", res, floor), ("_no_floor", res, None), ("_paired", new, None)):
        p = np.stack([r["planted"]["p"], r["null"]["p"]], axis=1)
        p_adj = np.array([verdict.adjust_pvalues(row, method) for row in p], dtype=float)
        out["planted" + tag] = verdict.verdict_codes(r["planted"]["delta"], p_adj[:, 0], fl, hib) == 1
        out["null" + tag] = verdict.verdict_codes(r["null"]["delta"], p_adj[:, 1], fl, hib) != 0
    m = min(reps, 200)  # Holm over a family of 2: the MDE at alpha 0.05 / 2
    out["mdd"] = float(np.mean([decide.min_detectable(float(res["null"]["se"][j]), float(res["null"]["df"][j]),
                                                      alpha=0.05 / 2) for j in range(m)]))
    pn = batch_paired(s["raw"][:m], s["null"][:m], alpha=0.05 / 2)
    out["mdd_paired"] = float(np.nanmean([decide.min_detectable(float(pn["se"][j]), float(pn["df"][j]), alpha=0.05 / 2)
                                          for j in range(m)]))
    return out


def part_a(reps: int, items: int, seed: int) -> None:
    cont = SimSpec(n_items=items, base=2.0, sd_item=0.5, sd_ixm=0.05, sd_seed=DESIGN_SEED_SD, sd_resid=DESIGN_RESID_SD)
    binary = SimSpec(n_items=items, binary=True, sd_ixm=0.1, sd_seed=0.03, q_lo=0.1, q_hi=0.5)
    print(f"(a) simulated ablations, {items} items, 2 seeds per trained variant, {reps} replicates each")
    print(f"    likelihood scores (nats/token): training-noise sd {DESIGN_SEED_SD:.4f}, residual sd "
          f"{DESIGN_RESID_SD:.4f}, item x model sd {cont.sd_ixm} (DESIGN.md's A/A figures)")
    print(f"    pass/fail scores: item pass rates U({binary.q_lo}, {binary.q_hi}), item x model sd {binary.sd_ixm}, "
          f"training-noise sd {binary.sd_seed}")
    print("    before: unpaired, Holm over {planted, null} vs raw, adjusted p < 0.05 and |delta| beyond the A/A floor;"
          " 'no floor': the same without the floor; now: paired seeds (Behrens-Fisher), Holm, no floor\n")
    print("    MDE: mean reported minimum detectable difference at alpha 0.05 / 2 (Holm, family of 2), power 0.8;"
          " shifts are multiples of the unpaired MDE\n")
    print("| scores | planted shift | realized delta | detected (before) | null called (before) | detected (no floor) "
          "| null called (no floor) | detected (now) | null called (now) | A/A control sig. | MDE | MDE (now) |")
    print("|---|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|")
    rng = np.random.default_rng(seed)
    for spec, label in ((cont, "likelihood"), (binary, "pass/fail")):
        mdd = simulated(spec, 0.0, reps, rng)["mdd"]
        shifts = [("none (A/A)", 0.0, 0.0), ("1 x MDE", mdd, 0.0), ("1.5 x MDE", 1.5 * mdd, 0.0)]
        if not spec.binary:  # (pass rates saturate at 1 beyond this)
            shifts += [("2 x MDE", 2 * mdd, 0.0),
                       (f"DESIGN.md effect {DESIGN_EFFECT}", DESIGN_EFFECT, DESIGN_EFFECT_ITEM_SD)]
        for name, shift, item_sd in shifts:
            signed = shift if spec.binary else -shift  # the planted variant improves
            r = simulated(spec, signed, reps, rng, shift_item_sd=item_sd)
            cells = [np.mean(r[k]) for k in ("planted", "null", "planted_no_floor", "null_no_floor", "planted_paired",
                                             "null_paired", "control")]
            print(f"| {label} | {name} ({shift:.4g}) | {r['delta']:+.4g} | " + " | ".join(f"{c:.1%}" for c in cells)
                  + f" | {r['mdd']:.4g} | {r['mdd_paired']:.4g} |")


# ---------------------------------------------------------------------------------------
# (b) real stored scores
# ---------------------------------------------------------------------------------------


def stored_scores(home: str, ablation: str) -> tuple[dict, dict, list[dict]]:
    """suite -> metric -> variant -> seed -> {item_id: score}, the untrained variants, the tasks."""
    from workbench.report import targets
    from workbench.evals.engine import headline_metrics
    from workbench.core.workspace import Workspace

    ws = Workspace(Path(home))
    _, evaluated = targets(ws, ablation)
    cat = ws.catalog(reader=True)
    out: dict = {}
    untrained = set()
    for t in evaluated:
        if t["seed"] is None:
            untrained.add(t["variant"])
        for suite, rid in t["results"].items():
            rows = cat.result_samples(rid)
            # the metrics the verdict rests on: the primary one and bits per byte where scored
            heads = headline_metrics(t["primary"].get(suite), sorted({m for r in rows for m in (r["scores"] or {})}))
            for row in rows:
                for m, v in (row["scores"] or {}).items():
                    if m in heads and isinstance(v, (int, float)):
                        out.setdefault(suite, {}).setdefault(m, {}).setdefault(t["variant"], {}).setdefault(
                            t["seed"] or 0, {})[str(row["item_id"])] = float(v)
    return out, {"untrained": untrained}, cat.ablation_tasks(ablation)


def _matrix(per_seed: dict) -> np.ndarray:
    items = sorted(set.intersection(*(set(v) for v in per_seed.values())))
    return np.array([[per_seed[s][i] for i in items] for s in sorted(per_seed)], dtype=float)


def part_b(home: str, ablation: str, draws: int, seed: int) -> int:
    scores, info, tasks = stored_scores(home, ablation)
    rng = np.random.default_rng(seed)
    print(f"\n(b) ablation {ablation!r} in {home}: A/A comparisons from stored per-item scores")
    print("| suite | metric | variant | kind | comparisons | called significant |")
    print("|---|---|---|---|---:|---:|")
    decisions = 0
    for suite, metrics in sorted(scores.items()):
        for metric, variants in sorted(metrics.items()):
            trained = {v: s for v, s in variants.items() if v not in info["untrained"]}
            pool_arrays = [_matrix(s) for s in trained.values() if len(s) >= 2]
            seed_var = decide.pooled_seed_variance(list(trained.values()))
            decisions += max(len(variants) - 1, 0)
            for v, per_seed in sorted(trained.items()):
                if len(per_seed) < 2:
                    continue
                pairs = [decide.seed_aware_diff({i: per_seed[i]}, {j: per_seed[j]}, seed_var=seed_var)
                         for i, j in itertools.combinations(sorted(per_seed), 2)]
                hits = sum(d.p < 0.05 for d in pairs)
                print(f"| {suite} | {metric} | {v} | real seed pairs | {len(pairs)} "
                      f"| {hits} ({hits / len(pairs):.0%}) |")
                x = _matrix(per_seed)
                k, n = x.shape
                order = np.argsort(rng.random((draws, k, n)), axis=1)  # per item, shuffle its seeds' scores
                perm = np.take_along_axis(np.broadcast_to(x, (draws, k, n)), order, axis=1)
                r = batch_diff(perm[:, : k // 2], perm[:, k // 2:], pool_arrays)
                rate = float(np.mean(r["p"] < 0.05))
                print(f"| {suite} | {metric} | {v} | permuted A/A draws | {draws} | {rate:.1%} |")
    # a task reused from another ablation has no wall time here: take the run that did the work
    from workbench.core.workspace import Workspace

    cat = Workspace(Path(home)).catalog(reader=True)
    walls = []
    for t in tasks:
        if t["kind"] in ("train", "eval") and t["status"] == "done":
            wall = t.get("wall_s") or 0.0
            if not wall:
                rows = cat.query("SELECT max(wall_s) AS w FROM ablation_tasks WHERE task_id = ?", [t["task_id"]])
                wall = (rows[0]["w"] if rows else None) or 0.0
            walls.append(wall)
    minutes = sum(walls) / 60
    if decisions:
        print(f"\n(c) task time: {minutes:.1f} min of train + eval over {decisions} decisions "
              f"(variant x suite vs the baseline): {minutes / decisions:.2f} min per decision")
    return decisions


# ---------------------------------------------------------------------------------------
# (d) paired seeds, variant-specific seed noise
# ---------------------------------------------------------------------------------------

PAIRED_VARIANTS = ("raw", "quiet", "noisy", "other", "control")  # control: raw's data, its own seed noise
RULES = ("unpaired (today)", "paired, pair's own seeds, largest of three (before)",
         "paired, pooled interaction (before)", "paired, Behrens-Fisher fiducial (now)")


def paired_rules(s: dict, a: str, b: str, interval: bool = False, only: str | None = None) -> dict[str, dict]:
    """B - A per replicate under each rule (seed variance / interaction over every variant)."""
    table = [s[v] for v in PAIRED_VARIANTS]
    make = {RULES[0]: lambda: batch_diff(s[a], s[b], table),
            RULES[1]: lambda: batch_interaction(s[a], s[b], [s[a], s[b]]),
            RULES[2]: lambda: batch_interaction(s[a], s[b], table),
            RULES[3]: lambda: batch_paired(s[a], s[b], interval=interval)}
    return {name: f() for name, f in make.items() if only in (None, name)}


_DFS = np.geomspace(0.3, 1e6, 400)
_NCP = np.array([decide.min_detectable(1.0, float(df)) for df in _DFS])  # MDE / se at alpha 0.05, power 0.8


def reported_mdd(r: dict) -> np.ndarray:
    """Each replicate's reported MDE, min_detectable(se, df), vectorized through a table over df."""
    ncp = np.interp(np.log(np.clip(r["df"], _DFS[0], _DFS[-1])), np.log(_DFS), _NCP)
    return ncp * r["se"]


def part_d(reps: int, items: int, seed: int, seeds: tuple[int, ...] = (2, 3, 4)) -> dict:
    """Each rule's false positives on null pairs and its power: at 1.5x the MDE each simulated
    ablation reports, at 1.5x the mean reported MDE, and at one common effect (1.5x the new rule's
    mean MDE). Returns {(k, pair, rule): {fp, mdd, power, power_mean, power_common}}."""
    rng = np.random.default_rng(seed + 4)
    quiet, ratio = 0.01, 10.0
    print(f"\n(d) paired seeds: {len(PAIRED_VARIANTS)} variants on common seeds, {items} items, {reps} replicates; "
          f"variant x seed sd {quiet} (noisy: {ratio:g}x, {quiet * ratio}), common seed effect sd 0.03 (the same "
          "data order and initialisation for the same seed), item x model sd 0.05, residual sd 0.03 "
          "(bits-per-byte-like); control: raw's data with its own seed noise on the same seeds (an A/A pair)")
    print("    called = p < 0.05 in the planted direction (one comparison, no family). Power: B shifted by 1.5x "
          "the MDE its own ablation reports (the shift moves delta, not the se); by 1.5x the rule's mean "
          "reported MDE; and by one common effect, 1.5x the new rule's mean MDE, for every rule\n")
    print("| seeds | pair | rule | false positives (null) | mean reported MDE | power at 1.5x its reported MDE "
          "| at 1.5x its mean MDE | at the common effect |")
    print("|---:|---|---|---:|---:|---:|---:|---:|")
    out = {}
    for k in seeds:
        spec = SimSpec(n_items=items, seeds=k, sd_seed=quiet, sd_common=0.03)
        sds = {"noisy": quiet * ratio}
        names = {v: 0.0 for v in PAIRED_VARIANTS}
        null = simulate(spec, names, reps, rng, seed_sd=sds, same_data=("raw", "control"))
        fresh = simulate(spec, names, reps, rng, seed_sd=sds, same_data=("raw", "control"))
        for a, b in (("raw", "quiet"), ("raw", "noisy"), ("raw", "control")):
            rules = paired_rules(null, a, b, interval=True)
            mdds = {name: reported_mdd(r) for name, r in rules.items()}
            common = 1.5 * float(np.nanmean(mdds[RULES[-1]]))
            for name, r in rules.items():
                row = {"fp": float(np.mean(r["p"] < 0.05)), "mdd": float(np.nanmean(mdds[name]))}
                shifts = (1.5 * np.nan_to_num(mdds[name])[:, None, None], 1.5 * row["mdd"], common)
                for key, shift, data in zip(("power", "power_mean", "power_common"), shifts, (null, fresh, fresh)):
                    got = paired_rules({**data, b: data[b] + shift}, a, b, only=name)[name]
                    row[key] = float(np.mean((got["p"] < 0.05) & (got["delta"] > 0)))
                out[(k, f"{b} - {a}", name)] = row
                print(f"| {k} | {b} - {a} | {name} | {row['fp']:.1%} | {row['mdd']:.4f} | {row['power']:.1%} "
                      f"| {row['power_mean']:.1%} | {row['power_common']:.1%} |")
    return out


def stats_cost(reps: int = 200) -> float:
    """CPU seconds of one decision's statistics (pooled variance, difference, MDE, Holm)."""
    rng = np.random.default_rng(0)
    s = simulate(SimSpec(n_items=30), {"raw": 0.0, "b": 0.0, "c": 0.0}, 1, rng, same_data=("raw", "c"))
    per = {k: {j: {f"i{i}": float(v[0, j, i]) for i in range(30)} for j in range(2)} for k, v in s.items()}
    t0 = time.process_time()
    for _ in range(reps):
        sv = decide.pooled_seed_variance(per.values())
        d = decide.seed_aware_diff(per["raw"], per["b"], seed_var=sv)
        c = decide.seed_aware_diff(per["raw"], per["c"], seed_var=sv)
        engine.decide([engine.Question("raw", "b", "s", "m", d, family="f", floor=(c,))])
    return (time.process_time() - t0) / reps


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--reps", type=int, default=2000)
    ap.add_argument("--items", type=int, default=30)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--home", help="a WORKBENCH_HOME holding a finished ablation (part b)")
    ap.add_argument("--ablation", help="the ablation's name (part b)")
    ap.add_argument("--draws", type=int, default=2000, help="permuted A/A draws per variant (part b)")
    ap.add_argument("--skip-simulated", action="store_true")
    ap.add_argument("--paired", action="store_true", help="only part (d): paired seeds, variant-specific noise")
    args = ap.parse_args()
    t0 = time.perf_counter()
    if args.paired:
        part_d(args.reps, args.items, args.seed)
        return
    if not args.skip_simulated:
        part_a(args.reps, args.items, args.seed)
        part_d(args.reps, args.items, args.seed)
    if bool(args.home) != bool(args.ablation):
        ap.error("--home and --ablation go together")
    if args.home:
        part_b(args.home, args.ablation, args.draws, args.seed)
    cost = stats_cost()
    print(f"\n(c) statistics per decision: {cost * 1000:.1f} ms CPU ({cost / 60:.2e} CPU min); "
          f"whole benchmark {time.perf_counter() - t0:.1f} s wall")
    print("    a decision's real cost is its training and eval runs: see (b) for a stored ablation")


if __name__ == "__main__":
    main()
