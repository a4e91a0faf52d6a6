"""Common random numbers: a run's data order, held-out split, LoRA initialisation and dropout
depend on its seed and on record content, never on a row's position in its variant."""

from __future__ import annotations

import random

import pytest

from workbench.data.records import make_record
from workbench.core.hashing import data_order_key, derived_seed, holdout_key
from workbench.train import TrainConfig, prepare_data, prepare_tokenizer
from workbench.train.order import KeyedOrderSampler, holdout_indices, keyed_order, ordered_ids

IDS = [f"rec{i:03d}" for i in range(200)]


def test_order_is_a_function_of_seed_and_content():
    order = ordered_ids(IDS, seed=3)
    assert sorted(order) == sorted(IDS) and order != IDS
    shuffled = IDS[:]
    random.Random(1).shuffle(shuffled)
    assert ordered_ids(shuffled, seed=3) == order  # where a row sits does not matter
    assert ordered_ids(IDS, seed=4) != order  # the seed does
    assert ordered_ids(IDS, seed=3, epoch=1) != order  # each epoch has its own order
    assert [data_order_key(3, r) for r in order] == sorted(data_order_key(3, r) for r in IDS)
    assert keyed_order(shuffled, 3) == [shuffled.index(r) for r in order]


@pytest.mark.parametrize("seed", [0, 1, 7])
def test_a_removal_sees_the_following_rows_instead(seed):
    removed = set(random.Random(seed).sample(IDS, 13))
    child = [r for r in reversed(IDS) if r not in removed]  # another size, another file order
    parent_order = ordered_ids(IDS, seed)
    child_order = ordered_ids(child, seed)
    assert child_order == [r for r in parent_order if r not in removed]
    for n in (24, 72, 150):  # the first n rows a run of the child sees: the parent's, minus the removed, then the next
        assert child_order[:n] == [r for r in parent_order if r not in removed][:n]
    # and in later epochs too
    assert ordered_ids(child, seed, epoch=2) == [r for r in ordered_ids(IDS, seed, epoch=2) if r not in removed]


def test_holdout_and_derived_seeds_are_keyed():
    held = {IDS[i] for i in holdout_indices(IDS, 5, 20)}
    reordered = IDS[::-1]
    assert {reordered[i] for i in holdout_indices(reordered, 5, 20)} == held
    assert held == set(sorted(IDS, key=lambda r: holdout_key(5, r))[:20])
    assert {IDS[i] for i in holdout_indices(IDS, 6, 20)} != held
    assert derived_seed(1, "step", 3) == derived_seed(1, "step", 3) != derived_seed(1, "step", 4)
    assert derived_seed(1, "lora-init") != derived_seed(2, "lora-init") and 0 <= derived_seed(9, "x") < 2**63


def test_sampler_follows_the_epoch():
    sampler = KeyedOrderSampler(IDS[:30], seed=2)
    assert list(sampler) == keyed_order(IDS[:30], 2) and len(sampler) == 30
    sampler.set_epoch(3)
    assert list(sampler) == keyed_order(IDS[:30], 2, 3)


# --- the trainer itself: what its dataloader yields and what a short run trains on ------------------


def records(n=20):
    return [make_record([{"role": "user", "content": f"Add {i} and {3 * i + 1}."},
                         {"role": "assistant", "content": f"{i} + {3 * i + 1} = {4 * i + 1}" + "." * (i % 5)}])
            for i in range(n)]


CFG = {"batch_size": 2, "grad_accum": 1, "epochs": 2, "max_length": 128, "lr": 5e-3, "dropout": 0.3,
       "save_steps": 1000, "sanity_prompts": 0}


def _trainer(tiny_model_dir, tmp_path, recs, seed, **over):
    from workbench.core.hashing import model_identity
    from workbench.train.render import resolve_targets
    from workbench.train.sft import make_trainer

    cfg = TrainConfig.load({**CFG, **over})
    tok = prepare_tokenizer(str(tiny_model_dir), None)
    data = prepare_data(recs, tok, cfg, seed)
    ident = model_identity(str(tiny_model_dir))
    trainer, plan = make_trainer(ident, cfg, data, tok, resolve_targets(ident["path"], None), "lora-fp32", seed,
                                 tmp_path / f"run-{len(recs)}-{seed}")
    by_ids = {tuple(r["input_ids"]): r["record_id"] for r in data.train}
    return trainer, plan, by_ids


def _batch_ids(batch, by_ids) -> list[str]:
    out = []
    for ids, mask in zip(batch["input_ids"].tolist(), batch["attention_mask"].tolist()):
        out.append(by_ids[tuple(t for t, m in zip(ids, mask) if m)])
    return out


def test_dataloader_yields_the_keyed_order_each_epoch(tiny_model_dir, tmp_path):
    recs = records()
    trainer, plan, by_ids = _trainer(tiny_model_dir, tmp_path, recs, seed=4)
    ids = [r.id for r in recs]
    assert plan["ids"] == ids and plan["steps"] == 20  # 2 epochs of 10 batches
    loader = trainer.get_train_dataloader()
    for epoch in (0, 1):
        loader.set_epoch(epoch)  # as the Trainer does at the start of each epoch
        seen = [r for batch in loader for r in _batch_ids(batch, by_ids)]
        assert seen == ordered_ids(ids, 4, epoch)


def test_variants_at_one_seed_train_on_the_same_sequence_but_the_removed_rows(tiny_model_dir, tmp_path):
    """Two variants differing by k rows, trained at the same seed: the same rows in the same order,
    except where the k rows would have been; the same adapter initialisation; and where the first
    steps' batches agree, the same losses (order, initialisation and dropout all shared)."""
    import torch

    recs = records()
    seed = 11
    parent_order = ordered_ids([r.id for r in recs], seed)
    removed = {parent_order[7], parent_order[12], parent_order[15]}  # k = 3, none in the first 3 batches
    child = [r for r in reversed(recs) if r.id not in removed]  # another size and file order

    def trained(recs_, seed_):
        # one budget in steps for both (an epoch budget would give the smaller variant fewer steps,
        # and so another learning-rate schedule)
        trainer, plan, by_ids = _trainer(tiny_model_dir, tmp_path, recs_, seed_, max_steps=8)
        init = {n: p.detach().clone() for n, p in trainer.model.named_parameters() if "lora_A" in n}
        seen, losses = [], []
        compute_loss = trainer.compute_loss

        def recording(model, inputs, *a, **kw):
            seen.extend(_batch_ids(inputs, by_ids))
            loss = compute_loss(model, inputs, *a, **kw)
            losses.append(float((loss[0] if isinstance(loss, tuple) else loss).detach()))
            return loss

        trainer.compute_loss = recording
        torch.rand(len(recs_))  # draws that depend on the data (as a library might) do not move the dropout stream
        trainer.train()
        return seen, losses, init

    seen_a, losses_a, init_a = trained(recs, seed)
    seen_b, losses_b, init_b = trained(child, seed)
    assert seen_a == parent_order[:16]
    assert seen_b == [r for r in parent_order if r not in removed][:16]
    assert init_a.keys() == init_b.keys() and all(torch.equal(init_a[n], init_b[n]) for n in init_a)
    assert losses_a[:3] == losses_b[:3]  # batches 0-2 are the same rows: bit-identical training so far
    assert losses_a[3] != losses_b[3]  # batch 3 holds a removed row in the parent, another row in the child

    _, losses_c, init_c = trained(recs, seed + 1)  # another seed: another initialisation and order
    assert not all(torch.equal(init_a[n], init_c[n]) for n in init_a)
