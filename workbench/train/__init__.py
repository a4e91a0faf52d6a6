"""SFT training of a LoRA / QLoRA adapter on one dataset version: trl's SFTTrainer + peft.

A run is named by a hash of (dataset version, base model identity, resolved config, mode,
seed). Its directory `runs/<id>/` holds the resolved config, Trainer checkpoints while it
trains, and at the end `adapter/` (a plain peft adapter plus tokenizer, loadable with
`PeftModel.from_pretrained` or lm-eval's `pretrained=BASE,peft=ADAPTER`) and `sanity.json`.

- Asking for a finished run returns it without training.
- A run that was killed resumes from its last checkpoint; the catalog keeps one row for it.
- Records are rendered with the tokenizer's chat template; the loss covers assistant turns
  only (content and the end-of-turn token, so the model learns to stop). We build the labels
  ourselves, by character offsets, because ChatML templates carry no generation markers, and
  hand SFTTrainer a pre-tokenized dataset (it still truncates, packs and collates).
"""

from __future__ import annotations

from workbench.configfile import read_config_text
from workbench.errors import WorkbenchError

import hashlib
import json
import os
import random
import resource
import shutil
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from workbench.models import DEFAULT_MODEL, ModelError, choose_mode, find_lora_targets, linear_layer_names, load_base_model, model_identity
from workbench.processes import pid_alive
from workbench.data.records import Record
from workbench.workspace import Workspace

THINK_FLAG = {"think": "/think", "no_think": "/no_think"}
EMPTY_THINK = "<think>\n\n</think>\n"
# Held-out prompts for the post-training sanity check when the data has no eval split:
# never in any training set, so they show whether the format and the stop are learnt.
SANITY_PROMPTS = [
    "Name three primary colors.",
    "What is 7 times 8? Answer briefly.",
    "Write one sentence about the sea.",
]


class TrainError(WorkbenchError, ValueError):
    """Bad training input (config, data, model/template); raised before any step runs."""


# --------------------------------------------------------------------------------------
# Config
# --------------------------------------------------------------------------------------


class TrainConfig(BaseModel):
    """Training settings. Unknown keys are errors (a typo must not silently train defaults)."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)

    # LoRA
    r: int = Field(16, gt=0)
    alpha: float = Field(32, gt=0)
    dropout: float = Field(0.05, ge=0, lt=1)
    target_modules: list[str] | None = None  # None: found from the model's linear layers
    # optimisation
    learning_rate: float = Field(2e-4, gt=0, alias="lr")
    epochs: float = Field(1.0, gt=0)
    max_steps: int = -1  # > 0 overrides epochs
    batch_size: int = Field(8, gt=0)
    grad_accum: int = Field(1, gt=0)
    warmup_ratio: float = Field(0.0, ge=0, lt=1)
    warmup_steps: int = Field(0, ge=0)
    weight_decay: float = Field(0.0, ge=0)
    lr_scheduler: str = "linear"
    max_grad_norm: float = 1.0
    # data
    max_length: int = Field(1024, gt=8)
    packing: bool = False
    assistant_only_loss: bool = True
    chat_template: str | None = None  # a Jinja template, or a path to one, for tokenizers without one
    eval_fraction: float = Field(0.0, ge=0, lt=1)
    eval_steps: int | None = Field(None, gt=0)
    # runtime
    gradient_checkpointing: bool = False
    save_steps: int = Field(50, gt=0)
    logging_steps: int = Field(1, gt=0)
    sanity_prompts: int = Field(3, ge=0)
    sanity_max_new_tokens: int = Field(64, gt=0)

    @model_validator(mode="after")
    def _check(self):
        if self.target_modules is not None and not self.target_modules:
            raise ValueError("target_modules: give at least one module name, or leave it out to find them")
        return self

    @classmethod
    def load(cls, config: "TrainConfig | dict | str | os.PathLike | None") -> "TrainConfig":
        """From None (defaults), a dict, a YAML file path or a TrainConfig; errors name the key path."""
        if config is None:
            return cls()
        if isinstance(config, cls):
            return config
        where = "train config"
        if isinstance(config, (str, os.PathLike)):
            path = Path(config)
            if not path.exists():
                raise TrainError(f"train config {path} does not exist")
            where = str(path)
            try:
                config = yaml.safe_load(read_config_text(path)) or {}
            except yaml.YAMLError as e:
                raise TrainError(f"{path}: not valid YAML: {e}") from None
            if isinstance(config, dict) and isinstance(config.get("train"), dict) and len(config) == 1:
                config = config["train"]  # allow a file with a top-level `train:` section
        if not isinstance(config, dict):
            raise TrainError(f"{where}: expected a mapping of settings, got {type(config).__name__}")
        try:
            return cls.model_validate(config)
        except ValidationError as e:
            problems = "; ".join(
                f"{'.'.join(str(p) for p in err['loc']) or '(top level)'}: {err['msg']}" for err in e.errors()
            )
            raise TrainError(f"{where}: {problems}") from None

    def resolved(self) -> dict[str, Any]:
        return self.model_dump(mode="json", by_alias=False)


# --------------------------------------------------------------------------------------
# Rendering records to token ids and loss labels
# --------------------------------------------------------------------------------------


def conversation(record: Record) -> list[dict[str, str]]:
    """The messages as trained: SmolLM3 convention for think / no_think records.

    The mode flag goes at the end of the system prompt; a no_think answer without a think
    block gets the empty one, so both modes share one format.
    """
    messages = [dict(m) for m in record.messages]
    mode = record.reasoning_mode
    if mode not in THINK_FLAG:
        return messages
    flag = THINK_FLAG[mode]
    system = next((m for m in messages if m["role"] == "system"), None)
    if system is None:
        messages.insert(0, {"role": "system", "content": flag})
    elif not system["content"].rstrip().endswith(("/think", "/no_think")):
        system["content"] = f"{system['content'].rstrip()}\n\n{flag}" if system["content"].strip() else flag
    if mode == "no_think":
        for m in messages:
            if m["role"] == "assistant" and not m["content"].lstrip().startswith("<think>"):
                m["content"] = EMPTY_THINK + m["content"]
    return messages


def _template(tokenizer, messages, **kw) -> str:
    return tokenizer.apply_chat_template(messages, tokenize=False, **kw)


def render(record: Record, tokenizer, assistant_only: bool = True) -> tuple[list[int], list[int]]:
    """(input_ids, labels) for one record; labels are -100 outside assistant turns.

    An assistant span runs from the end of the prompt that precedes it (the template with a
    generation prompt) to the end of the conversation rendered through that turn, so it
    covers the content and the end-of-turn token. Spans map to tokens by character offsets.
    """
    messages = conversation(record)
    text = _template(tokenizer, messages)
    spans = []
    for i, m in enumerate(messages):
        if m["role"] != "assistant":
            continue
        prompt = _template(tokenizer, messages[:i], add_generation_prompt=True)
        upto = _template(tokenizer, messages[: i + 1])
        # Templates that rewrite earlier turns (e.g. drop old reasoning) break the prefix
        # property; such turns are context only.
        if text.startswith(upto) and upto.startswith(prompt):
            spans.append((len(prompt), len(upto)))
    enc = tokenizer(text, add_special_tokens=False, return_offsets_mapping=True)
    ids = enc["input_ids"]
    if not assistant_only:
        return ids, list(ids)
    labels = [-100] * len(ids)
    for t, (start, end) in enumerate(enc["offset_mapping"]):
        if any(s <= start < e for s, e in spans) and end > start:
            labels[t] = ids[t]
    return ids, labels


def prepare_tokenizer(base_path: str, chat_template: str | None):
    """The base model's tokenizer with a chat template and a pad token distinct from EOS."""
    from transformers import AutoTokenizer

    try:
        tok = AutoTokenizer.from_pretrained(base_path)
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"cannot load tokenizer of {base_path!r}: {e}") from e
    if not tok.is_fast:
        raise TrainError(f"{base_path}: a fast tokenizer is needed to map assistant turns to tokens")
    if chat_template:
        path = Path(chat_template)
        tok.chat_template = path.read_text(encoding="utf-8") if len(chat_template) < 4096 and path.is_file() else chat_template
    if not getattr(tok, "chat_template", None):
        raise TrainError(
            f"the tokenizer of {base_path} has no chat template and the config gives none: "
            "set chat_template (a Jinja template or a file path) in the train config"
        )
    if tok.pad_token is None or tok.pad_token_id == tok.eos_token_id:
        # Padding with EOS would teach nothing about stopping once pads are masked; use
        # another existing special token rather than growing the vocabulary.
        candidates = [tok.unk_token, "<|endoftext|>", "<pad>", "<|pad|>", "<|finetune_right_pad_id|>", tok.bos_token]
        vocab = tok.get_vocab()
        pad = next((c for c in candidates if c and c in vocab and vocab[c] != tok.eos_token_id), None)
        if pad is None:
            raise TrainError(f"{base_path}: no special token other than EOS to pad with")
        tok.pad_token = pad
    return tok


def resolve_targets(base_path: str, explicit: list[str] | None) -> list[str]:
    """LoRA targets: the explicit list (checked against the model) or those found in it.

    Uses a weightless (meta device) copy of the architecture, so it costs nothing before training.
    """
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(AutoConfig.from_pretrained(base_path))
    except Exception as e:  # noqa: BLE001
        raise ModelError(f"cannot read the architecture of {base_path!r}: {e}") from e
    present = linear_layer_names(model)
    if explicit:
        unknown = [t for t in explicit if t not in present]
        if unknown:
            raise TrainError(
                f"target_modules: {', '.join(unknown)} not among the model's linear layers ({', '.join(present)})"
            )
        return list(explicit)
    try:
        return find_lora_targets(model)
    except ModelError as e:
        raise TrainError(f"target_modules: {e}") from None


@dataclass
class Prepared:
    train: list[dict]
    eval: list[dict]
    eval_records: list[Record]
    stats: dict


def prepare_data(records: list[Record], tokenizer, cfg: TrainConfig, seed: int) -> Prepared:
    """Tokenize and label every record; refuse data that would train on nothing."""
    if not records:
        raise TrainError("the dataset version has no records")
    rows, no_assistant, truncated_away = [], [], []
    n_label, n_tokens = 0, 0
    for rec in records:
        try:
            ids, labels = render(rec, tokenizer, cfg.assistant_only_loss)
        except Exception as e:  # noqa: BLE001 - a template error names the record
            raise TrainError(f"record {rec.id}: chat template failed: {e}") from None
        kept = sum(1 for x in labels if x != -100)
        if kept == 0:
            no_assistant.append(rec.id)
            continue
        if not cfg.packing and sum(1 for x in labels[: cfg.max_length] if x != -100) == 0:
            truncated_away.append(rec.id)
        n_label += kept
        n_tokens += len(ids)
        rows.append({"input_ids": ids, "labels": labels, "record_id": rec.id})
    if not rows:
        raise TrainError(
            f"no assistant tokens in any of the {len(records)} records after applying the chat template "
            f"(e.g. record {no_assistant[0]}): nothing to train on"
        )
    if len(truncated_away) == len(rows):
        longest_prompt = min(next(i for i, x in enumerate(r["labels"]) if x != -100) for r in rows)
        raise TrainError(
            f"max_length {cfg.max_length} truncates every record before its first assistant token "
            f"(the shortest prompt is {longest_prompt} tokens): raise max_length"
        )
    if n_label == n_tokens and cfg.assistant_only_loss:
        raise TrainError("the assistant mask selects every token: the chat template puts nothing around the turns")
    by_id = {r.id: r for r in records}
    order = list(range(len(rows)))
    random.Random(seed).shuffle(order)
    n_eval = int(round(len(rows) * cfg.eval_fraction))
    if cfg.eval_fraction and n_eval == 0:
        n_eval = 1
    if n_eval >= len(rows):
        raise TrainError(f"eval_fraction {cfg.eval_fraction} leaves no training records out of {len(rows)}")
    eval_idx = set(order[:n_eval])
    train = [rows[i] for i in range(len(rows)) if i not in eval_idx]
    evals = [rows[i] for i in sorted(eval_idx)]
    stats = {
        "records": len(records),
        "train_records": len(train),
        "eval_records": len(evals),
        "skipped_no_assistant": no_assistant,
        "truncated_away": truncated_away,
        "tokens": n_tokens,
        "label_tokens": n_label,
    }
    return Prepared(train, evals, [by_id[r["record_id"]] for r in evals], stats)


def check_mask_batch(batch: dict) -> float:
    """Fraction of real tokens that carry loss in one collated batch; fail on none or all."""
    labels = batch["labels"]
    real = batch["attention_mask"].bool() if "attention_mask" in batch else labels.new_ones(labels.shape).bool()
    if "position_ids" in batch and "attention_mask" not in batch:
        real = labels.new_ones(labels.shape).bool()
    selected = int(((labels != -100) & real).sum())
    total = int(real.sum())
    if selected == 0:
        raise TrainError("the loss mask on the first batch selects no token: no assistant text survived")
    if selected >= total:
        raise TrainError("the loss mask on the first batch selects every token: prompts would be trained on")
    return selected / total


# --------------------------------------------------------------------------------------
# Runs
# --------------------------------------------------------------------------------------


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


def run_id_for(version_id: str, base_hash: str, config: dict, mode: str, seed: int) -> str:
    key = json.dumps({"version": version_id, "base": base_hash, "config": config, "mode": mode, "seed": seed},
                     sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(key.encode()).hexdigest()[:16]


def last_checkpoint(checkpoints: Path) -> Path | None:
    """The newest complete Trainer checkpoint (a kill during saving leaves an incomplete one)."""
    if not checkpoints.exists():
        return None
    done = [p for p in checkpoints.glob("checkpoint-*") if (p / "trainer_state.json").exists()
            and p.name.split("-")[-1].isdigit()]
    return max(done, key=lambda p: int(p.name.split("-")[-1]), default=None)


def peak_memory_mb() -> float:
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # Linux: KiB


def _say(progress: bool, msg: str) -> None:
    if progress:
        from workbench.progress import console

        console.print(msg, highlight=False)


def train(
    ws: Workspace,
    data_ref: str,
    base: str | None = None,
    config: "TrainConfig | dict | str | os.PathLike | None" = None,
    seed: int = 0,
    quant: str = "auto",
    progress: bool = True,
) -> RunResult:
    """Train (or find, or resume) the run for this dataset version, base model, config and seed."""
    cfg = TrainConfig.load(config)
    cat = ws.catalog()
    version = cat.resolve_version(data_ref)
    base = str(base or DEFAULT_MODEL)
    ident = model_identity(base)
    mode, mode_reason = choose_mode(quant)
    resolved = cfg.resolved()
    run_id = run_id_for(version["id"], ident["hash"], resolved, mode, seed)
    run_dir = ws.runs_dir / run_id
    adapter_dir = run_dir / "adapter"

    existing = cat.find_run(run_id)
    if existing and existing["status"] == "finished" and (adapter_dir / "adapter_config.json").exists():
        _say(progress, f"run {run_id} already finished: {adapter_dir}")
        return RunResult(run_id, "finished", adapter_dir, run_dir, True, mode=existing["mode"],
                         mode_reason=existing["mode_reason"] or "", wall_s=existing["wall_s"],
                         tokens_per_s=existing["tokens_per_s"], peak_mem_mb=existing["peak_mem_mb"])
    if existing and existing["status"] == "running" and existing.get("pid") != os.getpid() and pid_alive(existing.get("pid")):
        raise TrainError(f"run {run_id} is being trained right now by process {existing['pid']}")

    # Everything that can be wrong with the input is checked before the catalog is touched.
    from workbench.data.store import load_records

    records = load_records(ws, version["id"])
    tokenizer = prepare_tokenizer(ident["path"], cfg.chat_template)
    data = prepare_data(records, tokenizer, cfg, seed)
    targets = resolve_targets(ident["path"], cfg.target_modules)
    _say(progress, f"run {run_id}: {mode} ({mode_reason})")

    run_dir.mkdir(parents=True, exist_ok=True)
    (run_dir / "config.json").write_text(json.dumps(
        {"version": version["id"], "base": ident, "mode": mode, "seed": seed, "config": resolved}, indent=2))
    cat.start_run({
        "id": run_id, "version_id": version["id"], "base_model": base, "base_model_path": ident["path"],
        "base_model_hash": ident["hash"], "run_dir": str(run_dir), "adapter_dir": str(adapter_dir),
        "mode": mode, "mode_reason": mode_reason, "config": resolved, "seed": seed, "pid": os.getpid(),
        "n_train": len(data.train), "n_eval": len(data.eval), "meta": {"data": data.stats},
    })
    try:
        result = _fit(ws, run_id, run_dir, ident, cfg, data, tokenizer, targets, mode, seed, progress)
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


def _fit(ws, run_id, run_dir, ident, cfg: TrainConfig, data: Prepared, tokenizer, targets, mode, seed, progress) -> RunResult:
    import datasets
    import torch
    from peft import LoraConfig
    from transformers import PrinterCallback, set_seed
    from trl import SFTConfig, SFTTrainer

    cat = ws.catalog()
    set_seed(seed)
    model = load_base_model(ident["path"], mode)
    model.config.pad_token_id = tokenizer.pad_token_id
    if model.generation_config is not None:
        model.generation_config.pad_token_id = tokenizer.pad_token_id
        model.generation_config.eos_token_id = tokenizer.eos_token_id
    lora = LoraConfig(r=cfg.r, lora_alpha=cfg.alpha, lora_dropout=cfg.dropout, target_modules=targets,
                      bias="none", task_type="CAUSAL_LM")

    cuda = torch.cuda.is_available()
    bf16 = cuda and torch.cuda.is_bf16_supported() and mode != "lora-fp32"
    args = SFTConfig(
        output_dir=str(run_dir / "checkpoints"),
        per_device_train_batch_size=cfg.batch_size,
        per_device_eval_batch_size=cfg.batch_size,
        gradient_accumulation_steps=cfg.grad_accum,
        learning_rate=cfg.learning_rate,
        num_train_epochs=cfg.epochs,
        max_steps=cfg.max_steps,
        warmup_steps=cfg.warmup_steps or cfg.warmup_ratio,  # transformers 5: a float < 1 is a ratio
        weight_decay=cfg.weight_decay,
        lr_scheduler_type=cfg.lr_scheduler,
        max_grad_norm=cfg.max_grad_norm,
        max_length=cfg.max_length,
        packing=cfg.packing,
        gradient_checkpointing=cfg.gradient_checkpointing,
        logging_steps=cfg.logging_steps,
        save_strategy="steps",
        save_steps=cfg.save_steps,
        save_total_limit=2,
        eval_strategy="steps" if data.eval else "no",
        eval_steps=(cfg.eval_steps or cfg.save_steps) if data.eval else None,
        seed=seed,
        data_seed=seed,
        bf16=bf16,
        fp16=False,
        report_to=[],
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        dataset_num_proc=None,
        use_cpu=not cuda,
        save_only_model=False,
    )
    train_ds = datasets.Dataset.from_list([{k: r[k] for k in ("input_ids", "labels")} for r in data.train])
    eval_ds = datasets.Dataset.from_list([{k: r[k] for k in ("input_ids", "labels")} for r in data.eval]) if data.eval else None
    recorder = _Recorder(cat, run_id, progress)
    datasets.disable_progress_bars()  # the run has its own bar; trl's map() bars are noise here
    trainer = SFTTrainer(model=model, args=args, train_dataset=train_ds, eval_dataset=eval_ds,
                         processing_class=tokenizer, peft_config=lora, callbacks=[recorder])
    trainer.remove_callback(PrinterCallback)  # steps go to the catalog and the bar, not raw dicts on stdout
    # Verify the loss mask on what the model will actually see: the first collated batch.
    first = trainer.data_collator([trainer.train_dataset[i] for i in range(min(cfg.batch_size, len(trainer.train_dataset)))])
    mask_fraction = check_mask_batch(first)
    fill = batch_fill(trainer.get_train_dataloader(), cfg.max_steps * cfg.grad_accum if cfg.max_steps > 0 else None)

    resume = last_checkpoint(run_dir / "checkpoints")
    if resume:
        _say(progress, f"resuming from {resume.name}")
    start = time.perf_counter()
    trainer.train(resume_from_checkpoint=str(resume) if resume else None)
    wall = time.perf_counter() - start
    tokens = int(trainer.state.num_input_tokens_seen) - recorder.tokens_at_start
    peak = peak_memory_mb()

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
            "nonpad_fraction": round(fill, 4),
            "resumed_from": resume.name if resume else None, "global_steps": trainer.state.global_step,
            "pad_token": tokenizer.pad_token, "eos_token": tokenizer.eos_token}
    cat.finish_run(run_id, wall_s=wall, train_tokens=tokens, tokens_per_s=tokens / wall if wall > 0 else None,
                   peak_mem_mb=peak, final_loss=losses[-1] if losses else None, sanity=sanity, meta=meta)
    shutil.rmtree(run_dir / "checkpoints", ignore_errors=True)  # finished: nothing to resume
    return RunResult(run_id, "finished", adapter_dir, run_dir, False, resumed_from=resume.name if resume else None,
                     wall_s=wall, tokens_per_s=tokens / wall if wall > 0 else None, peak_mem_mb=peak)


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
        self._bar = None
        self._pending: list[dict] = []
        self._flushed_at = float("-inf")  # the first logged step is written at once

    def flush(self) -> None:
        if self._pending:
            self.cat.add_run_steps(self.run_id, self._pending)
            self._pending = []
        self._flushed_at = time.monotonic()

    def on_train_begin(self, args, state, control, **kw):
        self.tokens_at_start = int(state.num_input_tokens_seen or 0)
        from workbench.progress import enabled

        if self.progress and enabled():
            from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

            from workbench.progress import console

            self._bar = Progress(TextColumn("train"), BarColumn(), MofNCompleteColumn(), TextColumn("{task.fields[loss]}"),
                                 TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn(), console=console)
            self._task = self._bar.add_task("train", total=state.max_steps, completed=state.global_step, loss="")
            self._bar.start()

    def on_step_end(self, args, state, control, **kw):
        if self._bar:
            self._bar.update(self._task, completed=state.global_step)

    def on_log(self, args, state, control, logs=None, **kw):
        logs = logs or {}
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


# --------------------------------------------------------------------------------------
# Sanity generation and merge
# --------------------------------------------------------------------------------------


def sanity_prompts(data: Prepared, n: int) -> list[dict]:
    """Prompts from the eval split when there is one, else fixed prompts outside any dataset."""
    if n <= 0:
        return []
    out = []
    for rec in data.eval_records[:n]:
        messages = conversation(rec)
        last = max(i for i, m in enumerate(messages) if m["role"] == "assistant")
        out.append({"record_id": rec.id, "mode": rec.reasoning_mode, "messages": messages[:last]})
    modes = sorted({r.reasoning_mode for r in data.eval_records} | {None}, key=str)
    for i, prompt in enumerate(SANITY_PROMPTS[: max(0, n - len(out))]):
        mode = modes[i % len(modes)]
        msgs = [{"role": "user", "content": prompt}]
        if mode in THINK_FLAG:
            msgs.insert(0, {"role": "system", "content": THINK_FLAG[mode]})
        out.append({"record_id": None, "mode": mode, "messages": msgs})
    return out


def sanity_generations(model, tokenizer, prompts: list[dict], max_new_tokens: int) -> list[dict]:
    """Greedy, left-padded batch generation; records whether each output stopped and fits its mode."""
    import torch

    if not prompts:
        return []
    texts = [tokenizer.apply_chat_template(p["messages"], tokenize=False, add_generation_prompt=True) for p in prompts]
    side = tokenizer.padding_side
    tokenizer.padding_side = "left"
    try:
        enc = tokenizer(texts, return_tensors="pt", padding=True, add_special_tokens=False).to(model.device)
    finally:
        tokenizer.padding_side = side
    was_training = model.training
    model.eval()
    with torch.no_grad():
        out = model.generate(**enc, max_new_tokens=max_new_tokens, do_sample=False,
                             pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
    if was_training:
        model.train()
    results = []
    for p, ids in zip(prompts, out[:, enc["input_ids"].shape[1]:]):
        ids = ids.tolist()
        stopped = tokenizer.eos_token_id in ids
        if stopped:
            ids = ids[: ids.index(tokenizer.eos_token_id)]
        text = tokenizer.decode(ids, skip_special_tokens=True)
        fmt_ok = bool(text.strip())
        if p["mode"] == "think":
            fmt_ok = text.lstrip().startswith("<think>") and "</think>" in text
        elif p["mode"] == "no_think":  # an empty think block, then the answer
            head = text.lstrip()
            fmt_ok = head.startswith("<think>") and "</think>" in head and not head[7:head.index("</think>")].strip()
        results.append({"record_id": p["record_id"], "mode": p["mode"], "prompt": p["messages"][-1]["content"],
                        "output": text, "new_tokens": len(ids), "stopped": stopped, "format_ok": fmt_ok})
    return results


def merge_run(ws: Workspace, run_id: str, out_dir: str | os.PathLike) -> Path:
    """Merge a finished run's adapter into its base model; writes safetensors + tokenizer to out_dir."""
    import torch
    from peft import PeftModel
    from transformers import AutoModelForCausalLM

    run = ws.catalog().get_run(run_id)
    if run["status"] != "finished":
        raise TrainError(f"run {run['id']} is {run['status']}, not finished: nothing to merge yet")
    adapter = Path(run["adapter_dir"])
    if not (adapter / "adapter_config.json").exists():
        raise TrainError(f"run {run['id']}: adapter missing at {adapter}")
    out = Path(out_dir)
    if out.exists() and any(out.iterdir()):
        raise TrainError(f"{out} exists and is not empty; choose a new directory")
    # Merge into full-precision weights, also for QLoRA runs: a merge into 4-bit weights would round.
    dtype = torch.bfloat16 if run["mode"] == "lora-bf16" else torch.float32
    base = AutoModelForCausalLM.from_pretrained(run["base_model_path"], dtype=dtype)
    merged = PeftModel.from_pretrained(base, str(adapter)).merge_and_unload()
    tmp = out.with_name(f"{out.name}.tmp-{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    merged.save_pretrained(tmp, safe_serialization=True)
    from transformers import AutoTokenizer

    AutoTokenizer.from_pretrained(str(adapter)).save_pretrained(tmp)
    if out.exists():
        out.rmdir()
    out.parent.mkdir(parents=True, exist_ok=True)
    os.replace(tmp, out)
    return out


def load_for_inference(ws: Workspace, run_id: str) -> tuple[str, Path]:
    """(base model path, adapter dir) of a finished run: what `PeftModel.from_pretrained` or
    lm-eval's HF backend (`pretrained=BASE,peft=ADAPTER`) needs."""
    run = ws.catalog().get_run(run_id)
    if run["status"] != "finished":
        raise TrainError(f"run {run['id']} is {run['status']}, not finished: no adapter to load yet")
    adapter = Path(run["adapter_dir"])
    if not (adapter / "adapter_config.json").exists():
        raise TrainError(f"run {run['id']}: adapter missing at {adapter}")
    return run["base_model_path"], adapter
