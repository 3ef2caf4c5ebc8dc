"""The register description: what this register really holds and does, in the structure of
the privacy notice, generated from the running configuration and the database, so the
published notice can be checked against reality."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import duckdb

from privacy.retention import Policy
from privacy.subject import PURPOSES
from store.audit import verify

# Fields of an event that are personal data, and what they are called in each language.
FIELDS = {
    "user": ("user names as typed at login", "kirjautumisessa annettu käyttäjätunnus"),
    "customer_id": ("customer numbers", "asiakasnumero"),
    "ip": ("IP address at every login", "IP-osoite jokaisen kirjautumisen yhteydessä"),
    "host": ("remote host names", "etäkoneen nimi"),
    "user_agent": ("browser or client", "selain tai asiakasohjelma"),
    "session_id": ("session identifiers", "istuntotunniste"),
    "country": ("country derived from the address", "osoitteesta päätelty maa"),
    "city": ("city derived from the address", "osoitteesta päätelty kaupunki"),
}


def _counts(con: duckdb.DuckDBPyConnection) -> dict[str, int]:
    columns = ", ".join(f'count("{name}")' for name in FIELDS)
    row = con.execute(f"SELECT count(*), {columns} FROM events").fetchall()[0]
    return {
        "events": int(row[0]),
        **{name: int(n) for name, n in zip(FIELDS, row[1:], strict=True)},
    }


def describe(
    con: duckdb.DuckDBPyConnection, policy: Policy, encrypted: bool, now: datetime
) -> dict[str, Any]:
    counts = _counts(con)
    tokens = dict(
        con.execute(
            "SELECT role, count(*) FROM tokens WHERE revoked_at IS NULL GROUP BY role"
        ).fetchall()
    )
    ((disclosures, extracts),) = con.execute(
        "SELECT (SELECT count(*) FROM disclosures), (SELECT count(*) FROM extracts)"
    ).fetchall()
    chain = verify(con)
    return {
        "generated_at": now.isoformat() + "Z",
        "purposes": PURPOSES,
        "data": [
            {"field": name, "stored_in_events": counts[name], "en": en, "fi": fi}
            for name, (en, fi) in FIELDS.items()
            if counts[name]
        ],
        "events": counts["events"],
        "retention_days": {k: v.total_seconds() / 86400 for k, v in policy.periods.items()},
        "pseudonymise_after_days": policy.pseudonymise_after.total_seconds() / 86400,
        "recipients": {
            "authorities_only_by_lawful_extract": True,
            "extract_requests": extracts,
            "disclosures": disclosures,
        },
        "protection": {
            "access_rights": {"roles": ["analyst", "dpo", "liaison", "admin"], "tokens": tokens},
            "personal_credentials": "one API token per person or system, stored only hashed",
            "encryption_at_rest": encrypted,
            "audit_log": {"entries": chain.entries, "intact": chain.first_broken is None},
        },
    }


TITLES = {
    "en": (
        "Register description: login and session register", "Purposes", "Data stored",
        "Retention", "Recipients", "Protection", "days", "entries in events",
    ),
    "fi": (
        "Rekisteriseloste: kirjautumis- ja istuntorekisteri", "Käyttötarkoitus",
        "Rekisterin tietosisältö", "Säilytysajat", "Tietojen luovutukset",
        "Rekisterin suojaaminen", "päivää", "tapahtumassa",
    ),
}  # fmt: skip


def render_register(description: dict[str, Any], lang: str) -> str:
    title, purposes, data, retention, recipients, protection, days, where = TITLES[lang]
    d = description
    out = [f"# {title}", "", f"({d['generated_at']})", "", f"## {purposes}", ""]
    out += [f"- {p}" for p in d["purposes"][lang]]
    out += ["", f"## {data}", ""]
    out += [f"- {item[lang]} ({item['stored_in_events']} {where})" for item in d["data"]]
    out += ["", f"## {retention}", ""]
    out += [f"- {kind}: {n:g} {days}" for kind, n in d["retention_days"].items()]
    out += [f"- pseudonymise / pseudonymisointi: {d['pseudonymise_after_days']:g} {days}"]
    r = d["recipients"]
    who = {"en": "Authorities only, by a lawful extract approved by a second person",
           "fi": "Vain viranomaisille lain perusteella, toisen henkilön hyväksymänä"}  # fmt: skip
    out += [
        "",
        f"## {recipients}",
        "",
        f"- {who[lang]}: {r['extract_requests']} / {r['disclosures']}",
    ]
    p = d["protection"]
    tokens = p["access_rights"]["tokens"]
    on = p["encryption_at_rest"]
    lines = {
        "en": [f"access rights by role; active tokens {tokens}",
               p["personal_credentials"],
               f"encryption at rest: {'on' if on else 'not configured'}",
               f"audit log: {p['audit_log']['entries']} entries, "
               f"{'intact' if p['audit_log']['intact'] else 'BROKEN'}"],
        "fi": [f"käyttöoikeudet roolien mukaan; voimassa olevat tunnisteet {tokens}",
               "henkilökohtainen API-tunniste, tallennettu vain tiivisteenä",
               f"tallennetun tiedon salaus: {'käytössä' if on else 'ei määritetty'}",
               f"lokitiedot käsittelystä: {p['audit_log']['entries']} merkintää, "
               f"{'eheä' if p['audit_log']['intact'] else 'RIKKI'}"],
    }  # fmt: skip
    out += ["", f"## {protection}", ""] + [f"- {line}" for line in lines[lang]]
    return "\n".join(out) + "\n"
