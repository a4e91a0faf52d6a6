"""Common random numbers in training: the data order, the held-out split and the random streams
of a run depend on its seed and on record content, never on where a row sits in its variant.

- Order: in epoch e of a run with seed s, rows are seen in ascending `data_order_key(s, id, e)`
  (workbench.core.hashing). Two variants trained at the same seed see the rows they share in the same
  relative order; a variant that removed rows sees the rows that follow instead. The Trainer's
  RandomSampler (a permutation of positions, so a dataset of another size gets an unrelated order)
  is replaced by `KeyedOrderSampler`, installed by `keyed_trainer` (an override of the Trainer's
  `_get_train_sampler`); the Trainer calls its `set_epoch` at each epoch, resumes included.
- Held-out split (eval_fraction): the rows with the lowest `holdout_key(s, id)`.
- LoRA initialisation: `seed_lora_init` seeds torch from (seed, "lora-init") just before the
  trainer wraps the model, so it is the same for every variant at one seed.
- Dropout: `step_seed_callback` seeds torch from (seed, "step", global step) at the start of each
  optimizer step, so step t of two runs at one seed draws from the same stream (the masks agree
  where the batches have the same shape; that is as far as torch allows), and a resumed run draws
  what an uninterrupted one would have.

With `packing`, TRL concatenates the rows into packed sequences (best-fit by length), so rows are
handed to it in keyed order and the packed sequences are read in order, one order for every epoch.
"""

from __future__ import annotations

from collections.abc import Sequence

from workbench.core.hashing import data_order_key, derived_seed, holdout_key


def keyed_order(record_ids: Sequence[str], seed: int, epoch: int = 0) -> list[int]:
    """Indices into `record_ids` in the order a run with `seed` sees them in `epoch`."""
    keys = [(data_order_key(seed, rid, epoch), rid) for rid in record_ids]
    return sorted(range(len(keys)), key=keys.__getitem__)


def ordered_ids(record_ids: Sequence[str], seed: int, epoch: int = 0) -> list[str]:
    return [record_ids[i] for i in keyed_order(record_ids, seed, epoch)]


def holdout_indices(record_ids: Sequence[str], seed: int, n_eval: int) -> set[int]:
    """The `n_eval` rows held out of training: the lowest holdout keys (by content, not position)."""
    keys = [(holdout_key(seed, rid), rid) for rid in record_ids]
    return set(sorted(range(len(keys)), key=keys.__getitem__)[:n_eval])


class KeyedOrderSampler:
    """The training sampler: dataset indices in keyed order for the current epoch.

    `record_ids[i]` is the record of dataset row i. A plain iterable with a length is all a
    torch DataLoader needs from a sampler."""

    def __init__(self, record_ids: Sequence[str], seed: int):
        self.record_ids = list(record_ids)
        self.seed = int(seed)
        self.epoch = 0
        self._cache: dict[int, list[int]] = {}

    def set_epoch(self, epoch: int) -> None:
        self.epoch = int(epoch)

    def order(self, epoch: int) -> list[int]:
        if epoch not in self._cache:
            self._cache[epoch] = keyed_order(self.record_ids, self.seed, epoch)
        return self._cache[epoch]

    def __iter__(self):
        return iter(self.order(self.epoch))

    def __len__(self) -> int:
        return len(self.record_ids)


class InOrderSampler:
    """Dataset indices as they are (packed sequences, built from rows handed over in keyed order)."""

    def __init__(self, n: int):
        self.n = n

    def set_epoch(self, epoch: int) -> None:  # one order for every epoch
        pass

    def __iter__(self):
        return iter(range(self.n))

    def __len__(self) -> int:
        return self.n


def keyed_trainer(base):
    """A subclass of the TRL/transformers trainer class `base` whose training sampler is the keyed
    order. It takes two more keyword arguments: `record_ids` (the record of each train row, in the
    dataset's order; None for packed sequences, read in order) and `order_seed`."""

    class KeyedOrderTrainer(base):
        def __init__(self, *args, record_ids: Sequence[str] | None, order_seed: int, **kwargs):
            self._record_ids = None if record_ids is None else list(record_ids)
            self._order_seed = int(order_seed)
            super().__init__(*args, **kwargs)

        def _get_train_sampler(self, train_dataset=None):
            dataset = train_dataset if train_dataset is not None else self.train_dataset
            if self._record_ids is None:
                return InOrderSampler(len(dataset))
            if len(dataset) != len(self._record_ids):
                from workbench.train.config import TrainError

                raise TrainError(f"the trainer's dataset has {len(dataset)} rows for {len(self._record_ids)} "
                                 "records: cannot order it by record")
            return KeyedOrderSampler(self._record_ids, self._order_seed)

    KeyedOrderTrainer.__name__ = KeyedOrderTrainer.__qualname__ = f"Keyed{base.__name__}"
    return KeyedOrderTrainer


def seed_lora_init(seed: int) -> None:
    """Seed torch for the adapter's initialisation (call just before the trainer wraps the model)."""
    import torch

    torch.manual_seed(derived_seed(seed, "lora-init"))


def step_seed_callback(seed: int):
    """A TrainerCallback seeding torch (dropout) from (seed, step) at the start of each optimizer step."""
    import torch
    from transformers import TrainerCallback

    class StepSeeds(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            torch.manual_seed(derived_seed(seed, "step", int(state.global_step)))

    return StepSeeds()
