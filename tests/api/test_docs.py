"""/docs and /redoc with their assets from vahti itself: nothing from a CDN."""

from __future__ import annotations

import re
from pathlib import Path

from api.assets import IMMUTABLE, folder_version
from tests.api.conftest import World


def test_docs_and_redoc_load_only_from_vahti(world: World) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        response = world.client.get(page)
        assert response.status_code == 200, page
        html = response.text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and all(s.startswith("/") for s in sources), sources
        assert f"/docs-assets/{asset}" in {s.split("?")[0] for s in sources}
        assert "https://" not in response.headers["content-security-policy"]
        script = world.client.get(f"/docs-assets/{asset}")
        assert script.status_code == 200 and len(script.content) > 100_000
    assert world.client.get("/docs-assets/swagger-ui.css").status_code == 200
    assert world.client.get("/docs/oauth2-redirect").status_code == 200


def test_assets_are_cached_under_a_name_that_changes_with_them(world: World) -> None:
    """Every other answer says no-store; the console's and the docs' own files may be kept,
    because pages name them with a hash of their contents."""
    pages = (("/login", "/static/"), ("/docs", "/docs-assets/"), ("/redoc", "/docs-assets/"))
    for page, folder in pages:
        named = re.findall(rf'(?:src|href)="({folder}[^"]+)"', world.client.get(page).text)
        assert named and all(re.search(r"\?v=[0-9a-f]{12}$", url) for url in named), named
        for url in named:
            answer = world.client.get(url)
            assert answer.status_code == 200, url
            assert answer.headers["cache-control"] == IMMUTABLE, url
    assert world.client.get("/login").headers["cache-control"] == "no-store"
    assert world.client.get("/static/nothing.css").headers["cache-control"] == "no-store"


def test_the_version_follows_the_contents(tmp_path: Path) -> None:
    (tmp_path / "a.css").write_text("body { margin: 0 }")
    first = folder_version(tmp_path)
    assert folder_version(tmp_path) == first
    (tmp_path / "a.css").write_text("body { margin: 1px }")
    assert folder_version(tmp_path) != first


def test_static_files_pass_while_compaction_holds_the_database(world: World) -> None:
    """Compaction holds every request that reads the database; a stylesheet reads none."""
    with world.store.gate.exclusive():
        assert world.client.get("/static/console.css").status_code == 200
        assert world.client.get("/healthz").status_code == 200
