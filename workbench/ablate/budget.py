"""What an ablation's training budget covers, per variant: the share of its rows and tokens its
runs see, and for a variant compared with another (a strategy's `compare_to`, else the spec's
baseline), how many of the rows it removed (or added) fall inside the seen window.

Exact for a built variant: the keyed data order (workbench.train.order) makes the rows a run sees
a function of its seed and the row ids, so the window is computed without training. Tokens are
estimated from characters (CHARS_PER_TOKEN, each row counted up to max_length); only their share
is reported. A variant not built yet is estimated from its source files' row count.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from workbench.ablate.estimate import CHARS_PER_TOKEN, _recipe_selects, _source_rows, train_prior, train_steps
from workbench.ablate.memory import Fit, _parts as memory_parts, fit as fit_memory
from workbench.ablate.outputs import parse_output
from workbench.ablate.schema import SpecError
from workbench.ablate.tasks import build_task, train_configs
from workbench.curate.sources import WARN_SHARE, source_report
from workbench.data.store import load_records
from workbench.core.progress import fmt_s
from workbench.train.coverage import Coverage, budget_steps, coverage, removal_coverage
from workbench.train.order import holdout_indices

VERDICT = {"none": "this budget cannot measure it", "partial": "the rest cannot move the result",
           "covered": "every one of them is seen"}


@dataclass
class VariantRows:
    """A built variant's rows: ids in the version's order and estimated tokens (up to max_length)."""

    name: str
    ids: list[str]
    tokens: dict[str, int]
    config: dict
    seeds: list[int]
    cov: dict[int, Coverage] = field(default_factory=dict)

    @property
    def mean_tokens(self) -> float:
        return sum(self.tokens.values()) / len(self.tokens) if self.tokens else 0.0

    def train_ids(self, seed: int) -> list[str]:
        """The rows a run trains on: all but the eval_fraction held out (as render.prepare_data splits)."""
        frac = self.config.get("eval_fraction") or 0.0
        n_eval = max(1, round(len(self.ids) * frac)) if frac else 0
        if not n_eval or n_eval >= len(self.ids):
            return self.ids

        held = holdout_indices(self.ids, seed, n_eval)
        return [r for i, r in enumerate(self.ids) if i not in held]

    def coverage(self, seed: int) -> Coverage:
        if seed not in self.cov:
            c, ids = self.config, self.train_ids(seed)
            steps = budget_steps(ids, self.tokens, seed, c["batch_size"], c["grad_accum"], c["max_steps"], c["epochs"],
                                 c.get("max_tokens"))
            self.cov[seed] = coverage(ids, self.tokens, seed, steps, c["batch_size"], c["grad_accum"])
        return self.cov[seed]


def _steps(n: int) -> str:
    return f"{n} step" + "s" * (n != 1)


def _see(n: int) -> str:
    return "see" if n != 1 else "sees"


def _pct(values: list[float]) -> str:
    lo, hi = min(values), max(values)
    return f"{lo:.0%}" if round(lo, 2) == round(hi, 2) else f"{lo:.0%}-{hi:.0%}"


def _built_version(cat, spec, v) -> str | None:

    try:
        task = build_task(spec, v)
    except Exception:  # noqa: BLE001 - unreadable inputs: the plan reports them
        return None
    row = cat.get_task(spec.name, task.id)
    row = row if row and row["status"] == "done" else cat.find_done_task(task.id)
    return ((row or {}).get("output") or {}).get("version")


def variant_rows(ws, spec, v, config: dict) -> VariantRows | None:
    version = _built_version(ws.catalog(), spec, v)
    if not version:
        return None

    recs = load_records(ws, version)
    tokens = {r.id: max(1, min(config["max_length"], math.ceil(r.n_chars / CHARS_PER_TOKEN))) for r in recs}
    return VariantRows(v.name, [r.id for r in recs], tokens, config, spec.seeds_for(v.name))


def _parent(spec, v) -> str | None:
    if v.tag is not None and v.tag.compare_to:
        return v.tag.compare_to
    if spec.baseline not in ("base", v.name):
        return spec.baseline
    return None


def coverage_lines(ws, spec) -> list[str]:
    """One line per variant (its coverage), and one per removal or addition against its parent."""

    configs = train_configs(spec)
    rows: dict[str, VariantRows | None] = {}
    out = []
    for v in spec.variants:
        config = configs[v.name].resolved()
        if config.get("method", "sft") != "sft":
            continue  # preference pairs and prompts: their own schedules
        rows[v.name] = vr = variant_rows(ws, spec, v, config)
        if vr is None:
            select = _recipe_selects(spec, v)
            n, mean = _source_rows([spec.path(s) for s in v.sources or []], select)
            if n:
                steps = train_steps(config, n, mean)
                seen = min(n, steps * config["batch_size"] * config["grad_accum"])
                what = "selected source rows" if select else "source rows"
                out.append(f"coverage {v.name}: ~{n} {what} (before curation); {_steps(steps)} {_see(steps)} "
                           f"~{seen / n:.0%} of them (exact once built)")
            continue
        covs = [vr.coverage(s) for s in vr.seeds]
        c0 = covs[0]
        out.append(f"coverage {v.name}: {c0.rows} training rows; {_steps(c0.steps)} ({c0.epochs:.2g} epochs) {_see(c0.steps)} "
                   f"{_pct([c.row_share for c in covs])} of the rows and {_pct([c.token_share for c in covs])} "
                   f"of the tokens (seeds {', '.join(map(str, vr.seeds))})")
    for v in spec.variants:
        parent = _parent(spec, v)
        vr, pr = rows.get(v.name), rows.get(parent) if parent else None
        if vr is None or pr is None:
            continue
        mine, theirs = set(vr.ids), set(pr.ids)
        seeds = [s for s in vr.seeds if s in pr.seeds] or vr.seeds
        for what, changed, runs_of in (("removed", theirs - mine, pr), ("added", mine - theirs, vr)):
            if not changed:
                continue
            hits = [removal_coverage(runs_of.coverage(s), sorted(changed)) for s in seeds]
            worst = min(hits, key=lambda h: h.in_window)
            counts = sorted({h.in_window for h in hits})
            seen = str(counts[0]) if len(counts) == 1 else f"{counts[0]}-{counts[-1]}"
            verb = "would have been seen" if what == "removed" else f"are seen by {v.name}'s runs"
            line = (f"{v.name} {what} {len(changed)} rows {'of' if what == 'removed' else 'to'} {parent}; at this budget "
                    f"{seen} of them {verb} (seeds {', '.join(map(str, seeds))}): {VERDICT[worst.verdict]}")
            if worst.verdict != "covered":
                epoch_s = train_prior({**runs_of.config, "max_steps": -1, "epochs": 1.0, "max_tokens": None},
                                      len(runs_of.ids), runs_of.mean_tokens)
                line += f"; 1 epoch of {runs_of.name} takes ~{fmt_s(epoch_s)} per run"
            out.append(line)
    return out


def curation_warnings(ws, ablation: str, warn_share: float | None = None) -> list[dict]:
    """The per-source warnings of every curation an ablation's built variants ran (from the catalog:
    variants not built yet have none). Each warning gains the `variant` whose build it came from."""

    cat = ws.catalog(reader=True)
    out: list[dict] = []
    seen: set[str] = set()
    try:
        tasks = cat.ablation_tasks(ablation)
    except Exception:  # noqa: BLE001 - no such ablation yet (a first dry run)
        return out
    for t in tasks:
        if t["kind"] != "build" or t["status"] != "done" or not t.get("output"):
            continue
        for step in parse_output("build", t["output"]).steps:
            if step.step != "curate" or step.version in seen or not cat.version_exists(step.version):
                continue
            seen.add(step.version)
            parent = (cat.resolve_version(step.version).get("meta") or {}).get("parent")
            if not parent or not cat.version_exists(parent):
                continue
            report = source_report(load_records(ws, parent), cat.removals(step.version), warn_share=WARN_SHARE if warn_share is None else warn_share)
            out += [{**w, "variant": t["variant"]} for w in report["warnings"]]
    return out


def train_fits(ws, spec) -> dict[str, Fit]:
    """Each variant's train fit for `ablate --dry-run`: from its built data where the build is in
    the catalog, else from max_length (an upper bound)."""
    cat = ws.catalog()
    configs = train_configs(spec)
    out: dict[str, Fit] = {}
    for v in spec.variants:
        try:
            task = build_task(spec, v)
        except (OSError, SpecError):  # the dry run's table says the build cannot read its inputs
            continue
        mine = cat.get_task(spec.name, task.id)
        row = mine if mine and mine["status"] == "done" else cat.find_done_task(task.id)
        version = (row["output"] or {}).get("version") if row else None
        cfg = configs[v.name].resolved()
        try:
            memory_parts(ws, version, spec.base, cfg)
        except Exception:  # noqa: BLE001 - as in fit_config: the train task will say why
            continue
        out[v.name] = fit_memory(ws, spec.base, version, cfg, f"train {v.name}")
    return out
