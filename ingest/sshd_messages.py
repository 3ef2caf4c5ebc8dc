"""What each OpenSSH and PAM message family becomes, and how it is read.

A family is a message shape (after any `error: `, `fatal: ` or Solaris `[ID n x.y] `
prefix), the pattern that takes its user and source apart, its role and its reason:

- `accepted`: a successful login.
- `failed`: a failed attempt, counted always (`Failed password|keyboard-interactive|...`),
  except a refused public key on a connection that then logs in with another key or a
  password: a client offering its keys in turn is not failing.
- `forward`: an attempt only when no `failed` or `accepted` line of the same connection
  (host and pid) follows within the login grace time (`Invalid user`, PAM's failure
  lines, `not allowed`, `ROOT LOGIN REFUSED`, `Postponed`, `Failed none`); a PAM-like one
  right after an `Invalid user` line of its connection is that attempt again.
- `backward`: an attempt only when no other line of the same connection precedes it
  within the grace time: the summaries sshd writes at a connection's end (`Disconnected
  from authenticating user`, `Connection closed by invalid user`, `maximum authentication
  attempts exceeded`, a client's `Auth fail` disconnect) stand for an attempt only where
  nothing else of that connection was logged.
- `carrier`: no event, only the connection's address for a line that names none
  (`User root not allowed because account is locked`, `Disconnecting: Too many
  authentication failures`): `Connection from H port P`, `Received disconnect from H`.
- `probe`: a connection that never tried to authenticate (no identification string, a
  failed negotiation, a bad banner): a `probe` event, not a failure.
- `probe_alone`: a connection's end before authentication (`Connection closed by H
  [preauth]`, a `[preauth]` `Received disconnect`, a timeout): a `probe` only when nothing
  else of the connection (an attempt, a refusal, a summary) precedes it within the grace
  time; after an attempt it is that connection's end, no event.

The source is anchored where sshd writes it, at the end of the message, so a user name
with `from 10.0.0.1 port 1` in it cannot pin its failures on another address.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Family:
    name: str
    start: str  # the literal the message (prefixes stripped) starts with
    pattern: str  # named groups: u (user), ip (source), invalid, method
    role: str
    reason: str | None  # for failures (refined by `invalid` and `method`) and probes


_PORT = r"(?: port \d+)?"
_ADDR = r"[^\s\[]\S*"  # an address or host name: never `[preauth]`
_PREAUTH = r"(?: \[preauth\])?"
_SSH = r"(?: ssh\d?)?"
_KEY_TAIL = r"(?:: [A-Z0-9-]+ SHA256:\S+)?"

FAMILIES: tuple[Family, ...] = (
    Family(
        "attempt", "Failed ",
        rf"^Failed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<u>.*) from (?P<ip>\S+)"
        rf"{_PORT}{_SSH}{_KEY_TAIL}{_PREAUTH}$",
        "failed", "bad_password",
    ),
    Family(
        "accepted", "Accepted ",
        rf"^Accepted (?P<method>\S+) for (?P<u>.*) from (?P<ip>\S+){_PORT}{_SSH}{_KEY_TAIL}$",
        "accepted", None,
    ),
    Family(
        "invalid_user", "Invalid user ",
        rf"^Invalid user (?P<u>.*) from (?P<ip>\S+){_PORT}\s*$", "forward", "unknown_user",
    ),
    Family("pam", "pam_unix(", r"^pam_unix\([^)]*\):\s*authentication failure;",
           "forward", "bad_password"),
    Family("pam_bare", "authentication failure;", r"^authentication failure;",
           "forward", "bad_password"),
    Family(
        "pam_error", "PAM: ",
        r"^PAM: [Aa]uthentication (?:failure|error) for (?P<invalid>illegal user )?(?P<u>.*) from "
        r"(?P<ip>\S+)(?: via \S+)?\s*$",
        "forward", "pam_error",
    ),
    Family(
        "pam_unknown", "PAM: ",
        # Linux-PAM's wording, then OpenPAM's (FreeBSD, macOS).
        r"^PAM: (?:User not known to the underlying authentication module|unknown user) for "
        r"(?P<invalid>illegal user )?(?P<u>.*) from (?P<ip>\S+)\s*$",
        "forward", "unknown_user",
    ),
    # OpenSSH's reasons (auth.c, allowed_user) close the message. Those without a source
    # first; then the source is the address before the last ` not allowed because`: the
    # name comes before it, and a name holding `from H not allowed because` cannot move it.
    Family(
        "not_allowed_here", "User ",
        r"^User (?P<u>.*) not allowed because (?:account is locked|shell .* does not exist"
        r"|shell .* is not executable)$",
        "forward", "not_allowed",
    ),
    Family(
        "not_allowed", "User ",
        r"^User (?P<u>.*) from (?P<ip>\S+) not allowed because .*$", "forward", "not_allowed",
    ),
    Family("root_refused", "ROOT LOGIN REFUSED FROM ",
           rf"^ROOT LOGIN REFUSED FROM (?P<ip>{_ADDR}){_PORT}{_PREAUTH}$", "forward",
           "root_refused"),
    # A key the server would not read (its owner or modes): the key's login fails. The line
    # names no address; its connection lends one.
    Family("refused_key", "Authentication refused: ", r"^Authentication refused: .*$",
           "forward", "bad_key"),
    Family(
        "postponed", "Postponed ",
        rf"^Postponed (?P<method>\S+) for (?P<invalid>invalid user )?(?P<u>.*) from (?P<ip>\S+)"
        rf"{_PORT}{_SSH}{_PREAUTH}$",
        "forward", "bad_password",
    ),
    Family(
        "max_attempts", "maximum authentication attempts exceeded for ",
        rf"^maximum authentication attempts exceeded for (?P<invalid>invalid user )?(?P<u>.*)"
        rf" from (?P<ip>\S+){_PORT}{_SSH}{_PREAUTH}$",
        "backward", "max_attempts",
    ),
    Family(
        "user_change", "Disconnecting ",
        rf"^Disconnecting (?P<invalid>invalid|authenticating) user (?P<u>\S+) (?P<ip>{_ADDR})"
        rf" port \d+: Change of username or service not allowed: .*$",
        "failed", "not_allowed",
    ),
    Family(
        "too_many_user", "Disconnecting ",
        rf"^Disconnecting (?P<invalid>invalid|authenticating) user (?P<u>.*) (?P<ip>{_ADDR})"
        rf" port \d+: Too many authentication failures{_PREAUTH}$",
        "backward", "max_attempts",
    ),
    Family(
        "disconnecting_user", "Disconnecting ",
        rf"^Disconnecting (?P<invalid>invalid|authenticating) user (?P<u>.*) (?P<ip>{_ADDR})"
        rf" port \d+(?:: [A-Z][^:]*?)?{_PREAUTH}$",
        "backward", "preauth_disconnect",
    ),
    Family(
        "disconnected", "Disconnected from ",
        rf"^Disconnected from (?P<invalid>invalid|authenticating) user (?P<u>.*) (?P<ip>{_ADDR})"
        rf" port \d+{_PREAUTH}$",
        "backward", "preauth_disconnect",
    ),
    Family(
        "closed_user", "Connection closed by ",
        rf"^Connection closed by (?P<invalid>invalid|authenticating) user (?P<u>.*) (?P<ip>{_ADDR})"
        rf" port \d+{_PREAUTH}$",
        "backward", "preauth_disconnect",
    ),
    Family(
        "reset_user", "Connection reset by ",
        rf"^Connection reset by (?P<invalid>invalid|authenticating) user (?P<u>.*) (?P<ip>{_ADDR})"
        rf" port \d+{_PREAUTH}$",
        "backward", "preauth_disconnect",
    ),
    Family(
        # A client's own word that it failed: JSch's `Auth fail`, or out of methods (14).
        "auth_fail", "Received disconnect from ",
        rf"^Received disconnect from (?P<ip>\S+?){_PORT}:\s*(?:3: (?:.*: )?Auth fail"
        rf"|14: No (?:supported|more) authentication methods available){_PREAUTH}$",
        "backward", "preauth_disconnect",
    ),
    Family(
        "too_many", "Disconnecting: Too many authentication failures",
        r"^Disconnecting: Too many authentication failures"
        r"(?: for (?P<invalid>invalid user )?(?P<u>.*?))?(?: \[preauth\])?$",
        "backward", "max_attempts",
    ),
    # Lines that only say which address a connection (pid) came from: they are no event,
    # but lend their address to a line of the connection that names none.
    Family("bye_preauth", "Received disconnect from ",
           rf"^Received disconnect from (?P<ip>[^\s:\[]\S*?|[0-9a-fA-F:]+?){_PORT}:\s*\d+:.*"
           rf" \[preauth\]$",
           "probe_alone", "closed_before_auth"),
    Family("bye", "Received disconnect from ",
           rf"^Received disconnect from (?P<ip>[^\s:\[]\S*?|[0-9a-fA-F:]+?){_PORT}:\s*\d+:.*$",
           "carrier", None),
    Family("connection_from", "Connection from ",
           rf"^Connection from (?P<ip>{_ADDR}) port \d+(?: on \S+ port \d+)?(?: rdomain \S+)?$",
           "carrier", None),
    # Connections that never tried to authenticate.
    Family("no_ident", "Did not receive identification string",
           rf"^Did not receive identification string from (?P<ip>\S+){_PORT}$", "probe",
           "no_identification"),
    Family("negotiation", "Unable to negotiate with ",
           rf"^Unable to negotiate with (?P<ip>\S+){_PORT}: .*$", "probe", "negotiation"),
    Family("banner", "banner exchange: ",
           r"^banner exchange: Connection from (?P<ip>\S+) port \d+: .*$", "probe", "banner"),
    Family("bad_version", "Bad protocol version identification",
           rf"^Bad protocol version identification .* from (?P<ip>\S+){_PORT}$", "probe",
           "bad_version"),
    Family("closed", "Connection closed by ",
           rf"^Connection closed by (?P<ip>{_ADDR}){_PORT}{_PREAUTH}$", "probe_alone",
           "closed_before_auth"),
    Family("reset", "Connection reset by ",
           rf"^Connection reset by (?P<ip>{_ADDR}){_PORT}{_PREAUTH}$", "probe_alone",
           "closed_before_auth"),
    Family("dispatch", "ssh_dispatch_run_fatal: ",
           r"^ssh_dispatch_run_fatal: Connection from (?P<ip>\S+) port \d+: .*$", "probe",
           "protocol_error"),
    Family("timeout", "Timeout before authentication for ",
           rf"^Timeout before authentication for (?P<ip>\S+){_PORT}$", "probe_alone", "timeout"),
    Family("magic", "Magic value check failed",
           r"^Magic value check failed \(\d+\) on obfuscated handshake from (?P<ip>\S+) port "
           r"\d+$",
           "probe", "bad_handshake"),
    Family("tcp_refused", "refused connect from ",
           r"^refused connect from .*\((?P<ip>[^()\s]+)\)$", "probe", "tcp_refused"),
)  # fmt: skip

# Solaris' message ids, `error: `/`fatal: `, and the kernel stamps some journal relays
# put before the message.
PREFIX = r"^(?:\[ID \d+ [\w.]+\] )?(?:kernel: ?\[\s*[\d.]+\]:? )?(?:error: |fatal: )?"
# Messages that are summaries of attempts already counted, or no attempt at all, and so are
# skipped: `Failed none` probes for methods, `PAM N more authentication failures`,
# `Received disconnect ... Bye Bye` (an address carrier only),
# `pam_unix(sshd:auth): check pass; user unknown`, `reverse mapping checking ...`.
