"""What the TRL trainers of dpo and grpo share: the policy (a new LoRA, or the adapter of the
run it starts from), the TrainingArguments settings, a step recorder that also keeps the
method's own numbers (rewards, margins), and the end of a run (adapter, sanity, catalog row)."""

from __future__ import annotations

import math
import os
import shutil

from workbench.data.records import Record
from workbench.core.models import load_base_model
from workbench.train.config import TrainConfig, TrainError
from workbench.train.methods import FitArgs
from workbench.train.order import holdout_indices
from workbench.train.render import Prepared
from workbench.train.sanity import sanity_generations, sanity_prompts
from workbench.train.sft import RunResult, _Recorder, peak_memory_mb, train_from


def split_rows(rows: list[dict], records: list[Record], cfg: TrainConfig, seed: int, stats: dict) -> Prepared:
    """The seeded held-out split of eval_fraction, as for SFT (rows[i] belongs to records[i])."""
    if not rows:
        raise TrainError("no usable records in the dataset version: nothing to train on")
    n_eval = max(1, round(len(rows) * cfg.eval_fraction)) if cfg.eval_fraction else 0
    if n_eval >= len(rows):
        raise TrainError(f"eval_fraction {cfg.eval_fraction} leaves no training records out of {len(rows)}")
    held = holdout_indices([r.id for r in records], seed, n_eval)  # by content, not position
    train = [rows[i] for i in range(len(rows)) if i not in held]
    evals = [rows[i] for i in sorted(held)]
    return Prepared(train, evals, [records[i] for i in sorted(held)],
                    {**stats, "train_records": len(train), "eval_records": len(evals)})


def policy(a: FitArgs):
    """(model, peft_config): the base with a new LoRA (given to the trainer as its config, so the
    reference is the base with the adapter disabled), or with the --from run's adapter, trainable."""
    from peft import LoraConfig, PeftModel

    model = load_base_model(a.ident["path"], a.mode)
    model.config.pad_token_id = a.tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = a.tokenizer.pad_token_id
        model.generation_config.eos_token_id = a.tokenizer.eos_token_id
    if a.init_adapter is not None:
        return PeftModel.from_pretrained(model, str(a.init_adapter), is_trainable=True), None
    cfg = a.cfg
    return model, LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=a.targets,
                             bias="none", task_type="CAUSAL_LM")


def trainer_settings(a: FitArgs) -> dict:
    """TrainingArguments values every method shares, from the TrainConfig."""
    import torch

    cfg, cuda = a.cfg, torch.cuda.is_available()
    has_eval = bool(a.data.eval)
    return dict(
        output_dir=str(a.run_dir / "checkpoints"), per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size, gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate, num_train_epochs=cfg.epochs, max_steps=cfg.max_steps,
        weight_decay=cfg.weight_decay, lr_scheduler_type=cfg.lr_scheduler, max_grad_norm=cfg.max_grad_norm,
        gradient_checkpointing=cfg.gradient_checkpointing, logging_steps=cfg.logging_steps, save_steps=cfg.save_steps,
        warmup_steps=cfg.warmup_steps or cfg.warmup_ratio, save_strategy="steps", save_total_limit=2,
        eval_strategy="steps" if has_eval else "no", eval_steps=(cfg.eval_steps or cfg.save_steps) if has_eval else None,
        seed=a.seed, data_seed=a.seed, bf16=cfg.bf16(a.mode, cuda, cuda and torch.cuda.is_bf16_supported()),
        fp16=False, report_to=[], disable_tqdm=True, use_cpu=not cuda, save_only_model=False,
    )


METRIC_PREFIXES = ("rewards/", "reward", "logps/", "kl", "num_tokens", "completions/mean_length")


class MetricRecorder(_Recorder):
    """The step recorder, plus the method's own logged numbers per step (`run_steps.metrics`):
    per-reward means for grpo, reward margins and accuracies for dpo."""

    def on_log(self, args, state, control, logs=None, **kw):
        metrics = {k: float(v) for k, v in (logs or {}).items()  # NaN: a reward no row of the step could score
                   if k.startswith(METRIC_PREFIXES) and isinstance(v, (int, float)) and not isinstance(v, bool)
                   and math.isfinite(v)}
        if metrics:
            self.last_metrics = metrics
            self._pending.append({"step": state.global_step, "metrics": metrics})
        super().on_log(args, state, control, logs=logs, **kw)


def run(a: FitArgs, trainer, recorder: MetricRecorder, meta: dict) -> RunResult:
    """Train (resuming from the last checkpoint), save the adapter, check it, finish the row."""
    cat = a.ws.catalog()
    fit = train_from(trainer, a.run_dir, recorder, a.progress)
    wall = fit.wall_s
    seen = int(trainer.state.num_input_tokens_seen or 0) or int(getattr(recorder, "last_metrics", {}).get("num_tokens", 0))
    tokens = (seen - recorder.tokens_at_start if seen > recorder.tokens_at_start else seen) if fit.trained else 0

    adapter_dir, tmp = a.run_dir / "adapter", a.run_dir / f"adapter.tmp-{os.getpid()}"
    shutil.rmtree(tmp, ignore_errors=True)
    trainer.model.save_pretrained(tmp, selected_adapters=["default"])  # not TRL's frozen "ref" copy
    a.tokenizer.save_pretrained(tmp)
    shutil.rmtree(adapter_dir, ignore_errors=True)
    os.replace(tmp, adapter_dir)

    sanity = sanity_generations(trainer.model, a.tokenizer, sanity_prompts(a.data, a.cfg.sanity_prompts),
                                a.cfg.sanity_max_new_tokens)
    losses = [s["loss"] for s in cat.run_steps(a.run_id) if s["loss"] is not None]
    prev = cat.find_run(a.run_id) or {}
    meta = {**(prev.get("meta") or {}), **meta, "target_modules": a.targets, "global_steps": trainer.state.global_step,
            "resumed_from": fit.resumed_from, "pad_token": a.tokenizer.pad_token}
    rate = tokens / wall if wall > 0 and tokens else None
    cat.finish_run(a.run_id, wall_s=wall, train_tokens=tokens, tokens_per_s=rate, peak_mem_mb=peak_memory_mb(),
                   final_loss=losses[-1] if losses else None, sanity=sanity, meta=meta)
    shutil.rmtree(a.run_dir / "checkpoints", ignore_errors=True)
    return RunResult(a.run_id, "finished", adapter_dir, a.run_dir, False, resumed_from=fit.resumed_from,
                     wall_s=wall, tokens_per_s=rate, peak_mem_mb=peak_memory_mb(), versions=meta.get("versions") or {})


def datasets_of(data: Prepared):
    import datasets

    datasets.disable_progress_bars()
    train = datasets.Dataset.from_list(data.train)
    return train, (datasets.Dataset.from_list(data.eval) if data.eval else None)


def drop_printer(trainer) -> None:
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)


