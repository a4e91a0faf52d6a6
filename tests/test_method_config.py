"""A training method owns its config section (issue 23 §5): `dpo:` and `grpo:` are validated by
the models their methods declare, TrainConfig names no method, and the shared code has no
dpo/grpo branch. (A plug-in method's own section through `workbench train --method`:
tests/test_plugins.py.)"""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import yaml

from workbench.train.config import TrainConfig, TrainError
from workbench.train.dpo_settings import DPOSettings
from workbench.train.grpo_settings import GRPOSettings
from workbench.train.methods import METHODS

REPO = Path(__file__).resolve().parents[1]
SHARED = ["workbench/train/config.py", "workbench/train/methods.py", "workbench/train/plan.py",
          "workbench/train/fitting.py", "workbench/ablate/memory.py", "workbench/report/training.py"]


def test_each_method_declares_its_section_and_panels_and_shared_code_names_none():
    assert METHODS["dpo"].settings_model() is DPOSettings and METHODS["grpo"].settings_model() is GRPOSettings
    assert METHODS["sft"].section is None and METHODS["dpo"].section == "dpo"
    assert METHODS["dpo"].panels and METHODS["grpo"].panels and not set(TrainConfig.model_fields) & set(METHODS)
    for rel in SHARED:  # no branch on a method's name: `== "grpo"`, `in ("dpo", ...)`, `.dpo.`
        text = (REPO / rel).read_text(encoding="utf-8")
        found = re.findall(r"""(==|!=|\bin)\s*[({]?\s*["'](dpo|grpo)["']|\.(dpo|grpo)\.""", text)
        assert not found, (rel, found)


def test_sections_validate_with_their_key_path_and_check_the_shared_settings(tmp_path):
    cfg = TrainConfig.load({"method": "dpo", "dpo": {"beta": 0.3}, "max_steps": 2})
    assert cfg.settings() == DPOSettings(beta=0.3) and cfg.resolved()["dpo"]["beta"] == 0.3
    assert "grpo" not in cfg.resolved() and "dpo" not in TrainConfig.load({"dpo": {"beta": 0.3}}).resolved()
    path = tmp_path / "train.yaml"
    path.write_text("max_steps: 2\ndpo:\n  beta: 0.2\n  betta: 1\n")
    with pytest.raises(TrainError, match=rf"{re.escape(str(path))}:4: dpo\.betta: Extra inputs are not permitted"):
        TrainConfig.load(path)
    with pytest.raises(TrainError, match=r"grpo\.num_generations: 4 must divide batch_size x grad_accum \(3 x 1\)"):
        TrainConfig.load({"method": "grpo", "batch_size": 3})
    with pytest.raises(TrainError, match=r"grpo: unknown reward nope"):
        TrainConfig.load({"grpo": {"rewards": ["nope"]}})
    # another method keeps the given section (an SFT -> DPO chain shares one train section)
    sft = TrainConfig.load({"max_steps": 2, "dpo": {"beta": 0.2}})
    assert sft.with_method("dpo").settings().beta == 0.2 and sft.with_method("grpo").settings() == GRPOSettings()
    assert TrainConfig.load(sft.with_method("dpo").resolved()) == sft.with_method("dpo")


@pytest.mark.parametrize("example", ["dpo.yaml", "grpo.yaml"])
def test_the_examples_train_sections_stay_valid(example):
    train = yaml.safe_load((REPO / "examples" / example).read_text())["train"]
    method = example.split(".")[0]
    cfg = TrainConfig.load(train).with_method(method)
    assert cfg.settings().model_dump() == {**type(cfg.settings())().model_dump(), **train[method]}


def test_precision_is_in_the_run_id_only_when_set_and_decides_autocast():
    assert "precision" not in TrainConfig().resolved()
    assert TrainConfig(precision="auto").resolved() == TrainConfig().resolved()
    assert TrainConfig(precision="bf16").resolved()["precision"] == "bf16"
    auto, bf16 = TrainConfig(), TrainConfig(precision="bf16")
    assert not auto.bf16("lora-fp32", cuda=False, cuda_bf16=False)  # CPU: fp32 unless asked
    assert bf16.bf16("lora-fp32", cuda=False, cuda_bf16=False)  # CPU autocast on request
    assert auto.bf16("qlora-nf4", cuda=True, cuda_bf16=True) and not auto.bf16("lora-fp32", cuda=True, cuda_bf16=True)
    assert not bf16.bf16("qlora-nf4", cuda=True, cuda_bf16=False)  # a card without bf16: never
    with pytest.raises(TrainError, match="precision"):
        TrainConfig.load({"precision": "fp16"})
