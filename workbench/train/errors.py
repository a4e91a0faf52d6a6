"""The error raised for bad training input (re-exported by workbench.train.config)."""

from __future__ import annotations

from workbench.core.errors import ConfigError


class TrainError(ConfigError):
    """Bad training input (config, data, model/template); raised before any step runs."""
