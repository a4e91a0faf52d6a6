"""The SFT loss on CPU: the LM head over the labelled positions only, in one matmul.

trl 1.16's SFTTrainer patches the model with a tiled "fused LM head" that never builds the full
logits (a memory saving meant for GPUs) and computes entropy and top-1 per token as it goes. On a
CPU its small tiles cost more than they save: in a LoRA step of SmolLM2-135M (2 x 120 tokens, half
of them labelled) the tiled head took 1.65 s against 1.36 s for the backbone plus one LM-head
matmul over the labelled positions (benchmarks/README.md, "Training: the LM head and LoRA dropout").

`selected_positions_trainer(base)` subclasses an SFTTrainer class so that, on CPU and for the plain
next-token loss, `compute_loss` runs the backbone, gathers the hidden states whose next-token label
is not -100, and projects only those. The loss is the same sum over labelled tokens divided by
`num_items_in_batch` (or the batch's own count), so gradient accumulation is unchanged; entropy and
token accuracy are still logged, from the same logits without gradients. Anything else (label
smoothing, a custom loss, MoE auxiliary losses, another loss type, CUDA) takes trl's own path.
"""

from __future__ import annotations

IGNORE = -100


def labelled_logits(model, inputs):
    """(logits, targets): the LM head applied to the positions whose next token is labelled, and
    those labels. `model` is the trainer's (PEFT-wrapped) model; its adapters are injected in place,
    so calling the backbone goes through them."""
    base = model.get_base_model() if hasattr(model, "get_base_model") else model
    backbone = getattr(base, base.base_model_prefix)
    kwargs = {k: inputs[k] for k in ("attention_mask", "position_ids") if k in inputs}
    hidden = backbone(input_ids=inputs["input_ids"], use_cache=False, **kwargs).last_hidden_state
    labels = inputs["labels"]
    shifted = labels[:, 1:]
    keep = shifted != IGNORE
    return base.lm_head(hidden[:, :-1][keep]), shifted[keep]


def selected_positions_trainer(base):
    import torch
    import torch.nn.functional as F

    class SelectedPositionsSFTTrainer(base):
        def _plain_loss(self, model) -> bool:
            # one process: under DDP the forward must go through the wrapper, whose hooks reduce the gradients
            return (not torch.cuda.is_available() and self.accelerator.num_processes == 1
                    and not isinstance(model, torch.nn.parallel.DistributedDataParallel)
                    and self.compute_loss_func is None and self.label_smoother is None
                    and getattr(self.args, "loss_type", "nll") == "nll" and not getattr(self, "aux_loss_enabled", False)
                    and not getattr(self.args, "padding_free", False) and not getattr(self.args, "packing", False))

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            if return_outputs or not self._plain_loss(model):
                return super().compute_loss(model, inputs, return_outputs=return_outputs,
                                            num_items_in_batch=num_items_in_batch)
            logits, targets = labelled_logits(model, inputs)
            logp = F.log_softmax(logits.float(), dim=-1)
            total = F.nll_loss(logp, targets, reduction="sum")
            count = targets.numel() if num_items_in_batch is None else num_items_in_batch
            loss = total / torch.as_tensor(count).clamp(min=1)
            if self.args.average_tokens_across_devices and num_items_in_batch is not None:
                loss = loss * self.accelerator.num_processes
            self._log_token_metrics(model, logp, targets, inputs)
            return loss

        def _log_token_metrics(self, model, logp, targets, inputs):
            mode = "train" if model.training else "eval"
            with torch.no_grad():
                n = max(targets.numel(), 1)
                entropy = -(logp.exp() * logp).sum(-1).sum().item() / n
                accuracy = (logp.argmax(-1) == targets).sum().item() / n
            self._metrics[mode]["entropy"].append(entropy)
            self._metrics[mode]["mean_token_accuracy"].append(accuracy)
            if mode == "train" and "attention_mask" in inputs:
                self._total_train_tokens += int(inputs["attention_mask"].sum().item())
            self._metrics[mode]["num_tokens"] = [self._total_train_tokens]

    SelectedPositionsSFTTrainer.__name__ = SelectedPositionsSFTTrainer.__qualname__ = f"SelectedPositions{base.__name__}"
    return SelectedPositionsSFTTrainer
