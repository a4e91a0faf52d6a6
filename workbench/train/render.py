"""Rendering records to token ids and loss labels; the tokenizer, LoRA targets and data split."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from workbench.core import reasoning
from workbench.data.records import Record
from workbench.core.models import ModelError, find_lora_targets, linear_layer_names
from workbench.train.config import TrainConfig, TrainError
from workbench.train.order import holdout_indices

def conversation(record: Record) -> list[dict[str, str]]:
    """The messages as trained: the mode flag at the end of the system prompt, and the empty
    think block in front of no_think answers that lack one, so both modes share one format."""
    return reasoning.as_trained(record.messages, record.reasoning_mode)


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
    n_eval = int(round(len(rows) * cfg.eval_fraction))
    if cfg.eval_fraction and n_eval == 0:
        n_eval = 1
    if n_eval >= len(rows):
        raise TrainError(f"eval_fraction {cfg.eval_fraction} leaves no training records out of {len(rows)}")
    eval_idx = holdout_indices([r["record_id"] for r in rows], seed, n_eval)  # by content, not position
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
