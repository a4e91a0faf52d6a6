"""The pii step: what counts as an email, phone number or IP address (and what does not),
drop and redact through a real curation, and its precision/recall on the labelled set."""

from __future__ import annotations

import json

import pytest

from tests.conftest import REPO
from workbench.curate.pii import PIIStep, find_pii
from workbench.curate.recipe import RecipeError, curate, load_recipe, run_steps
from workbench.data.ingest import ingest
from workbench.data.records import make_record, unique_ids
from workbench.data.store import load_records

EVAL = REPO / "datasets" / "curation_eval.jsonl"


@pytest.mark.parametrize("text, kind, value", [
    ("write to maria.lopez@gmail.com today", "email", "maria.lopez@gmail.com"),
    ("billing: support+billing@shop.example.co.uk.", "email", "support+billing@shop.example.co.uk"),
    ("call +1 415 555 0132 after lunch", "phone", "+1 415 555 0132"),
    ("the desk on (212) 555-0187", "phone", "(212) 555-0187"),
    ("ring 617-555-0199.", "phone", "617-555-0199"),
    ("London: 020 7946 0321", "phone", "020 7946 0321"),
    ("Paris +33 1 42 68 53 00", "phone", "+33 1 42 68 53 00"),
    ("the host 81.2.69.160.", "ipv4", "81.2.69.160"),
    ("ping -6 2001:4860:4860::8888 now", "ipv6", "2001:4860:4860::8888"),
])
def test_finds_each_kind_with_its_span(text, kind, value):
    (found,) = find_pii(text)
    assert found[0] == kind and text[found[1]:found[2]] == value


@pytest.mark.parametrize("text", [
    "@app.route('/hello') maps a URL", "Python 3.12.1 and numpy 1.25.0", "released on 2023-10-02",
    "between 9:00 and 17:00", "12:30:45", "1,440 minutes", "10 20 30 40 50 60", "scores 85 90 78 92 88",
    "2 + 3 = 5 parts, 123 456 789 000", "the router at 192.168.1.1, mask 255.255.255.0", "10.0.0.254",
    "loopback ::1", "a[1::2]", "documentation 203.0.113.47", "ISBN 978-3-16-148410-0", "999.999.999.999",
])
def test_look_alikes_are_not_pii(text):
    assert find_pii(text) == []


def test_private_ips_count_when_asked():
    assert find_pii("router 192.168.1.1", only_public_ips=False)[0][0] == "ipv4"
    assert find_pii("a@b.io and 81.2.69.160", kinds=("ipv4",)) == [("ipv4", 11, 22)]


def _records(rows):
    return list(unique_ids(make_record(r["messages"], meta=r.get("meta")) for r in rows))


CHATS = [
    {"messages": [{"role": "user", "content": "My address is tkim84@outlook.com, reply there."},
                  {"role": "assistant", "content": "Sure, I will write to tkim84@outlook.com or call +44 20 7946 0958."}]},
    {"messages": [{"role": "user", "content": "What is the capital of Peru?"},
                  {"role": "assistant", "content": "Lima is the capital of Peru."}]},
    {"messages": [{"role": "system", "content": "Server 151.101.1.69 is production."},
                  {"role": "user", "content": "Is it up?"}, {"role": "assistant", "content": "Yes, it answers on port 443."}]},
]


def test_redact_replaces_matches_and_records_kind_and_span_not_the_value(ws, tmp_path):
    src = tmp_path / "chats.jsonl"
    src.write_text("".join(json.dumps(c) + "\n" for c in CHATS))
    raw = ingest(ws, str(src), "chats").version
    result = curate(ws, "chats", {"steps": [{"step": "pii", "params": {"action": "redact"}}]}, "redacted")
    kept = {r.prompt(): r for r in load_records(ws, result.version.id)}
    assert len(kept) == 3  # redaction keeps every record
    first = kept["My address is [EMAIL], reply there."]
    assert first.messages[1]["content"] == "Sure, I will write to [EMAIL] or call [PHONE]."
    assert first.meta["redacted_from"] in {r["record_id"] for r in result.removals}
    assert kept["Is it up?"].messages[0]["content"] == "Server [IP] is production."
    removals = {r["record_id"]: r for r in ws.catalog().removals(result.version.id)}
    assert len(removals) == 2 and {r["parent"] for r in removals.values()} == {raw.id}
    by_reason = {r["reason"]: r["detail"] for r in removals.values()}
    assert by_reason["pii_redacted:email+phone"].startswith(
        "email in message 0 [14:32]; email in message 1 [22:40]; phone in message 1 [49:65] -> record ")
    assert by_reason["pii_redacted:ipv4"].startswith("ipv4 in message 0 [7:19] -> record ")
    for r in removals.values():  # the values themselves are never stored
        assert "@" not in r["detail"] and "7946" not in r["detail"] and "151.101" not in r["detail"]
    steps = ws.catalog().curation_steps(result.version.id)
    assert steps[0]["report"]["matches"] == {"email": 2, "phone": 1, "ipv4": 1}


def test_drop_and_roles():
    recs = _records(CHATS)
    res = run_steps(recs, load_recipe({"steps": [{"step": "pii"}]}))
    assert [r["reason"] for r in res.removals] == ["pii:email+phone", "pii:ipv4"]
    assert len(res.kept_records) == 1 and res.summary[0]["dropped"] == 2
    only_assistant = run_steps(recs, load_recipe({"steps": [{"step": "pii", "params": {"roles": ["assistant"]}}]}))
    assert [r["reason"] for r in only_assistant.removals] == ["pii:email+phone"]
    with pytest.raises(RecipeError, match=r"steps\[0\].params.action"):
        load_recipe({"steps": [{"step": "pii", "params": {"action": "mask"}}]})
    with pytest.raises(RecipeError, match=r"steps\[0\].params.kinds"):
        load_recipe({"steps": [{"step": "pii", "params": {"kinds": ["ssn"]}}]})


def test_pii_is_off_by_default_and_exact_on_the_labelled_set():
    from workbench.curate.recipe import DEFAULT_RECIPE

    assert "pii" not in [s for s, _ in load_recipe(DEFAULT_RECIPE).steps]
    rows = [json.loads(line) for line in EVAL.read_text().splitlines()]
    recs = _records(rows)
    res = PIIStep(PIIStep.Params(action="drop")).apply(recs)
    flagged = {r.id for r in recs if r.id in res.drops}
    pii = {r.id for r in recs if r.meta["label"] == "pii"}
    assert len(pii) >= 40 and flagged == pii  # precision and recall 1.0 on the labelled set
    # the bundled clean example data holds no personal information
    clean = _records(json.loads(line) for line in (REPO / "datasets" / "example_clean.jsonl").read_text().splitlines())
    assert PIIStep().apply(clean).drops == {}


def test_redacted_copies_that_become_equal_keep_unique_ids():
    recs = _records([{"messages": [{"role": "user", "content": f"Reply to {e}"}, {"role": "assistant", "content": "Done."}]}
                     for e in ("ana@mail-host.org", "ben@mail-host.org")])
    res = run_steps(recs, load_recipe({"steps": [{"step": "pii", "params": {"action": "redact"}}]}))
    kept = res.kept_records
    assert [r.messages[0]["content"] for r in kept] == ["Reply to [EMAIL]"] * 2
    assert len({r.id for r in kept}) == 2 and kept[1].meta["repeat_of"] == kept[0].id
    assert res.summary[0]["edited"] == 2 and res.summary[0]["kept"] == 2 and len(res.removals) == 2
