"""lm-eval hooks for think_follow_bpb: think_follow's data, scored by the reference's likelihood only."""

from pathlib import Path

from workbench.evals import scoring

HERE = Path(__file__).resolve().parent


def load(**metadata):
    # custom_dataset: the JSONL named in metadata data_file (think_follow's), filtered to the layer
    return scoring.load_docs(HERE, **metadata)


def process_results(doc, results):
    # bits per byte of the format reference (the runner recomputes it on the exact scored text)
    return scoring.likelihood_scores(doc, results, "reference")
