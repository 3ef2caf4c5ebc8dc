"""A person's identifiers (user names, customer numbers, session ids) found and replaced in
stored text as whole tokens: `ann` in `joanna`, `annä`, `ann.smith`, `o'ann` or `ann:x` is
part of another identifier, another person's. Only text meant for people is rewritten (a
summary, a reason, a note, a campaign member's value): never a JSON key or a field a
program reads."""

from __future__ import annotations

import re
from typing import Any

# Characters that continue an identifier besides letters, digits and marks.
_INNER = "_.@+'\u2019:-"


def _re2_literal(text: str) -> str:
    return "".join(c if c.isalnum() else f"\\x{{{ord(c):x}}}" for c in text)


def sql_pattern(identifiers: list[str]) -> str:
    """RE2 (DuckDB): any identifier as a whole token."""
    inner = r"\pL\pN\pM" + _re2_literal(_INNER)
    alternatives = "|".join(_re2_literal(i) for i in _longest_first(identifiers))
    return f"(^|[^{inner}])({alternatives})($|[^{inner}])"


def json_value_pattern(identifiers: list[str]) -> str:
    """RE2: any identifier as a whole JSON string value (after `:`, `[` or `,` and before
    `,`, `]` or `}`): not a key, which a colon follows (`"ts"` names a field)."""
    quoted = ['"' + i.replace("\\", "\\\\").replace('"', '\\"') + '"' for i in identifiers]
    alternatives = "|".join(_re2_literal(q) for q in _longest_first(quoted))
    return f"[:\\[,]\\s*(?:{alternatives})\\s*[,\\]}}]"


def text_pattern(identifiers: list[str]) -> re.Pattern[str]:
    """Python: any identifier as a whole token."""
    inner = r"\w" + re.escape(_INNER)
    alternatives = "|".join(re.escape(i) for i in _longest_first(identifiers))
    return re.compile(f"(?<![{inner}])(?:{alternatives})(?![{inner}])")


def _longest_first(identifiers: list[str]) -> list[str]:
    return sorted(identifiers, key=len, reverse=True)


def scrub_members(members: list[dict[str, Any]] | None, found: re.Pattern[str], ref: str) -> Any:
    if members is None:
        return None
    return [{**m, "value": found.sub(ref, m["value"])} if isinstance(m.get("value"), str) else m
            for m in members]  # fmt: skip


def scrub_texts(texts: list[Any] | None, found: re.Pattern[str], ref: str) -> Any:
    if texts is None:
        return None
    return [found.sub(ref, t) if isinstance(t, str) else t for t in texts]


def scrub_note(change: dict[str, Any], found: re.Pattern[str], ref: str) -> dict[str, Any]:
    note = change.get("note")
    return {**change, "note": found.sub(ref, note)} if isinstance(note, str) else change
