"""Web server logs: combined and JSON access lines (nginx, Caddy), syslog-wrapped lines,
the auth failures of nginx's and Apache's error logs, clients behind trusted proxies, and
logins decided by where the portal redirects."""

from __future__ import annotations

import json
from datetime import datetime
from pathlib import Path

import polars as pl
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ingest import access
from ingest.access_formats import LogFormatError, compile_log_format
from ingest.context import AccessRules, ParseContext
from ingest.formats import detect
from ingest.normalise import validate
from tests.conftest import run_cli
from tests.helpers import load, query

PROXY = "10.0.0.0/8"


def parse(text: str, **rules: object) -> tuple[list[dict], list[str], int]:
    """(events, quarantine reasons, skipped) of the access parser on `text`."""
    lines = text.strip("\n").split("\n")
    frame = pl.DataFrame(
        {"line_no": range(1, len(lines) + 1), "raw": lines},
        schema={"line_no": pl.Int64, "raw": pl.String},
    )
    context = ParseContext(format="access", mtime=datetime(2026, 1, 1), access=AccessRules(**rules))  # type: ignore[arg-type]
    parsed = access.parse(frame, frame.head(0), context)
    events, bad = validate(parsed.events)
    assert bad.height == 0, bad
    return events.to_dicts(), parsed.quarantine["reason"].to_list(), parsed.skipped


def test_combined_and_nginx_main_with_the_forwarded_address() -> None:
    text = (
        '10.0.0.5 - - [06/Mar/2026:16:14:13 +0200] "POST /login HTTP/1.1" 302 0 "-" "Mozilla/5.0" '
        '"198.51.100.7"\n'
        '10.0.0.5 - - [06/Mar/2026:16:14:14 +0200] "POST /login HTTP/1.1" 401 9 "-" "curl/8" "-"\n'
        '192.0.2.9 - - [06/Mar/2026:16:14:15 +0200] "POST /login HTTP/2.0" 401 9 "-" "x" '
        '"10.1.1.1"\n'
        '192.0.2.9 - - [06/Mar/2026:16:14:16 +0200] "\\x16\\x03\\x01" 400 0 "-" "-"\n'
    )
    events, quarantined, skipped = parse(text, trusted_proxies=(PROXY,))
    assert [(e["outcome"], e["ip"]) for e in events] == [
        ("success", "198.51.100.7"),  # our proxy says who sent it
        ("failure", "10.0.0.5"),  # a proxy that names no client: the proxy
        ("failure", "192.0.2.9"),  # a stranger's header is the stranger's text
    ]
    assert events[0]["ts"] == datetime(2026, 3, 6, 14, 14, 13)
    assert (quarantined, skipped) == ([], 1)  # a TLS handshake on the HTTP port: no login


def test_what_a_client_writes_cannot_hide_its_attempt() -> None:
    """nginx fills `$remote_user` from any `Authorization: Basic` header, spaces and all;
    `//login`, `/./login`, `/%6Cogin`, `/login;x=1` and `/login/` reach the login handler."""
    line = '198.51.100.7 - {user} [06/Mar/2026:16:14:13 +0200] "POST {path} HTTP/1.1" 401 0 "-" "x"'
    users = ["a b", "a [b", "-"]
    paths = ["/login", "//login", "/./login", "/%6Cogin", "/login;jsessionid=1", "/login/"]
    text = "\n".join(line.format(user=u, path=p) for u in users for p in paths)
    events, quarantined, _ = parse(text)
    assert quarantined == []
    assert len(events) == len(users) * len(paths)
    assert {e["ip"] for e in events} == {"198.51.100.7"}
    assert {e["user"] for e in events} == {"a b", "a [b", "-"}


def test_without_trusted_proxies_the_header_is_never_read() -> None:
    line = (
        '10.0.0.5 - - [06/Mar/2026:16:14:13 +0000] "POST /login HTTP/1.1" 401 0 "-" "x" '
        '"198.51.100.7"'
    )
    (event,), _, _ = parse(line)
    assert event["ip"] == "10.0.0.5"


def test_forwarded_rfc7239_with_ipv6_and_ports() -> None:
    base = {
        "time_iso8601": "2026-03-06T16:14:13+02:00",
        "remote_addr": "10.0.0.5",
        "request": "POST /login HTTP/1.1",
        "status": "401",
    }
    lines = [
        {**base, "http_forwarded": "for=192.0.2.60;proto=https;by=10.0.0.5"},
        {**base, "http_forwarded": 'for="[2001:db8:cafe::17]:4711", for=10.0.0.9'},
        {**base, "http_forwarded": "for=unknown, for=10.0.0.9"},
        # A proxy that copies the client's Host into its element: quoted text, not a `for`.
        {**base, "http_forwarded": 'for=198.51.100.7;host="a,for=6.6.6.6";proto=https'},
        {**base, "http_forwarded": 'host="a;for=6.6.6.6";for=198.51.100.8'},
    ]
    text = "\n".join(json.dumps(line) for line in lines)
    events, _, _ = parse(text, trusted_proxies=(PROXY,), forwarded_header="forwarded")
    assert [e["ip"] for e in events] == [
        "192.0.2.60", "2001:db8:cafe::17", "10.0.0.9", "198.51.100.7", "198.51.100.8",
    ]  # fmt: skip
    assert events[0]["ts"] == datetime(2026, 3, 6, 14, 14, 13)


CADDY = [
    # A failed login: Caddy behind a load balancer, the portal sends the form back.
    {
        "level": "info", "ts": 1772806453.5241024, "logger": "http.log.access.log0",
        "msg": "handled request",
        "request": {
            "remote_ip": "10.0.0.5", "remote_port": "41342", "client_ip": "10.0.0.5",
            "proto": "HTTP/2.0", "method": "POST", "host": "portal.example",
            "uri": "/login?next=%2Fhome",
            "headers": {
                "User-Agent": ["Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"],
                "X-Forwarded-For": ["6.6.6.6, 198.51.100.7"],
            },
        },
        "bytes_read": 40, "user_id": "", "duration": 0.0009, "size": 0, "status": 302,
        "resp_headers": {"Server": ["Caddy"], "Location": ["/login?error=1"]},
    },
    {
        "level": "info", "ts": 1772806454.1, "logger": "http.log.access.log0",
        "msg": "handled request",
        "request": {
            "remote_ip": "10.0.0.5", "method": "POST", "uri": "/login",
            "headers": {"User-Agent": ["Mozilla/5.0"], "X-Forwarded-For": ["198.51.100.7"]},
        },
        "user_id": "", "status": 302,
        "resp_headers": {"Location": ["https://portal.example/home"]},
    },
    {"level": "info", "ts": 1772806455, "logger": "tls.obtain", "msg": "certificate obtained"},
    {
        "level": "info", "ts": 1772806456, "logger": "http.log.access.log0",
        "request": {"remote_ip": "203.0.113.9", "method": "GET", "uri": "/home"},
        "status": 200,
    },
]  # fmt: skip


def test_caddy_json_decided_by_the_redirect() -> None:
    text = "\n".join(json.dumps(line) for line in CADDY)
    assert detect(text.encode() + b"\n") == "access"
    events, quarantined, skipped = parse(
        text,
        trusted_proxies=(PROXY,),
        success_location=("/home",),
        failure_location=("/login",),
    )
    assert [(e["outcome"], e["ip"], e["user"]) for e in events] == [
        ("failure", "198.51.100.7", "-"),  # 302 is a success by status: the redirect says not
        ("success", "198.51.100.7", "-"),
    ]
    assert events[0]["user_agent"] == "Mozilla/5.0 (X11; Linux x86_64) Firefox/120.0"
    assert events[0]["ts"] == datetime(2026, 3, 6, 14, 14, 13, 524102)
    assert json.loads(events[0]["extra"]) == {"http_status": 302, "location": "/login?error=1"}
    assert (quarantined, skipped) == ([], 2)  # the TLS logger's line, the GET


def test_keys_only_some_records_carry_are_read_wherever_they_are() -> None:
    """Caddy writes `Location` only on redirects and `X-Forwarded-For` only when a proxy
    sent it: a login after 300 plain requests is read as fully as the first line."""
    plain = {"ts": 1772806450, "request": {"remote_ip": "10.0.0.5", "method": "GET", "uri": "/"}}
    lines = [json.dumps({**plain, "status": 200})] * 300 + [json.dumps(CADDY[0])]
    events, _, skipped = parse(
        "\n".join(lines), trusted_proxies=(PROXY,), failure_location=("/login",)
    )
    assert [(e["outcome"], e["ip"]) for e in events] == [("failure", "198.51.100.7")]
    assert skipped == 300


def test_a_record_without_a_peer_is_believed_nothing() -> None:
    lines = [
        json.dumps({"time_iso8601": "2026-03-06T16:14:13Z", "remote_addr": "10.0.0.5",
                    "request": "POST /login HTTP/1.1", "status": 401}),
        json.dumps({"time_iso8601": "2026-03-06T16:14:13Z", "request": "POST /login HTTP/1.1",
                    "status": 401, "http_x_forwarded_for": "6.6.6.6"}),
    ]  # fmt: skip
    frame = pl.DataFrame({"line_no": [1, 2], "raw": lines})
    context = ParseContext(
        format="access", mtime=datetime(2026, 1, 1), access=AccessRules(trusted_proxies=(PROXY,))
    )
    _, bad = validate(access.parse(frame, frame.head(0), context).events)
    assert bad.select("line_no", "reason").rows() == [(2, "missing ip (or host)")]


def test_nginx_escape_json_with_the_operators_own_keys() -> None:
    lines = [
        '{"t":"06/Mar/2026:16:14:13 +0000","client":"192.0.2.44","req":"POST /login HTTP/1.1",'
        '"code":200,"ua":"Mozilla/5.0 \\"quoted\\""}',
        '{"t":"06/Mar/2026:16:14:14 +0000","client":"192.0.2.44","req":"GET / HTTP/1.1",'
        '"code":200,"ua":"-"}',
        '{"nothing": "of a request"}',
        "{not json",
    ]
    fields = (
        ("time_clf", "t"), ("peer", "client"), ("request", "req"), ("status", "code"), ("agent", "ua"),
    )  # fmt: skip
    events, quarantined, skipped = parse("\n".join(lines), json_fields=fields)
    assert [(e["outcome"], e["ip"], e["user_agent"]) for e in events] == [
        ("failure", "192.0.2.44", 'Mozilla/5.0 "quoted"')
    ]
    assert skipped == 1
    assert quarantined == [
        "a JSON line with no request (method and path) or status: name its keys in "
        "[access] json_fields",
        "invalid JSON",
    ]


@pytest.mark.parametrize(
    "wrapper",
    [
        "Sep 15 16:13:46 ip-172-31-43-28 nginx[2869]: ",
        "Sep  5 16:13:46 nginx: ",
        "2021-09-15T16:13:46.123456+00:00 web1 nginx[2869]: ",
        "<190>1 2021-09-15T16:13:46Z web1 nginx 2869 - - ",
        "<190>Sep 15 16:13:46 web1 nginx: ",
    ],
)
def test_syslog_wrapped_lines(wrapper: str) -> None:
    line = (
        '81.150.104.130 - - [15/Sep/2021:16:13:46 +0000] "POST /wp-login.php HTTP/1.1" 200 5364 '
        '"-" "Mozilla/5.0"'
    )
    assert detect((wrapper + line + "\n").encode()) == "access"
    (event,), quarantined, _ = parse(wrapper + line, login_paths=("/wp-login.php",))
    assert (event["outcome"], event["ip"], quarantined) == ("failure", "81.150.104.130", [])
    assert event["ts"] == datetime(2021, 9, 15, 16, 13, 46)


def test_log_format_of_the_operator() -> None:
    log_format = (
        '$remote_addr [$time_iso8601] "$request_method $request_uri" $status '
        '"$sent_http_location" "$http_x_forwarded_for" rt=$request_time'
    )
    lines = (
        '10.0.0.5 [2026-03-06T16:14:13+00:00] "POST /login" 303 "/inbox" "198.51.100.7" rt=0.1\n'
        '10.0.0.5 [2026-03-06T16:14:14+00:00] "POST /login" 303 "/login?e=1" "198.51.100.8" rt=0\n'
        "garbage\n"
    )
    events, quarantined, _ = parse(
        lines, log_format=log_format, trusted_proxies=(PROXY,), failure_location=("/login",)
    )
    assert [(e["outcome"], e["ip"]) for e in events] == [
        ("success", "198.51.100.7"),
        ("failure", "198.51.100.8"),
    ]
    assert quarantined == ["not a web log line of the configured [access] log_format"]


def test_a_log_format_without_what_vahti_needs_is_refused() -> None:
    with pytest.raises(LogFormatError, match=r"\$remote_addr"):
        compile_log_format('[$time_local] "$request" $status')
    with pytest.raises(LogFormatError, match=r"\$status"):
        compile_log_format('$remote_addr [$time_local] "$request"')


def test_http_auth_failures_of_nginx_and_apache_error_logs() -> None:
    text = (
        '2026/03/06 16:14:13 [error] 18#18: *17 user "foo" was not found in "/etc/htpasswd", '
        'client: 192.0.2.1, server: _, request: "GET / HTTP/1.1", host: "localhost"\n'
        '2026/03/06 16:14:14 [error] 18#18: *18 user "matti": password mismatch, client: '
        '192.0.2.1, server: _, request: "GET /admin HTTP/1.1", host: "localhost"\n'
        "2026/03/06 16:14:15 [error] 18#18: *19 no user/password was provided for basic "
        'authentication, client: 192.0.2.1, server: _, request: "GET / HTTP/1.1"\n'
        "[Fri Mar 06 16:14:16.123456 2026] [auth_basic:error] [pid 4711:tid 1399] "
        '[client 192.0.2.2:55812] AH01617: user anna: authentication failure for "/private": '
        "Password Mismatch\n"
        "[Fri Mar 06 16:14:17 2026] [error] [client 192.0.2.3] user root not found: /private\n"
        "[Fri Mar 06 16:14:18.5 2026] [core:error] [pid 4711] [client 192.0.2.3:1] AH00037: "
        "Symbolic link not allowed\n"
        "[Fri Mar 06 16:14:19 2026] [error] [client 2001:db8::7] user eve not found: /private\n"
        '2026/03/06 16:14:20 [error] 18#18: *20 user "a"b" was not found in "/x", client: '
        '192.0.2.9, server: _, request: "GET / HTTP/1.1"\n'
    )
    events, quarantined, skipped = parse(text, service="portal")
    assert [(e["user"], e["ip"], e["reason"]) for e in events] == [
        ("foo", "192.0.2.1", "unknown_user"),
        ("matti", "192.0.2.1", "bad_password"),
        ("anna", "192.0.2.2", "bad_password"),
        ("root", "192.0.2.3", "unknown_user"),
        ("eve", "2001:db8::7", "unknown_user"),  # Apache 2.2 writes IPv6 without a port
    ]
    assert {e["outcome"] for e in events} == {"failure"}
    assert events[2]["ts"] == datetime(2026, 3, 6, 16, 14, 16, 123456)
    # nginx does not escape a quote in the name: the client field could be the name's text.
    assert quarantined == [
        "an HTTP auth failure with a quote in its user name: its client is ambiguous"
    ]
    assert skipped == 2  # the prompt for a password, the symlink


@settings(max_examples=60, deadline=None)
@given(st.text(alphabet=st.characters(exclude_categories=["Cs"]), max_size=60))
def test_no_header_a_client_writes_moves_its_source(header: str) -> None:
    """Whatever a client puts in X-Forwarded-For, through our proxy it is recorded by the
    address our proxy saw."""
    escaped = json.dumps(f"{header}, 198.51.100.7")
    line = (
        '{"time_iso8601":"2026-03-06T16:14:13Z","remote_addr":"10.0.0.5",'
        f'"request":"POST /login HTTP/1.1","status":401,"http_x_forwarded_for":{escaped}}}'
    )
    (event,), _, _ = parse(line, trusted_proxies=(PROXY,))
    assert event["ip"] == "198.51.100.7"


def test_ingest_behind_a_proxy_through_the_cli(tmp_path: Path, db: Path) -> None:
    config = tmp_path / "vahti.toml"
    config.write_text(
        "[access]\n"
        'trusted_proxies = ["10.0.0.0/8"]\n'
        'success_location = ["/inbox"]\n'
        'failure_location = ["/login"]\n'
        'service = "portal"\n'
    )
    log = tmp_path / "access.json"
    log.write_text("\n".join(json.dumps(line) for line in CADDY) + "\n")
    result = run_cli("ingest", str(log), "--db", str(db), "--config", str(config), "--json")
    assert result.returncode == 0, result.stderr
    (report,) = json.loads(result.stdout)
    assert (report["format"], report["loaded"], report["skipped"]) == ("access", 2, 2)
    rows = query(db, "SELECT outcome, ip, service FROM events ORDER BY line_no")
    # The second login redirects to /home, which neither list names: its 302 decides.
    assert rows == [("failure", "198.51.100.7", "portal"), ("success", "198.51.100.7", "portal")]


def test_a_bad_proxy_network_is_named(tmp_path: Path, db: Path) -> None:
    config = tmp_path / "vahti.toml"
    config.write_text('[access]\ntrusted_proxies = ["10.0.0.0/33"]\n')
    result = run_cli("stats", "--db", str(db), "--config", str(config))
    assert result.returncode == 2
    assert "trusted_proxies" in result.stderr and "10.0.0.0/33" in result.stderr


def test_loaded_through_the_pipeline(tmp_path: Path, db: Path) -> None:
    log = tmp_path / "error.log"
    log.write_text(
        '2026/03/06 16:14:13 [error] 18#18: *17 user "foo" was not found in "/x", client: '
        '192.0.2.1, server: _, request: "GET / HTTP/1.1", host: "localhost"\n'
    )
    (report,) = load(db, log, tz="Europe/Helsinki")
    assert (report.format, report.loaded) == ("access", 1)
    assert query(db, "SELECT ts, reason FROM events") == [
        (datetime(2026, 3, 6, 14, 14, 13), "unknown_user")
    ]
