"""The foundation every layer stands on: errors, config errors, hashing, the workspace, names,
processes and writer intents, progress, the think format, registries, devices and bundled models.

Nothing in here imports from the layers above (data, curate, synth, train, evals, ablate, report)."""
