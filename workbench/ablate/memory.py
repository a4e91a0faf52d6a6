"""An ablation's train tasks within a memory budget: the planned peak of each, and a smaller
micro-batch where it does not fit.

The peak is `workbench train plan`'s estimate (workbench/train/plan.py) for the variant's built
data, base model and resolved train config. A config whose planned peak is within HEADROOM (85%,
as `train plan`'s suggestion: the estimates ran ~12% under measured peaks) of the budget trains
as it is: same config, same task and run ids. Otherwise the micro-batch (batch_size) drops to the
largest divisor of the effective batch (batch_size x grad_accum) that fits, and grad_accum rises
to keep the effective batch exactly; the changed config is what trains, so the run's row records
it. Nothing fits, not even a micro-batch of 1: a SpecError naming `train.batch_size`.

The budget is `workbench ablate --memory-budget` (the CLI puts it in WORKBENCH_MEMORY_BUDGET),
by default the memory the machine has available (psutil) when the task is planned; GPU memory
is not budgeted here.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import asdict, dataclass

from workbench.ablate.spec import SpecError
from workbench.core.device import placement
from workbench.core.hashing import content_hash, library_versions, model_identity
from workbench.core.memory import BUDGET_ENV, parse_size  # noqa: F401 - re-exported: the CLI and tests name them here
from workbench.core.memory import budget_mb as core_budget_mb
from workbench.core.progress import console
from workbench.core.workspace import remembered
from workbench.train.config import TrainConfig
from workbench.train.plan import HEADROOM, ModelShape, estimate, lora_param_count, model_shape, peak_seq_len, runtime_mb
from workbench.train.render import resolve_targets


def budget_mb() -> float:
    """The budget (workbench.core.memory), a bad WORKBENCH_MEMORY_BUDGET raised as a SpecError."""
    return core_budget_mb(SpecError)


@dataclass(frozen=True)
class Fit:
    batch_size: int
    grad_accum: int
    peak_mb: float  # planned peak at this batch_size
    original_peak_mb: float  # planned peak of the config as written
    budget_mb: float
    seq_len: int
    original_batch_size: int = 0
    bound: bool = False  # seq_len is the max_length bound (the data is not built yet)

    @property
    def changed(self) -> bool:
        return self.batch_size != self.original_batch_size


def split(batch_size: int, grad_accum: int, peak: Callable[[int], float], budget: float,
          valid: Callable[[int], bool] = lambda b: True, key: str = "train.batch_size") -> tuple[int, int, float]:
    """(batch_size, grad_accum, planned peak): the config's own if its peak is within HEADROOM of the
    budget, else the largest micro-batch dividing the effective batch that is (and `valid`), with
    the grad_accum that keeps batch_size x grad_accum. Raises SpecError naming `key` if none is."""
    limit = HEADROOM * budget
    own = peak(batch_size)
    if own <= limit:
        return batch_size, grad_accum, own
    effective = batch_size * grad_accum
    for b in range(batch_size - 1, 0, -1):
        if effective % b == 0 and valid(b) and (p := peak(b)) <= limit:
            return b, effective // b, p
    raise SpecError(f"{key}: does not fit the memory budget: even a micro-batch of 1 plans a peak of "
                    f"{peak(1):,.0f} MiB, over {HEADROOM:.0%} of the {budget:,.0f} MiB budget "
                    f"(batch_size {batch_size} plans {own:,.0f} MiB); shorten max_length, set "
                    f"gradient_checkpointing: true, use a smaller model or raise --memory-budget")


_parts_cache: dict[tuple, tuple] = {}
_said: set[tuple] = set()
PARTS_MEMO = "train_plan_parts.json"
PARTS_FORMAT = 1  # raise when what _measure_parts computes changes


def _parts(ws, version: str | None, base: str, config: dict) -> tuple:
    """What the plan needs besides the batch (model shape, precision, peak sequence, LoRA size,
    runtime), once per (data, base, config) in this process, and remembered across processes in
    the cache folder by content: the base model's hash, the data version (a content hash), the
    config, the device and the libraries. Measuring them imports torch, transformers, peft and trl,
    loads the tokenizer and tokenizes the data: seconds that a resumed ablation need not pay again."""
    key = (str(ws.home) if version else None, version, base, json.dumps(config, sort_keys=True, default=str))
    if key in _parts_cache:
        return _parts_cache[key]
    p = placement("auto")
    ident = model_identity(str(base))
    memo_key = content_hash([PARTS_FORMAT, ident["hash"], version, key[3], p.mode, p.device, library_versions()],
                            length=24)
    shape, seq, lora, runtime = remembered(PARTS_MEMO, memo_key,
                                           lambda: _measure_parts(ws, version, ident["path"], config, p.device))
    _parts_cache[key] = (ModelShape(**shape), p.mode, p.device, seq, lora, runtime)
    return _parts_cache[key]


def _measure_parts(ws, version: str | None, path: str, config: dict, device: str) -> list:
    """[model shape, peak sequence, LoRA parameters, runtime MiB] as JSON values (the memo's entry)."""
    cfg = TrainConfig.load(config)
    if version is None:  # before the build: the longest a sequence can be
        seq = cfg.max_length + cfg.completion_tokens()
    else:
        seq = peak_seq_len(ws, version, path, cfg)
    lora = lora_param_count(path, resolve_targets(path, cfg.target_modules), cfg.r)
    return [asdict(model_shape(path)), seq, lora, runtime_mb(device)]


def planned_peak(ws, base: str, version: str | None, config: dict, batch_size: int) -> float:
    """The planned peak (MiB) of `config` at micro-batch `batch_size`."""
    shape, mode, device, seq, lora, runtime = _parts(ws, version, base, config)
    cfg = TrainConfig.load(config).model_copy(update={"batch_size": batch_size})
    return estimate(shape, mode, device, cfg, seq, lora, runtime, 0.0).total_mb


def fit(ws, base: str, version: str | None, config: dict, label: str = "train",
        budget: float | None = None) -> Fit:
    """The micro-batch of a train task within the budget (see `split`); `version` None plans from
    max_length (the data is not built yet)."""
    budget = budget_mb() if budget is None else budget
    shape, mode, device, seq, lora, runtime = _parts(ws, version, base, config)
    cfg = TrainConfig.load(config)

    def with_batch(b: int):
        return cfg.model_copy(update={"batch_size": b, "grad_accum": cfg.batch_size * cfg.grad_accum // b})

    def peak(b: int) -> float:
        return estimate(shape, mode, device, with_batch(b), seq, lora, runtime, budget).total_mb

    def valid(b: int) -> bool:  # e.g. grpo: a micro-batch holds whole groups
        try:
            TrainConfig.load(with_batch(b).model_dump())
            return True
        except Exception:  # noqa: BLE001 - a config the trainer would refuse is no candidate
            return False

    b, ga, p = split(cfg.batch_size, cfg.grad_accum, peak, budget, valid, key=f"train.batch_size ({label})")
    return Fit(b, ga, p, peak(cfg.batch_size), budget, seq, cfg.batch_size, version is None)


def fit_config(ws, base: str, version: str, config: dict, label: str = "train") -> dict:
    """The train config that runs: `config` itself where it fits the budget, else with the split
    micro-batch (said once on the console)."""
    try:
        _parts(ws, version, base, config)
    except Exception:  # noqa: BLE001 - a plan that cannot be made (e.g. data of the wrong kind for the
        return config  # method): the config as written, and the train task fails with the trainer's error
    f = fit(ws, base, version, config, label)
    if not f.changed:
        return config
    key = (label, version, f.batch_size, f.grad_accum)
    if key not in _said:
        _said.add(key)
        console.print(describe(label, f), highlight=False, markup=False, soft_wrap=True)
    return {**config, "batch_size": f.batch_size, "grad_accum": f.grad_accum}


def describe(label: str, f: Fit) -> str:
    """The console's line for a split: what the config planned, what trains instead."""
    accum = f.batch_size * f.grad_accum // f.original_batch_size  # the config's own grad_accum
    return (f"{label}: planned peak {f.original_peak_mb:,.0f} MiB is over {HEADROOM:.0%} of the {f.budget_mb:,.0f} MiB "
            f"memory budget: micro-batch (batch_size x grad_accum) {f.original_batch_size} x {accum} -> "
            f"{f.batch_size} x {f.grad_accum}, the same effective batch of {f.batch_size * f.grad_accum}; "
            f"planned peak {f.peak_mb:,.0f} MiB")
