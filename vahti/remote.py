"""Commands beside a running server: DuckDB lets no second process open the database, not
even to read, so while `vahti serve` holds it every command asks its API instead, as cscli
and fail2ban-client talk to their daemons.

The server writes where it listens next to the database (`<db>.holder`) and a token for
this machine's operator (`<db>.token`, owner-only, revoked when it stops); `VAHTI_TOKEN`
overrides the file."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path
from typing import Any

import httpx

from store import StoreBusyError, StoreError
from vahti.shell import NotFound, UsageError


def holder_note(db: Path) -> Path:
    return db.with_name(db.name + ".holder")


def token_file(db: Path) -> Path:
    return db.with_name(db.name + ".token")


class Remote:
    """The API of a running server, with the caller's token."""

    def __init__(self, url: str, token: str, timeout: float = 3600.0) -> None:
        if not url.startswith(("http://", "https://")):
            raise StoreError(f"the server note names no HTTP address: {url!r}")
        self.url = url.rstrip("/")
        self.client = httpx.Client(
            base_url=self.url, headers={"Authorization": f"Bearer {token}"}, timeout=timeout
        )

    def request(
        self, method: str, path: str, params: dict[str, Any] | None = None, body: Any = None
    ) -> Any:
        query = {k: v for k, v in (params or {}).items() if v is not None}
        try:
            response = self.client.request(method, path, params=query, json=body)
        except httpx.HTTPError as error:
            raise StoreError(f"the server at {self.url} cannot be reached: {error}") from error
        if response.is_success:
            return response.json() if response.content else None
        raise _failure(self.url, response)

    def get(self, path: str, **params: Any) -> Any:
        return self.request("GET", path, params)

    def download(self, path: str) -> tuple[bytes, httpx.Headers]:
        """A file the server sends (a package): its bytes and the response's headers."""
        try:
            response = self.client.get(path)
        except httpx.HTTPError as error:
            raise StoreError(f"the server at {self.url} cannot be reached: {error}") from error
        if response.is_success:
            return response.content, response.headers
        raise _failure(self.url, response)

    def post(self, path: str, body: Any = None, **params: Any) -> Any:
        return self.request("POST", path, params, body)

    def patch(self, path: str, body: Any) -> Any:
        return self.request("PATCH", path, None, body)

    def delete(self, path: str) -> Any:
        return self.request("DELETE", path)

    def pages(self, path: str, key: str, cursor: str, **params: Any) -> list[dict[str, Any]]:
        """Every item of a paged list (`next` is passed back as `cursor`)."""
        items: list[dict[str, Any]] = []
        position = None
        while True:
            body = self.get(path, **params, **({cursor: position} if position else {}))
            items += body[key]
            position = body["next"]
            if position is None:
                return items


def _failure(url: str, response: httpx.Response) -> Exception:
    """The server's refusal as the command line's own: bad input exits 2, a missing id 1."""
    try:
        detail = response.json().get("detail", response.text)
    except ValueError:
        detail = response.text
    if isinstance(detail, list):  # validation errors: where and what
        detail = "; ".join(
            f"{'.'.join(map(str, d.get('loc', [])))}: {d.get('msg')}" for d in detail
        )
    message = str(detail)[:500]
    if response.status_code == 404:
        return NotFound(message)
    if response.status_code in (400, 409, 413, 415, 422):
        return UsageError(message)
    return StoreError(f"the server at {url} answered {response.status_code}: {message}")


def through_server(db: Path, busy: StoreBusyError) -> Remote:
    """The API of the server holding `db`, or the original error with a hint."""
    try:
        note = json.loads(holder_note(db).read_text())
    except (OSError, ValueError):
        raise busy from None
    token = os.environ.get("VAHTI_TOKEN") or _local_token(db)
    if not token:
        raise StoreBusyError(
            f"{busy}; commands go through it with a token: the server's {token_file(db).name} "
            "(readable by the user who started it) or VAHTI_TOKEN"
        ) from busy
    return Remote(str(note["url"]), token)


def _local_token(db: Path) -> str | None:
    """The token the server left for this machine's operator, if this user may read it and
    nobody else can: a file others could read would hand them the server."""
    path = token_file(db)
    try:
        info = path.stat()
    except OSError:
        return None
    if info.st_mode & (stat.S_IRWXG | stat.S_IRWXO):
        raise StoreError(f"{path} is readable by others: refusing to use it (chmod 600 it)")
    try:
        return path.read_text().strip() or None
    except PermissionError:
        return None


def write_token_file(db: Path, secret: str) -> Path:
    """Owner-only from its creation, never briefly readable by others."""
    path = token_file(db)
    path.unlink(missing_ok=True)
    handle = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(handle, "w") as out:
        out.write(secret + "\n")
    return path
