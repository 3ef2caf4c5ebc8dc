"""The misuse categories of the contract (section 2), the entity each names, and the order
in which severities rank."""

from __future__ import annotations

from typing import Literal

CATEGORIES = (
    "brute_force", "password_spraying", "credential_stuffing", "distributed_brute_force",
    "success_after_failures", "impossible_travel", "new_country", "session_hijack",
    "account_enumeration", "dormant_account",
)  # fmt: skip
Category = Literal[
    "brute_force", "password_spraying", "credential_stuffing", "distributed_brute_force",
    "success_after_failures", "impossible_travel", "new_country", "session_hijack",
    "account_enumeration", "dormant_account",
]  # fmt: skip
ENTITY_OF = {
    "brute_force": "ip", "password_spraying": "ip", "credential_stuffing": "ip",
    "distributed_brute_force": "user", "success_after_failures": "user",
    "impossible_travel": "user", "new_country": "user", "session_hijack": "session",
    "account_enumeration": "ip", "dormant_account": "user",
}  # fmt: skip
Severity = Literal["low", "medium", "high", "critical"]
SEVERITIES = ("low", "medium", "high", "critical")
# ATT&CK techniques of a category, for alerts whose detector labels them.
MITRE_OF = {
    "brute_force": ("T1110.001",), "password_spraying": ("T1110.003",),
    "credential_stuffing": ("T1110.004",), "account_enumeration": ("T1087", "T1110"),
    "distributed_brute_force": ("T1110.001",), "success_after_failures": ("T1110", "T1078"),
    "impossible_travel": ("T1078",), "new_country": ("T1078",), "dormant_account": ("T1078",),
    "session_hijack": ("T1539", "T1550.004"),
}  # fmt: skip
