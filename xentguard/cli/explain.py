"""``xentguard explain XG101``: a rule's page, from the catalogue."""

from __future__ import annotations

import textwrap

from xentguard.catalogue import RULES, Rule


def _indent(code: str) -> str:
    return textwrap.indent(code.rstrip("\n"), "    ") + "\n"


def explain(rule: Rule) -> str:
    default = (
        "on by default" if rule.default_enabled else f"off by default (enable with --select {rule.code})"
    )
    fix = "; fixable with --fix" if rule.fixable else ""
    wrap = textwrap.TextWrapper(width=88)
    parts = [
        f"{rule.code} {rule.name}",
        f"{rule.summary}",
        f"severity: {rule.severity.value}; {default}{fix}",
        "",
        "Why",
        wrap.fill(rule.why),
        "",
        "Instead",
        wrap.fill(rule.instead),
        "",
        "Wrong",
        _indent(rule.wrong),
        "Right",
        _indent(rule.right),
    ]
    return "\n".join(parts)


def list_rules() -> str:
    lines = []
    for r in RULES.values():
        default = "" if r.default_enabled else "  (off by default)"
        lines.append(f"{r.code}  {r.name}: {r.summary}{default}")
    return "\n".join(lines) + "\n"


def lookup(code: str) -> Rule | None:
    return RULES.get(code.strip().upper())
