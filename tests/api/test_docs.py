"""/docs and /redoc with their assets from vahti itself: nothing from a CDN."""

from __future__ import annotations

import re

from tests.api.conftest import World


def test_docs_and_redoc_load_only_from_vahti(world: World) -> None:
    for page, asset in (("/docs", "swagger-ui-bundle.js"), ("/redoc", "redoc.standalone.js")):
        response = world.client.get(page)
        assert response.status_code == 200, page
        html = response.text
        sources = re.findall(r'(?:src|href)="([^"]+)"', html)
        assert sources and all(s.startswith("/") for s in sources), sources
        assert f"/docs-assets/{asset}" in sources
        assert "https://" not in response.headers["content-security-policy"]
        script = world.client.get(f"/docs-assets/{asset}")
        assert script.status_code == 200 and len(script.content) > 100_000
    assert world.client.get("/docs-assets/swagger-ui.css").status_code == 200
    assert world.client.get("/docs/oauth2-redirect").status_code == 200
