"""A training run: its id, the SFTTrainer fit, the step recorder and resume from checkpoints."""

from __future__ import annotations

import json
import math
import os
import resource
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path

from workbench.core.hashing import content_hash, library_versions, model_identity
from workbench.core.device import placement as train_placement
from workbench.core.models import DEFAULT_MODEL, load_base_model
from workbench.core.intents import intent
from workbench.core.processes import pid_alive
from workbench.train.config import TrainConfig, TrainError
from workbench.train.launch import is_main, world_size
from workbench.train.methods import FitArgs
from workbench.train.loss import selected_positions_trainer
from workbench.train.order import keyed_order, keyed_trainer, seed_lora_init, step_seed_callback
from workbench.train.render import Prepared, check_mask_batch, prepare_tokenizer, resolve_targets
from workbench.train.sanity import sanity_generations, sanity_prompts
from workbench.core.workspace import Workspace

@dataclass
class RunResult:
    id: str
    status: str
    adapter_dir: Path
    run_dir: Path
    reused: bool
    resumed_from: str | None = None
    mode: str = ""
    mode_reason: str = ""
    wall_s: float | None = None
    tokens_per_s: float | None = None
    peak_mem_mb: float | None = None
    versions: dict[str, str] = field(default_factory=dict)  # libraries that trained it (not in the id)


def run_id_for(version_id: str, base_hash: str, config: dict, mode: str, seed: int, init_run: str | None = None) -> str:
    """Content only: the data version, the base model's content identity, the resolved config,
    mode and seed, and the run it starts from if any (library versions are recorded in the
    run's meta, not here)."""
    key = {"version": version_id, "base": base_hash, "config": config, "mode": mode, "seed": seed}
    return content_hash({**key, "init_run": init_run} if init_run else key)


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete Trainer checkpoint. The Trainer writes trainer_state.json last, so a
    kill during saving leaves a checkpoint without it, or with the file cut short: both are
    skipped (a resume from the one before redoes those steps)."""
    if not checkpoints.exists():
        return None
    done = [p for p in checkpoints.glob("checkpoint-*") if p.name.split("-")[-1].isdigit() and _state_is_whole(p)]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


@dataclass(frozen=True)
class Fitted:
    """What `train_from` did: the checkpoint it resumed from, whether it trained, and for how long."""

    resumed_from: str | None  # the checkpoint's name (checkpoint-N); None for a fresh start
    trained: bool  # False: that checkpoint already held every step, so nothing was trained
    wall_s: float


def train_from(trainer, run_dir: Path, recorder, progress: bool) -> Fitted:
    """`trainer.train()`, resumed from the run's newest whole checkpoint if there is one (its logged
    steps replayed into the recorder first). A kill after the final checkpoint but before the run
    was marked finished leaves a checkpoint that holds every step, and transformers would train on
    from it: it checks max_steps only after a step, so a budget that ends inside an epoch got one
    step too many. Such a checkpoint's weights and state are loaded instead, and the caller saves
    the adapter as after training."""
    resume = last_checkpoint(run_dir / "checkpoints")
    if resume:
        _say(progress, f"resuming from {resume.name}")
        recorder.replay(resume)
    start = time.perf_counter()
    trained = True
    if resume is not None:
        from transformers import TrainerState

        state = TrainerState.load_from_json(str(resume / "trainer_state.json"))
        if 0 < state.max_steps <= state.global_step:
            trainer._load_from_checkpoint(str(resume))
            trainer.state = state
            trained = False
    if trained:
        trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    return Fitted(resume.name if resume else None, trained, time.perf_counter() - start)


def _state_is_whole(checkpoint: Path) -> bool:
    try:
        return isinstance(json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8")), dict)
    except (OSError, ValueError):
        return False


KEPT_ADAPTERS = "adapters"  # runs/ID/adapters/step-N: adapters kept for checkpoint averaging


def kept_steps(max_steps: int, keep: int) -> list[int]:
    """The steps before the last whose adapters a run keeps (`keep_adapters` K, the final one
    included): K-1 steps spaced max(1, N // 2K) apart, back from the last step N."""
    gap = max(1, max_steps // (2 * keep))
    return sorted(s for s in (max_steps - j * gap for j in range(1, keep)) if s > 0)


def keep_adapters_callback(run_dir: Path, keep: int):
    """Saves the LoRA adapter (weights only) at `kept_steps` into run_dir/adapters/step-N."""

    class KeepAdapters(_callback_base()):
        def on_step_end(self, args, state, control, model=None, **kw):
            if not is_main() or state.global_step not in kept_steps(state.max_steps, keep):
                return
            final = run_dir / KEPT_ADAPTERS / f"step-{state.global_step}"
            tmp = final.with_name(f".{final.name}.tmp-{os.getpid()}")
            shutil.rmtree(tmp, ignore_errors=True)
            model.save_pretrained(tmp)
            shutil.rmtree(final, ignore_errors=True)
            os.replace(tmp, final)

    return KeepAdapters()


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _say(progress: bool, msg: str) -> None:
    if progress:
        from workbench.core.progress import console

        console.print(msg, highlight=False)


def train(
    ws: Workspace,
    data_ref: str,
    base: str | None = None,
    config: "TrainConfig | dict | str | os.PathLike | None" = None,
    seed: int = 0,
    quant: str = "auto",
    progress: bool = True,
    method: str | None = None,
    init_run: str | None = None,
) -> RunResult:
    """Train (or find, or resume) the run for this dataset version, base model, config and seed.

    `method` overrides the config's (sft, dpo, grpo: workbench.train.methods); `init_run` starts
    from that finished run's adapter (SFT -> DPO chains), recorded as the run's lineage."""
    from workbench.core.diskfull import disk_full
    from workbench.train.methods import check_kind, get_method, init_adapter

    cfg = TrainConfig.load(config).with_method(method)
    how = get_method(cfg.method)
    cat = ws.catalog()
    version = cat.resolve_version(data_ref)
    base = str(base or DEFAULT_MODEL)
    ident = model_identity(base)
    placement = train_placement(quant)
    mode, mode_reason = placement.mode, placement.reason
    resolved = cfg.resolved()
    init_run, init_dir = init_adapter(cat, init_run, ident["hash"])
    world = world_size()  # > 1 under `--launcher accelerate`: N times the examples per step, another run
    run_id = run_id_for(version["id"], ident["hash"], resolved if world == 1 else {**resolved, "data_parallel": world},
                        mode, seed, init_run)
    run_dir = ws.runs_dir / run_id
    adapter_dir = run_dir / "adapter"

    existing = cat.find_run(run_id)
    if existing and existing["status"] == "finished" and (adapter_dir / "adapter_config.json").exists():
        _say(progress, f"run {run_id} already finished: {adapter_dir}")
        return RunResult(run_id, "finished", adapter_dir, run_dir, True, mode=existing["mode"],
                         mode_reason=existing["mode_reason"] or "", wall_s=existing["wall_s"],
                         tokens_per_s=existing["tokens_per_s"], peak_mem_mb=existing["peak_mem_mb"],
                         versions=(existing.get("meta") or {}).get("versions") or {})
    if is_main() and existing and existing["status"] == "running" and existing.get("pid") != os.getpid() and pid_alive(existing.get("pid")):
        raise TrainError(f"run {run_id} is being trained right now by process {existing['pid']}")

    # Everything that can be wrong with the input is checked before the catalog is touched.
    from workbench.data.store import load_records, version_kind

    records = load_records(ws, version["id"])
    check_kind(how, version_kind(records, version["name"]), version["name"])
    tokenizer = prepare_tokenizer(ident["path"], cfg.chat_template)
    data = how.prepare_fn()(records, tokenizer, cfg, seed)
    targets = resolve_targets(ident["path"], cfg.target_modules)
    _say(progress, f"run {run_id}: {mode} ({mode_reason})")

    # gc steps around the run directory until its catalog row exists (workbench.core.intents)
    with intent(ws.home, f"training run {run_id}", run_dir), disk_full(run_dir, f"training run {run_id}"):
        run_dir.mkdir(parents=True, exist_ok=True)
        if not is_main():  # a data-parallel worker: trains its share; rank 0 writes the catalog and the files
            return how.fit_fn()(FitArgs(ws, run_id, run_dir, ident, cfg, data, tokenizer, targets, mode, seed, False, init_dir))
        (run_dir / "config.json").write_text(json.dumps(
            {"version": version["id"], "base": ident, "mode": mode, "seed": seed, "config": resolved,
             "data_parallel": world, **({"init_run": init_run} if init_run else {})}, indent=2))
        cat.start_run({
            "id": run_id, "version_id": version["id"], "base_model": base, "base_model_path": ident["path"],
            "base_model_hash": ident["hash"], "run_dir": str(run_dir), "adapter_dir": str(adapter_dir),
            "mode": mode, "mode_reason": mode_reason, "config": resolved, "seed": seed, "pid": os.getpid(),
            "n_train": len(data.train), "n_eval": len(data.eval), "meta": {"data": data.stats, "versions": library_versions(),
                                                                   "method": cfg.method, "init_run": init_run,
                     "placement": placement.record(), "data_parallel": world},
        })
    try:
        with disk_full(run_dir, f"training run {run_id} (checkpoints, adapter)"):  # DiskFullError: rerun resumes
            result = how.fit_fn()(FitArgs(ws, run_id, run_dir, ident, cfg, data, tokenizer, targets, mode, seed, progress, init_dir))
    except BaseException as e:
        # Ctrl-C keeps the run resumable ('running' with no live pid resumes); errors mark it failed.
        if isinstance(e, KeyboardInterrupt):
            cat.update_run(run_id, pid=None)
        else:
            cat.fail_run(run_id, f"{type(e).__name__}: {e}")
        raise
    result.mode, result.mode_reason = mode, mode_reason
    _say(progress, f"run {run_id} finished: {adapter_dir}")
    return result


# SFTConfig argument <- TrainConfig field, for the settings passed through unchanged
_SFT_ARGS = {
    "per_device_train_batch_size": "batch_size", "per_device_eval_batch_size": "batch_size",
    "gradient_accumulation_steps": "grad_accum", "learning_rate": "learning_rate", "num_train_epochs": "epochs",
    "max_steps": "max_steps", "weight_decay": "weight_decay", "lr_scheduler_type": "lr_scheduler",
    "max_grad_norm": "max_grad_norm", "max_length": "max_length", "packing": "packing",
    "gradient_checkpointing": "gradient_checkpointing", "logging_steps": "logging_steps", "save_steps": "save_steps",
}


def train_plan(cfg: TrainConfig, data: Prepared, seed: int) -> dict:
    """The run's steps under its budget and what it sees of its rows (workbench.train.coverage):
    {ids, steps, steps_from_tokens, coverage}. Tokens of a row count up to max_length."""
    from workbench.train.coverage import budget_steps, coverage

    ids = [r["record_id"] for r in data.train]
    tokens = {r["record_id"]: min(len(r["input_ids"]), cfg.max_length) for r in data.train}
    batch = cfg.batch_size * world_size()  # data-parallel: one batch of batch_size per process
    if cfg.packing and cfg.max_tokens and cfg.max_steps <= 0:  # packed sequences hold up to max_length tokens each
        steps = math.ceil(cfg.max_tokens / (batch * cfg.grad_accum * cfg.max_length))
    else:
        steps = budget_steps(ids, tokens, seed, batch, cfg.grad_accum, cfg.max_steps, cfg.epochs, cfg.max_tokens)
    cov = coverage(ids, tokens, seed, steps, batch, cfg.grad_accum).as_dict() if not cfg.packing else None
    return {"ids": ids, "steps": steps, "steps_from_tokens": cfg.max_steps <= 0 and bool(cfg.max_tokens),
            "coverage": cov}


def make_trainer(ident, cfg: TrainConfig, data: Prepared, tokenizer, targets, mode, seed, run_dir, callbacks=()):
    """(trainer, plan): the SFTTrainer of a run, reading its rows in the keyed order of `seed`
    (workbench.train.order), its adapter initialised from the seed, and `train_plan`'s budget."""
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import PrinterCallback, set_seed
    from trl import SFTConfig, SFTTrainer

    set_seed(seed)
    model = load_base_model(ident["path"], mode)
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
                      bias="none", task_type="CAUSAL_LM")

    cuda = torch.cuda.is_available()
    bf16 = cfg.bf16(mode, cuda, cuda and torch.cuda.is_bf16_supported())
    plan = train_plan(cfg, data, seed)
    args = SFTConfig(
        output_dir=str(run_dir / "checkpoints"),
        **{arg: getattr(cfg, name) for arg, name in _SFT_ARGS.items() if arg != "max_steps"},
        max_steps=plan["steps"] if plan["steps_from_tokens"] else cfg.max_steps,  # tokens: the steps that reach them
        warmup_steps=cfg.warmup_steps or cfg.warmup_ratio,  # transformers 5: a float < 1 is a ratio
        save_strategy="steps",
        save_total_limit=2,
        eval_strategy="steps" if data.eval else "no",
        eval_steps=(cfg.eval_steps or cfg.save_steps) if data.eval else None,
        seed=seed,
        data_seed=seed,
        bf16=bf16,
        fp16=False,
        report_to=cfg.trl_report_to(run_dir),
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        dataset_num_proc=None,
        use_cpu=not cuda,
        save_only_model=False,
        shuffle_dataset=False,  # the order is ours: keyed by (seed, epoch, record id)
    )
    # Packed sequences no longer map to records: the rows go to the packer in keyed order.
    rows = [data.train[i] for i in keyed_order(plan["ids"], seed)] if cfg.packing else data.train
    train_ds = datasets.Dataset.from_list([{k: r[k] for k in ("input_ids", "labels")} for r in rows])
    eval_ds = datasets.Dataset.from_list([{k: r[k] for k in ("input_ids", "labels")} for r in data.eval]) if data.eval else None
    datasets.disable_progress_bars()  # the run has its own bar; trl's map() bars are noise here
    seed_lora_init(seed)  # the adapter's initial weights: the seed's, whatever the data
    trainer = keyed_trainer(selected_positions_trainer(SFTTrainer))(
        model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds, processing_class=tokenizer,
        peft_config=lora, callbacks=[*callbacks, step_seed_callback(seed)],
        record_ids=None if cfg.packing else plan["ids"], order_seed=seed)
    trainer.remove_callback(PrinterCallback)  # steps go to the catalog and the bar, not raw dicts on stdout
    return trainer, plan


def fit_sft(a: FitArgs) -> RunResult:
    """The sft method's fit (workbench.train.methods): a new adapter, trained by SFTTrainer."""
    if a.init_adapter is not None:
        raise TrainError("--from continues another run's adapter with dpo or grpo; sft trains a new adapter")
    return _fit(a.ws, a.run_id, a.run_dir, a.ident, a.cfg, a.data, a.tokenizer, a.targets, a.mode, a.seed, a.progress)


def _fit(ws, run_id, run_dir, ident, cfg: TrainConfig, data: Prepared, tokenizer, targets, mode, seed, progress) -> RunResult:
    cat = ws.catalog()
    recorder = _Recorder(cat if is_main() else None, run_id, progress)
    keep = [keep_adapters_callback(run_dir, cfg.keep_adapters)] if cfg.keep_adapters > 1 else []
    trainer, plan = make_trainer(ident, cfg, data, tokenizer, targets, mode, seed, run_dir, [recorder, *keep])
    # Verify the loss mask on what the model will actually see: the first collated batch.
    first = trainer.data_collator([trainer.train_dataset[i] for i in range(min(cfg.batch_size, len(trainer.train_dataset)))])
    mask_fraction = check_mask_batch(first)
    fill = batch_fill(trainer.get_train_dataloader(), plan["steps"] * cfg.grad_accum)

    fit = train_from(trainer, run_dir, recorder, progress)
    wall = fit.wall_s
    tokens = int(trainer.state.num_input_tokens_seen) - recorder.tokens_at_start if fit.trained else 0
    rate = tokens / wall if wall > 0 and tokens else None
    peak = peak_memory_mb()
    if not is_main():
        return RunResult(run_id, "finished", run_dir / "adapter", run_dir, False, wall_s=wall)

    # Adapter + tokenizer, written next to each other then moved into place in one rename.
    adapter_dir = run_dir / "adapter"
    tmp = run_dir / f"adapter.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(tmp)
    tokenizer.save_pretrained(tmp)
    shutil.rmtree(adapter_dir, ignore_errors=True)
    os.replace(tmp, adapter_dir)

    sanity = sanity_generations(trainer.model, tokenizer, sanity_prompts(data, cfg.sanity_prompts), cfg.sanity_max_new_tokens)
    (run_dir / "sanity.json").write_text(json.dumps(sanity, indent=2, ensure_ascii=False))
    losses = [s["loss"] for s in cat.run_steps(run_id) if s["loss"] is not None]
    prev = cat.find_run(run_id) or {}
    meta = {**(prev.get("meta") or {}), "target_modules": targets, "mask_fraction_first_batch": round(mask_fraction, 4),
            "nonpad_fraction": round(fill, 4), "eval_s": round(recorder.eval_s, 2),
            "resumed_from": fit.resumed_from, "global_steps": trainer.state.global_step,
            "pad_token": tokenizer.pad_token, "eos_token": tokenizer.eos_token, "coverage": plan["coverage"]}
    if cfg.keep_adapters > 1:  # the adapters an eval averages over, oldest first (the final one is adapter_dir)
        meta["kept_adapters"] = [{"step": n, "dir": str(run_dir / KEPT_ADAPTERS / f"step-{n}")}
                                 for n in kept_steps(trainer.state.max_steps, cfg.keep_adapters)]
    cat.finish_run(run_id, wall_s=wall, train_tokens=tokens, tokens_per_s=rate,
                   peak_mem_mb=peak, final_loss=losses[-1] if losses else None, sanity=sanity, meta=meta)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # finished: nothing to resume
    return RunResult(run_id, "finished", adapter_dir, run_dir, False, resumed_from=fit.resumed_from,
                     wall_s=wall, tokens_per_s=rate, peak_mem_mb=peak,
                     versions=meta.get("versions") or {})


def batch_fill(dataloader, max_batches: int | None = None) -> float:
    """Real tokens / token slots over the batches training sees (1.0: no padding at all, as
    with packing, where sequences are concatenated and told apart by position ids)."""
    real = slots = 0
    for i, batch in enumerate(dataloader):
        if max_batches is not None and i >= max_batches:
            break
        ids = batch["input_ids"]
        slots += ids.numel()
        real += int(batch["attention_mask"].sum()) if "attention_mask" in batch else ids.numel()
    return real / slots if slots else 1.0


def _callback_base():
    # transformers is imported lazily so `import workbench.train` (for TrainError) stays cheap
    from transformers import TrainerCallback

    return TrainerCallback


class _Recorder(_callback_base()):
    """Writes logged steps to the catalog (in batches, see FLUSH_EVERY_S) and draws the progress bar."""

    # Opening the catalog inside a CPU training loop takes ~0.2 s (torch's spinning threads hold
    # the cores), so loss rows are batched: written at the first step, before each checkpoint,
    # and at most every 30 s in between.
    FLUSH_EVERY_S = 30.0

    def __init__(self, cat, run_id: str, progress: bool):
        self.cat, self.run_id, self.progress = cat, run_id, progress
        self.tokens_at_start = 0
        self.eval_s = 0.0  # time in held-out evaluations (what validation curves cost)
        self._bar = None
        self._pending: list[dict] = []
        self._flushed_at = float("-inf")  # the first logged step is written at once

    def flush(self) -> None:
        if self.cat is None:  # not rank 0 of a data-parallel run: the curve is written once, there
            self._pending = []
        elif self._pending:
            self.cat.add_run_steps(self.run_id, self._pending)
            self._pending = []
        self._flushed_at = time.monotonic()

    def replay(self, checkpoint: Path) -> None:
        """Record the steps logged up to `checkpoint`, from its trainer_state.json, before resuming
        from it. They are usually in the catalog already (merged, not doubled); where the attempt
        that logged them never had its rows written (a Ray task's rows land only when it ends, so a
        driver killed mid-training loses them) this is where they still are."""
        if self.cat is None:
            return
        try:
            history = json.loads((checkpoint / "trainer_state.json").read_text(encoding="utf-8"))["log_history"]
        except (OSError, ValueError, KeyError, TypeError):
            return
        from types import SimpleNamespace

        eval_s, no_save = self.eval_s, SimpleNamespace(should_save=False)
        for entry in history if isinstance(history, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get("step"), int):
                self.on_log(None, SimpleNamespace(global_step=entry["step"]), no_save, logs=entry)
        self.eval_s = eval_s  # the earlier attempt's held-out eval time is not this one's
        self.flush()

    def on_train_begin(self, args, state, control, **kw):
        self.tokens_at_start = int(state.num_input_tokens_seen or 0)
        from workbench.core.progress import enabled

        if self.progress and enabled():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            from workbench.core.progress import console

            self._bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console)
            self._task = self._bar.add_task("train", total=state.max_steps, completed=state.global_step, loss="")
            self._bar.start()

    def on_step_end(self, args, state, control, **kw):
        from workbench.core.progress import report

        report(state.global_step, state.max_steps, "steps")  # to the ablation's display (a no-op elsewhere)
        if self._bar:
            self._bar.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
        self.eval_s += float(logs.get("eval_runtime") or 0.0)
        row = {"step": state.global_step, "loss": logs.get("loss"), "eval_loss": logs.get("eval_loss"),
               "lr": logs.get("learning_rate"), "epoch": logs.get("epoch"), "grad_norm": logs.get("grad_norm")}
        if any(row[k] is not None for k in ("loss", "eval_loss")):
            self._pending.append({k: (float(v) if k != "step" and v is not None else v) for k, v in row.items()})
            # before a checkpoint is written (a resume starts after it: its steps must be in the
            # catalog), and now and then so the browser view shows the curve while training
            if control.should_save or time.monotonic() - self._flushed_at >= self.FLUSH_EVERY_S:
                self.flush()
            if self._bar and row["loss"] is not None:
                self._bar.update(self._task, loss=f"loss {row['loss']:.3f}")

    def on_train_end(self, args, state, control, **kw):
        self.flush()
        if self._bar:
            self._bar.stop()
            self._bar = None
