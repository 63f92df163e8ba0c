"""The interactive API docs (Swagger UI and ReDoc) under the site's strict Content-Security-Policy.

Their assets are our static files (drf-spectacular-sidecar, `SIDECAR` in SPECTACULAR_SETTINGS),
so the pages work without internet and the policy names no other origin.

Swagger UI: drf-spectacular's split view serves the init script as a request of its own, so the
page has no inline script; our template moves its one inline style block to a static file. The
policy adds only data: images (Swagger UI's icons). No inline script or style, no eval (checked
in Chromium: load, expand, try out, execute, authorize).

ReDoc: our template drops the Google Fonts links and the inline style and starts ReDoc from a
static script (portal/static/portal/api-redoc.js) that hands it the request's nonce, which
ReDoc puts on the `<style>` elements it writes. Its search runs in a worker made from a blob:
URL. So the policy adds the nonce and two hashes to style-src, blob: to worker-src and data:
images (the favicon).
"""

from collections.abc import Callable

from csp.constants import NONCE, SELF
from csp.decorators import csp_update
from drf_spectacular.views import SpectacularRedocView, SpectacularSwaggerSplitView

# As it loads, before ReDoc knows the nonce, its bundle writes perfect-scrollbar's CSS (with its
# source map) into a <style> element, and one empty one: allowed by their hashes. A bundle that
# changes them shows as a CSP violation in tests/browser/test_content_security_policy.py.
REDOC_BUNDLE_STYLES = [
    "'sha256-QMIg+bpjm3JdElJ388KYke01izlUW0UoNOeKjpMxdgc='",  # perfect-scrollbar.css
    "'sha256-47DEQpj8HBSa+/TImW+5JCeuQeRkm5NMpJWZG3hSuFU='",  # the empty string
]


class ApiDocsView(SpectacularSwaggerSplitView):
    template_name = "portal/api_docs.html"


class ApiRedocView(SpectacularRedocView):
    template_name = "portal/api_redoc.html"


def api_docs_view(**kwargs) -> Callable:
    # Swagger UI draws its icons as data: SVGs; the favicon comes with the assets.
    return csp_update({"img-src": ["data:"]})(ApiDocsView.as_view(**kwargs))


def api_redoc_view(**kwargs) -> Callable:
    return csp_update(
        {
            "style-src": [NONCE, *REDOC_BUNDLE_STYLES],
            "worker-src": [SELF, "blob:"],
            "img-src": ["data:"],
        }
    )(ApiRedocView.as_view(**kwargs))
