"""Personal information: emails, phone numbers and IP addresses in any turn; drop or redact.

In the spirit of datatrove's PIIFormatter (emails and public IPs): a regular expression
finds candidates and a validator keeps the real ones. IPv4/IPv6 candidates must parse
(`ipaddress`) and, with `only_public_ips`, be globally routable: 192.168.1.1 in a router
tutorial, `::1` or the documentation ranges are not anyone's address. A phone number needs
9-15 digits and either a leading `+`, or a last group of 3-6 digits and a bracketed area
code, a leading 0 or the North American 3-3-4 shape, so prices, dates, times and lists of numbers stay out.

`action: drop` removes the record; `action: redact` replaces each match with a placeholder
(`[EMAIL]`, `[PHONE]`, `[IP]`) and the record with its redacted copy (a new id, since ids are
content hashes; `meta.redacted_from` names the original). Either way the removal row says
where: the kind and the span (`email in message 1 [52:71]`), never the value itself.
Off by default; add `- step: pii` to a recipe.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass
from typing import Literal

from pydantic import Field

from workbench.curate.steps import Params, Step, StepResult, Verdict, register
from workbench.data.records import Record

Kind = Literal["email", "phone", "ipv4", "ipv6"]
KINDS: tuple[str, ...] = ("email", "phone", "ipv4", "ipv6")

_EMAIL = re.compile(
    r"(?<![\w.+%-])[A-Za-z0-9][A-Za-z0-9._%+-]*@(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?\.)+[A-Za-z]{2,}(?![\w-])"
)
_OCTET = r"(?:25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)"
_IPV4 = re.compile(rf"(?<![\w.]){_OCTET}(?:\.{_OCTET}){{3}}(?!\w|\.\d)")
_IPV6 = re.compile(r"(?<![\w:.])(?:[0-9A-Fa-f]{0,4}:){2,7}[0-9A-Fa-f]{0,4}(?![\w:])")
_PHONE = re.compile(r"(?<![\w+])(?:\+\d{1,3}[ .-]?)?(?:\(\d{1,4}\)[ .-]?)?\d{1,4}(?:[ .-]\d{2,6}){1,5}(?![\w]|[.-]\d)")
_NANP = re.compile(r"^\(?\d{3}\)?[ .-]?\d{3}[ .-]\d{4}$")


@dataclass(frozen=True)
class Match:
    """One piece of personal information: its kind and where it is (message index, char span)."""

    kind: str
    message: int
    start: int
    end: int

    def where(self) -> str:
        return f"{self.kind} in message {self.message} [{self.start}:{self.end}]"


def _public_ip(text: str, public_only: bool) -> bool:
    try:
        ip = ipaddress.ip_address(text)
    except ValueError:
        return False
    return ip.is_global or not public_only


def _phone(text: str) -> bool:
    digits = re.sub(r"\D", "", text)
    last = re.split(r"[ .-]", text)[-1]
    if not 9 <= len(digits) <= 15:
        return False
    if text.startswith("+"):  # an international number: +33 1 42 68 53 00
        return True
    return 3 <= len(last) <= 6 and (text.startswith(("(", "0")) or bool(_NANP.match(text)))


def find_pii(text: str, kinds: tuple[str, ...] = KINDS, only_public_ips: bool = True) -> list[tuple[str, int, int]]:
    """(kind, start, end) of every match in `text`, in order, non-overlapping (emails first)."""
    found: list[tuple[str, int, int]] = []
    taken: list[tuple[int, int]] = []

    def add(kind: str, m: re.Match) -> None:
        s, e = m.span()
        if all(e <= a or s >= b for a, b in taken):
            found.append((kind, s, e))
            taken.append((s, e))

    if "email" in kinds:
        for m in _EMAIL.finditer(text):
            add("email", m)
    if "ipv4" in kinds:
        for m in _IPV4.finditer(text):
            if _public_ip(m.group(), only_public_ips):
                add("ipv4", m)
    if "ipv6" in kinds:
        for m in _IPV6.finditer(text):
            groups = [g for g in m.group().split(":") if g]
            if len(groups) >= 3 and _public_ip(m.group(), only_public_ips):
                add("ipv6", m)
    if "phone" in kinds:
        for m in _PHONE.finditer(text):
            if _phone(m.group()):
                add("phone", m)
    return sorted(found, key=lambda x: x[1])


class PIIParams(Params):
    kinds: list[Kind] = Field(default_factory=lambda: list(KINDS), min_length=1, description="what to look for")
    action: Literal["drop", "redact"] = Field("drop", description="drop the record, or replace each match")
    roles: list[Literal["system", "user", "assistant"]] = Field(
        default_factory=lambda: ["system", "user", "assistant"], min_length=1, description="turns to search")
    only_public_ips: bool = Field(True, description="private, loopback and documentation addresses are not PII")
    placeholder: str = Field("[{KIND}]", description="redaction text; {KIND} is EMAIL, PHONE or IP")


@register
class PIIStep(Step):
    """Emails, phone numbers and IPv4/IPv6 addresses in any turn: drop the record or redact them."""

    name = "pii"
    Params = PIIParams

    def matches(self, record: Record) -> list[Match]:
        p = self.params
        kinds = tuple(p.kinds)
        return [Match(kind, i, s, e)
                for i, m in enumerate(record.messages) if m["role"] in p.roles
                for kind, s, e in find_pii(m["content"], kinds, p.only_public_ips)]

    def redact(self, record: Record, found: list[Match]) -> Record:
        messages = [dict(m) for m in record.messages]
        for m in sorted(found, key=lambda x: (x.message, -x.start)):  # right to left keeps spans valid
            text = messages[m.message]["content"]
            label = "IP" if m.kind.startswith("ip") else m.kind.upper()
            messages[m.message]["content"] = text[: m.start] + self.params.placeholder.replace("{KIND}", label) + text[m.end:]
        return record.replace(messages=messages, meta={**record.meta, "redacted_from": record.id})

    def apply(self, records: list[Record]) -> StepResult:
        result = StepResult()
        counts = dict.fromkeys(KINDS, 0)
        for rec in records:
            found = self.matches(rec)
            if not found:
                continue
            for m in found:
                counts[m.kind] += 1
            kinds = "+".join(sorted({m.kind for m in found}))
            spans = "; ".join(m.where() for m in found)
            if self.params.action == "drop":
                result.drops[rec.id] = Verdict(f"pii:{kinds}", spans)
            else:
                new = self.redact(rec, found)
                result.edits[rec.id] = (Verdict(f"pii_redacted:{kinds}", f"{spans} -> record {new.id}"), new)
        result.report["matches"] = {k: v for k, v in counts.items() if v}
        return result
