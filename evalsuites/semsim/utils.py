"""lm-eval hooks for the semsim suite; the scoring itself lives in workbench.evals.scoring."""

from pathlib import Path

from workbench.evals import scoring

HERE = Path(__file__).resolve().parent


def load(**metadata):
    # custom_dataset: the JSONL next to this file (metadata data_file), filtered to the layer
    return scoring.load_docs(HERE, **metadata)


def process_results(doc, results):
    # cosine similarity to the reference with all-MiniLM-L6-v2; pass at >= 0.7
    return scoring.semsim_scores(doc, results[0])
