"""Decontamination against fixture eval suites: per-suite hits with the matching n-gram, drop or flag."""

from __future__ import annotations

import json

import pytest

from workbench.curate.decontam import Decontaminate, DecontamError
from workbench.data.records import make_record

Q = "Mia has 12 marbles and buys 7 more bags with 3 marbles in each bag. How many marbles does she have now?"


def rec(user: str, answer: str = "Here is my answer to that question."):
    return make_record([{"role": "user", "content": user}, {"role": "assistant", "content": answer}])


@pytest.fixture
def suites(tmp_path):
    (tmp_path / "mathy").mkdir()
    (tmp_path / "mathy" / "data.jsonl").write_text(json.dumps({"id": "m1", "question": Q, "answer": "#### 33"}) + "\n")
    (tmp_path / "shorty" / "sub").mkdir(parents=True)
    (tmp_path / "shorty" / "sub" / "items.jsonl").write_text(
        json.dumps({"prompt": "Name three primary colours of light please now"}) + "\n")
    return tmp_path


def test_drop_reports_suite_and_ngram(suites):
    copied = rec("Solve: " + Q.upper())
    short = rec("Quick: name three primary colours of light please now!")
    clean = rec("Mia has 12 marbles. How many does she have?")
    step = Decontaminate(Decontaminate.Params(suites_dir=str(suites)))
    res = step.apply([copied, short, clean])
    assert set(res.drops) == {copied.id, short.id}
    assert res.drops[copied.id].reason == "eval_overlap:mathy" and "mia has 12 marbles" in res.drops[copied.id].detail
    assert res.drops[short.id].reason == "eval_overlap:shorty"
    assert res.report["suites"]["mathy"]["records_hit"] == 1
    assert res.report["suites"]["mathy"]["examples"][0]["record_id"] == copied.id


def test_flag_keeps_and_errors_name_the_file(suites):
    copied = rec(Q)
    res = Decontaminate(Decontaminate.Params(suites_dir=str(suites), action="flag")).apply([copied])
    assert not res.drops and res.flags[copied.id].reason == "eval_overlap:mathy"
    (suites / "mathy" / "bad.jsonl").write_text('{"question": "ok"}\n{broken\n')
    with pytest.raises(DecontamError, match=r"bad\.jsonl:2"):
        Decontaminate(Decontaminate.Params(suites_dir=str(suites))).apply([copied])
    with pytest.raises(DecontamError, match="not found"):
        Decontaminate(Decontaminate.Params(suites_dir=str(suites), suites=["nope"])).apply([copied])
