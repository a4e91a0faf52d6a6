"""DPO on a preference version: TRL's DPOTrainer with LoRA.

The reference is the base with the adapter disabled (TRL's PEFT path, no second model in
memory). Started from another run (`--from RUN`, an SFT -> DPO chain), that run's adapter is
trained further and TRL keeps a frozen copy of it as the reference, so the pairs are scored
against the SFT policy; the result is still one adapter over the base, so eval, merge and
export treat it like any run.

Pairs are rendered like SFT records (the /think flag in the system prompt, the empty think block
in front of no_think answers) and handed to TRL in its conversational form: `prompt` (the turns
before the completion), `chosen` and `rejected` (one assistant message each).
"""

from __future__ import annotations

import dataclasses

from workbench.data.records import Record
from workbench.train.config import TrainConfig, TrainError
from workbench.train.fitting import MetricRecorder, datasets_of, drop_printer, policy, run, split_rows, trainer_settings
from workbench.train.methods import FitArgs
from workbench.train.order import keyed_trainer, seed_lora_init, step_seed_callback
from workbench.train.render import Prepared, conversation


def pair_row(record: Record) -> dict:
    chosen = conversation(record)
    other = [*record.messages[:-1], {"role": "assistant", "content": record.rejected}]
    rejected = conversation(dataclasses.replace(record, messages=other, rejected=None))
    return {"prompt": chosen[:-1], "chosen": chosen[-1:], "rejected": rejected[-1:], "record_id": record.id}


def _prompt_tokens(tokenizer, prompt: list[dict]) -> int:
    return len(tokenizer.apply_chat_template(prompt, tokenize=True, add_generation_prompt=True, return_dict=True)["input_ids"])


def prepare_pairs(records: list[Record], tokenizer, cfg: TrainConfig, seed: int) -> Prepared:
    """The pairs as TRL rows; pairs whose prompt alone fills max_length (nothing of either
    completion would be scored) are left out and listed in the run's stats."""
    rows, kept, too_long, equal = [], [], [], 0
    for rec in records:
        try:
            row = pair_row(rec)
            n_prompt = _prompt_tokens(tokenizer, row["prompt"])
        except Exception as e:  # noqa: BLE001 - a template error names the record
            raise TrainError(f"record {rec.id}: chat template failed: {e}") from None
        if n_prompt >= cfg.max_length:
            too_long.append(rec.id)
            continue
        equal += rec.chosen == rec.rejected
        rows.append(row)
        kept.append(rec)
    if not rows:
        raise TrainError(f"every prompt of the {len(records)} pairs fills max_length {cfg.max_length}: raise max_length")
    stats = {"records": len(records), "pairs": len(rows), "prompt_too_long": too_long, "chosen_equals_rejected": equal}
    return split_rows(rows, kept, cfg, seed, stats)


def fit_dpo(a: FitArgs):
    from trl import DPOConfig, DPOTrainer

    model, lora = policy(a)
    d = a.cfg.settings()  # the `dpo:` section (workbench.train.dpo_settings)
    args = DPOConfig(**trainer_settings(a), max_length=a.cfg.max_length, beta=d.beta, loss_type=[d.loss_type],
                     label_smoothing=d.label_smoothing, include_num_input_tokens_seen="non_padding",
                     dataset_num_proc=None)
    train_ds, eval_ds = datasets_of(a.data)
    recorder = MetricRecorder(a.ws.catalog(), a.run_id, a.progress)
    seed_lora_init(a.seed)  # a new adapter's initial weights: the seed's, whatever the pairs
    # pairs in the keyed order of (seed, epoch, record id), dropout seeded per step (workbench.train.order)
    trainer = keyed_trainer(DPOTrainer)(
        model=model, args=args, train_dataset=train_ds.remove_columns("record_id"),
        eval_dataset=eval_ds.remove_columns("record_id") if eval_ds is not None else None,
        processing_class=a.tokenizer, peft_config=lora, callbacks=[recorder, step_seed_callback(a.seed)],
        record_ids=train_ds["record_id"], order_seed=a.seed)
    drop_printer(trainer)
    reference = "the --from run's adapter, frozen" if a.init_adapter else "the base, adapter disabled"
    return run(a, trainer, recorder, {"method": "dpo", "reference": reference})
