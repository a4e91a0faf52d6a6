"""lm-eval hooks for the think_follow suite; the scoring itself lives in workbench.evals.scoring."""

from pathlib import Path

from workbench.evals import scoring

HERE = Path(__file__).resolve().parent


def load(**metadata):
    # custom_dataset: the JSONL next to this file (metadata data_file), filtered to the layer
    return scoring.load_docs(HERE, **metadata)


def process_results(doc, results):
    # /think: non-empty closed <think> block; /no_think: none or an empty one
    return scoring.think_scores(doc, results[0])
