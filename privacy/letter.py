"""The subject-access report as a letter (Markdown) in Finnish or English.

Alerts are described by their kind in plain words, not by their summary: a summary names
the other accounts and addresses of an attack (a password spray lists the accounts tried),
and a copy of one's data must not disclose other people's (GDPR Art. 15(4)).
"""

from __future__ import annotations

from typing import Any

from privacy.subject import PURPOSES

TEXT: dict[str, dict[str, Any]] = {
    "en": {
        "title": "What we store about you",
        "intro": "This report lists the personal data of the customer portal's login register "
        "that concerns {who}, as of {at} (UTC), under Article 15 of the GDPR.",
        "events": "Logins and sessions ({n})",
        "columns": ["time (UTC)", "event", "outcome", "address", "place", "client"],
        "alerts": "Security alerts that concern you ({n})",
        "holds": "Legal holds on your data ({n})",
        "disclosures": "Disclosures to authorities ({n})",
        "lookups": "Look-ups of your data by our staff ({n})",
        "lookup_note": "Dates and purposes of the look-ups; the staff members are not named.",
        "purposes": "Why we process this data",
        "retention": "How long we keep it",
        "kinds": {"events": "login and session events", "quarantine": "unreadable log lines",
                  "alerts": "security alerts", "audit": "records of who processed data",
                  "pseudonymise_after": "after this, addresses are shortened and clients "
                  "reduced to the browser family"},
        "days": "days",
        "none": "None.",
        "alert_line": "{first} – {last}: {what}; status: {status}",
        "categories": {
            "brute_force": "many failed logins from one address (password guessing)",
            "password_spraying": "one address tried a few passwords on many accounts",
            "credential_stuffing": "leaked credentials tried on many accounts",
            "distributed_brute_force": "failed logins to the account from many addresses",
            "success_after_failures": "a successful login after repeated failures",
            "impossible_travel": "logins from two places too far apart to travel between",
            "new_country": "a login from a country the account had not been used from",
            "session_hijack": "one session used from another address or program",
            "account_enumeration": "one address tried many account names that do not exist",
            "dormant_account": "a login to an account unused for a long time",
        },
        "statuses": {"open": "open", "acknowledged": "being handled", "closed": "closed",
                     "false_positive": "unfounded"},
        "values": {},
        "hold_kinds": {"preservation": "preservation order of an authority",
                       "incident": "investigation of a security incident",
                       "internal": "internal investigation"},
    },
    "fi": {
        "title": "Mitä tietoja sinusta on tallennettu",
        "intro": "Tämä raportti luettelee asiakasportaalin kirjautumisrekisterin "
        "henkilötiedot, jotka koskevat tunnusta {who}, tilanteessa {at} (UTC), "
        "EU:n tietosuoja-asetuksen 15 artiklan mukaisesti.",
        "events": "Kirjautumiset ja istunnot ({n})",
        "columns": ["aika (UTC)", "tapahtuma", "tulos", "osoite", "paikka", "ohjelma"],
        "alerts": "Sinua koskevat tietoturvahälytykset ({n})",
        "holds": "Tietojesi säilyttämismääräykset ({n})",
        "disclosures": "Luovutukset viranomaisille ({n})",
        "lookups": "Henkilöstömme tekemät tietojesi haut ({n})",
        "lookup_note": "Hakujen ajankohdat ja tarkoitukset; hakijoita ei nimetä.",
        "purposes": "Käsittelyn tarkoitukset",
        "retention": "Säilytysajat",
        "kinds": {"events": "kirjautumis- ja istuntotapahtumat",
                  "quarantine": "lukukelvottomat lokirivit", "alerts": "tietoturvahälytykset",
                  "audit": "tiedot siitä, kuka käsitteli tietoja",
                  "pseudonymise_after": "tämän jälkeen osoitteet lyhennetään ja ohjelmatiedot "
                  "karkeistetaan selainperheeksi"},
        "days": "päivää",
        "none": "Ei yhtään.",
        "alert_line": "{first} – {last}: {what}; tila: {status}",
        "categories": {
            "brute_force": "monta epäonnistunutta kirjautumista samasta osoitteesta "
            "(salasanan arvailu)",
            "password_spraying": "yksi osoite kokeili muutamaa salasanaa moniin tunnuksiin",
            "credential_stuffing": "vuotaneita tunnuksia kokeiltiin moniin tileihin",
            "distributed_brute_force": "epäonnistuneita kirjautumisia tunnukseen monesta "
            "osoitteesta",
            "success_after_failures": "onnistunut kirjautuminen toistuvien epäonnistumisten "
            "jälkeen",
            "impossible_travel": "kirjautumiset kahdesta paikasta, joiden välillä ei olisi "
            "ehtinyt matkustaa",
            "new_country": "kirjautuminen maasta, josta tunnusta ei ollut ennen käytetty",
            "session_hijack": "sama istunto toisesta osoitteesta tai ohjelmasta",
            "account_enumeration": "yksi osoite kokeili monia tunnuksia, joita ei ole",
            "dormant_account": "kirjautuminen pitkään käyttämättä olleeseen tunnukseen",
        },
        "statuses": {"open": "avoin", "acknowledged": "käsittelyssä", "closed": "suljettu",
                     "false_positive": "aiheeton"},
        "values": {"login": "kirjautuminen", "logout": "uloskirjautuminen",
                   "session_activity": "istunnon käyttö", "password_reset": "salasanan palautus",
                   "password_change": "salasanan vaihto", "mfa": "monivaiheinen tunnistus",
                   "success": "onnistui", "failure": "epäonnistui"},
        "hold_kinds": {"preservation": "viranomaisen säilyttämismääräys",
                       "incident": "tietoturvapoikkeaman selvitys",
                       "internal": "sisäinen selvitys"},
    },
}  # fmt: skip


def _cell(value: Any) -> str:
    return "" if value is None else str(value).replace("|", "\\|")


def _table(columns: list[str], rows: list[list[Any]]) -> list[str]:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(_cell(v) for v in row) + " |" for row in rows]
    return lines


def _alert_line(t: dict[str, Any], alert: dict[str, Any]) -> str:
    return t["alert_line"].format(
        first=alert["first_seen"],
        last=alert["last_seen"],
        what=t["categories"].get(alert["category"], alert["category"]),
        status=t["statuses"].get(alert["status"], alert["status"]),
    )


def render(report: dict[str, Any], lang: str) -> str:
    t = TEXT[lang]
    word = t["values"]
    subject = report["subject"]
    who = " / ".join(v for v in (subject["user"], subject["customer_id"]) if v)
    out = [f"# {t['title']}", "", t["intro"].format(who=who, at=report["generated_at"]), ""]
    events = report["events"]
    out += [f"## {t['events'].format(n=len(events))}", ""]
    rows = [
        [e["ts"], word.get(e["event"], e["event"]), word.get(e["outcome"], e["outcome"]),
         e["ip"] or e["host"],
         ", ".join(p for p in (e["city"], e["country"]) if p), e["user_agent"]]
        for e in events
    ]  # fmt: skip
    out += _table(t["columns"], rows) if rows else [t["none"]]
    sections = (
        ("alerts", lambda a: _alert_line(t, a)),
        (
            "holds",
            lambda h: f"{h['since']}: {t['hold_kinds'].get(h['kind'], h['kind'])} — {h['reason']}",
        ),
        ("disclosures", lambda d: f"{d['at']}: {d['authority']} ({d['legal_basis']})"),
        ("lookups", lambda x: f"{x['at']}: {x['purpose']}"),
    )
    for key, line in sections:
        items = report["staff_lookups" if key == "lookups" else key]
        out += ["", f"## {t[key].format(n=len(items))}", ""]
        if key == "lookups":
            out += [t["lookup_note"], ""]
        out += [f"- {line(item)}" for item in items] or [t["none"]]
    out += ["", f"## {t['purposes']}", ""] + [f"- {p}" for p in PURPOSES[lang]]
    out += ["", f"## {t['retention']}", ""]
    out += [
        f"- {t['kinds'].get(kind, kind)}: {days:g} {t['days']}"
        for kind, days in report["retention_days"].items()
    ]
    return "\n".join(out) + "\n"
