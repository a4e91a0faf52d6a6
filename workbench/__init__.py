"""workbench: curate, synthesize, version, train and compare SFT data variants."""

__version__ = "0.1.0"
