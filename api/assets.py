"""Static files the browser may keep: the console's stylesheet, script and map, and the
API documentation's bundles. They hold no personal data, so unlike every other answer
(no-store) they are cached; pages name them with a hash of their folder's contents
(`?v=`), so a new release is fetched at once and an unchanged one never again."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

from starlette.responses import Response
from starlette.staticfiles import StaticFiles
from starlette.types import Scope

IMMUTABLE = "public, max-age=31536000, immutable"


def folder_version(folder: Path) -> str:
    """A short hash of every file's name and contents under `folder`."""
    digest = hashlib.sha256()
    for path in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(path.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(path.read_bytes())
    return digest.hexdigest()[:12]


class CachedAssets(StaticFiles):
    """StaticFiles whose answers say they may be kept for a year: the URLs that name them
    change when their contents do."""

    def file_response(
        self,
        full_path: str | os.PathLike[str],
        stat_result: os.stat_result,
        scope: Scope,
        status_code: int = 200,
    ) -> Response:
        response = super().file_response(full_path, stat_result, scope, status_code)
        response.headers["cache-control"] = IMMUTABLE
        return response
