"""The API's documentation pages, Swagger UI at /docs and ReDoc at /redoc, with their
scripts and styles served by vahti itself (from the fastapi_offline package): a server on
a closed network, or a browser with no internet, still shows them."""

from __future__ import annotations

from importlib.resources import files
from pathlib import Path

from fastapi import FastAPI
from fastapi.openapi.docs import (
    get_redoc_html,
    get_swagger_ui_html,
    get_swagger_ui_oauth2_redirect_html,
)
from fastapi.responses import HTMLResponse

from api.assets import CachedAssets, folder_version

ASSETS = "/docs-assets"
DOC_PATHS = ("/docs", "/redoc", "/docs/oauth2-redirect")


def install_docs(app: FastAPI) -> None:
    """Mount the assets and add the pages (the app is made with docs_url=None)."""
    folder = Path(str(files("fastapi_offline") / "static"))
    app.mount(ASSETS, CachedAssets(directory=folder), name="docs-assets")
    version = f"?v={folder_version(folder)}"
    openapi = app.openapi_url or "/openapi.json"

    @app.get("/docs", include_in_schema=False)
    def swagger() -> HTMLResponse:
        return get_swagger_ui_html(
            openapi_url=openapi,
            title=f"{app.title}: API",
            swagger_js_url=f"{ASSETS}/swagger-ui-bundle.js{version}",
            swagger_css_url=f"{ASSETS}/swagger-ui.css{version}",
            swagger_favicon_url=f"{ASSETS}/favicon.png{version}",
            oauth2_redirect_url="/docs/oauth2-redirect",
        )

    @app.get("/docs/oauth2-redirect", include_in_schema=False)
    def oauth2_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()

    @app.get("/redoc", include_in_schema=False)
    def redoc() -> HTMLResponse:
        return get_redoc_html(
            openapi_url=openapi,
            title=f"{app.title}: API",
            redoc_js_url=f"{ASSETS}/redoc.standalone.js{version}",
            redoc_favicon_url=f"{ASSETS}/favicon.png{version}",
            with_google_fonts=False,
        )
