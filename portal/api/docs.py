"""The interactive API docs (Swagger UI) under the site's strict Content-Security-Policy.

drf-spectacular's split view serves the init script as a request of its own, so the page has
no inline script; our template moves its one inline style block to a static file. The policy
then adds only what Swagger UI needs: its assets' origin when `SWAGGER_UI_DIST` points
elsewhere (a CDN), and data: images. No inline script or style, no eval (checked in Chromium
with the self-hosted assets: load, expand, try out, execute, authorize).
"""

from collections.abc import Callable
from urllib.parse import urlsplit

from csp.decorators import csp_update
from drf_spectacular.settings import spectacular_settings
from drf_spectacular.views import SpectacularSwaggerSplitView


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "portal/api_docs.html"


def asset_origins() -> list[str]:
    """The origin of Swagger UI's files when they come from elsewhere (a CDN), else none."""
    dist = urlsplit(spectacular_settings.SWAGGER_UI_DIST)
    return [f"{dist.scheme}://{dist.netloc}"] if dist.netloc else []


def api_docs_view(**kwargs) -> Callable:
    origins = asset_origins()
    return csp_update(
        {
            "script-src": origins,
            "style-src": origins,
            # Swagger UI draws its icons as data: SVGs; the favicon comes with the assets.
            "img-src": [*origins, "data:"],
        }
    )(ApiDocsView.as_view(**kwargs))
