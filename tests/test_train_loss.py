"""The CPU SFT loss (workbench.train.loss): the LM head over the labelled positions only gives the
same loss and the same adapter gradients as trl's tiled fused head, with and without gradient
accumulation's `num_items_in_batch`, and takes trl's path where it does not apply."""

from __future__ import annotations

import pytest

from tests.test_crn import _trainer, records


def _loss_and_grads(trainer, batch, fused: bool, num_items=None):
    import torch

    model = trainer.model
    model.train()
    model.zero_grad()
    if fused:  # trl's own path: the parent class's compute_loss
        loss = super(type(trainer).__mro__[1], trainer).compute_loss(model, dict(batch), num_items_in_batch=num_items)
    else:
        loss = trainer.compute_loss(model, dict(batch), num_items_in_batch=num_items)
    loss.backward()
    grads = {n: p.grad.detach().clone() for n, p in model.named_parameters() if p.requires_grad and p.grad is not None}
    return loss.detach(), grads


@pytest.mark.parametrize("num_items", [None, 37])
def test_selected_positions_equal_trls_fused_head(tiny_model_dir, tmp_path, num_items):
    import torch

    trainer, _, _ = _trainer(tiny_model_dir, tmp_path, records(), seed=3, dropout=0.0)
    assert type(trainer).__name__ == "KeyedSelectedPositionsSFTTrainer"
    assert type(trainer).__mro__[2].__name__ == "SFTTrainer"
    batch = next(iter(trainer.get_train_dataloader()))
    assert (batch["labels"] == -100).any() and (batch["labels"] != -100).any()  # prompts masked, answers kept
    ours, g_ours = _loss_and_grads(trainer, batch, fused=False, num_items=num_items)
    theirs, g_theirs = _loss_and_grads(trainer, batch, fused=True, num_items=num_items)
    assert torch.isfinite(ours) and ours > 0
    assert torch.allclose(ours, theirs, rtol=1e-5, atol=1e-6), (ours, theirs)
    assert set(g_ours) == set(g_theirs) and len(g_ours) > 0
    for name in g_ours:
        assert torch.allclose(g_ours[name], g_theirs[name], rtol=1e-4, atol=1e-6), name
    assert trainer._metrics["train"]["mean_token_accuracy"] and trainer._metrics["train"]["entropy"]


def test_other_losses_take_trls_path(tiny_model_dir, tmp_path):
    trainer, _, _ = _trainer(tiny_model_dir, tmp_path, records(), seed=3)
    assert trainer._plain_loss(trainer.model)
    trainer.args.loss_type = "dft"
    assert not trainer._plain_loss(trainer.model)
