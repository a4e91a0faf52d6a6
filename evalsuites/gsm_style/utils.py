"""lm-eval hooks for the gsm_style suite; the scoring itself lives in workbench.evals.scoring."""

from pathlib import Path

from workbench.evals import scoring

HERE = Path(__file__).resolve().parent


def load(**metadata):
    # custom_dataset: the JSONL next to this file (metadata data_file), filtered to the layer
    return scoring.load_docs(HERE, **metadata)


def process_results(doc, results):
    # strict '#### N' and flexible last-number extraction, as lm-eval's gsm8k
    return scoring.gsm_scores(doc, results[0])
