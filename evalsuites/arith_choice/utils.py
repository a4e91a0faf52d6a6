"""lm-eval hooks for the arith_choice suite (multiple_choice: lm-eval scores acc and acc_norm)."""

from pathlib import Path

from workbench.evals import scoring

HERE = Path(__file__).resolve().parent


def load(**metadata):
    # custom_dataset: the JSONL next to this file (metadata data_file), filtered to the layer
    return scoring.load_docs(HERE, **metadata)
