"""workbench: curate, synthesize, version, train and compare SFT data variants."""

import logging

__version__ = "0.1.0"

# bitsandbytes warns on every import on CPUs with AVX512-BF16 that an optional kernel could not
# be fetched from the hub; workbench trains plain LoRA on CPU, so the line is only noise.
logging.getLogger("bitsandbytes.backends.cpu.ops").setLevel(logging.ERROR)
