"""The OpenAPI page (``/docs``) offline: Swagger UI's script, style sheet and icon are served from the
``swagger-ui-bundle-v2`` package (the ``serve`` extra) instead of FastAPI's default CDN, so the page
works on a machine without internet. ReDoc, which only a CDN provides, is off.
"""

from fastapi import FastAPI, Request
from fastapi.openapi.docs import get_swagger_ui_html, get_swagger_ui_oauth2_redirect_html
from fastapi.responses import HTMLResponse
from fastapi.staticfiles import StaticFiles

DOCS_URL = "/docs"
ASSETS_URL = "/docs/assets"


def swagger_ui_dir() -> str:
    """The folder of Swagger UI's files inside the installed package."""
    from swagger_ui_bundle import swagger_ui_path

    return str(swagger_ui_path)


def add_docs_page(app: FastAPI) -> None:
    """Serve Swagger UI at ``/docs`` from local files; ``app`` must be made with ``docs_url=None, redoc_url=None``."""
    app.mount(ASSETS_URL, StaticFiles(directory=swagger_ui_dir()), name="swagger-ui-assets")
    redirect_url = DOCS_URL + "/oauth2-redirect"

    @app.get(DOCS_URL, include_in_schema=False)
    async def swagger_ui(request: Request) -> HTMLResponse:
        root = request.scope.get("root_path", "").rstrip("/")
        return get_swagger_ui_html(
            openapi_url=root + (app.openapi_url or "/openapi.json"),
            title=f"{app.title} - Swagger UI",
            swagger_js_url=f"{root}{ASSETS_URL}/swagger-ui-bundle.js",
            swagger_css_url=f"{root}{ASSETS_URL}/swagger-ui.css",
            swagger_favicon_url=f"{root}{ASSETS_URL}/favicon-32x32.png",
            oauth2_redirect_url=root + redirect_url,
        )

    @app.get(redirect_url, include_in_schema=False)
    async def swagger_ui_redirect() -> HTMLResponse:
        return get_swagger_ui_oauth2_redirect_html()
