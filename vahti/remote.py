"""Reading through a running server: DuckDB lets no second process open the database, not
even to read, so read-only commands ask the server's API instead (with VAHTI_TOKEN)."""

from __future__ import annotations

import json
import os
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any

from store import StoreBusyError, StoreError


class Remote:
    def __init__(self, url: str, token: str) -> None:
        if not url.startswith(("http://", "https://")):
            raise StoreError(f"the server note names no HTTP address: {url!r}")
        self.url, self.token = url.rstrip("/"), token

    def get(self, path: str, **params: Any) -> Any:
        query = urllib.parse.urlencode({k: v for k, v in params.items() if v is not None})
        request = urllib.request.Request(f"{self.url}{path}?{query}")  # noqa: S310 (http only)
        request.add_header("Authorization", f"Bearer {self.token}")
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                return json.loads(response.read())
        except urllib.error.HTTPError as error:
            detail = error.read().decode(errors="replace")[:300]
            raise StoreError(f"the server at {self.url} answered {error.code}: {detail}") from error
        except urllib.error.URLError as error:
            raise StoreError(
                f"the server at {self.url} cannot be reached: {error.reason}"
            ) from error

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


def through_server(db: Path, busy: StoreBusyError) -> Remote:
    """The API of the server holding `db`, or the original error with a hint."""
    try:
        note = json.loads(db.with_name(db.name + ".holder").read_text())
    except (OSError, ValueError):
        raise busy from None
    token = os.environ.get("VAHTI_TOKEN")
    if not token:
        raise StoreBusyError(
            f"{busy}; read-only commands read through it when VAHTI_TOKEN holds an API token"
        ) from busy
    return Remote(str(note["url"]), token)
