"""The Content Security Policy header, built once.

django-csp builds the header from the settings on every response (a tenth of the Python work of the
smallest signed-in request, measured in bench/peer.py's floor). The portal's policy has no nonces (every
script and style is a file), and only the API docs page changes its policy (``csp_update``), so a response
that asks for nothing of its own gets the header built at start-up; any other goes through django-csp.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import cached_property
from typing import cast

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.exceptions import CSPNonceError
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest, HttpResponse
from django.http.response import HttpResponseBase

# Attributes by which a view or decorator changes the policy of one response (django-csp's decorators set
# them on the response).
_PER_RESPONSE = frozenset(
    {
        "_csp_exempt",
        "_csp_exempt_ro",
        "_csp_config",
        "_csp_update",
        "_csp_replace",
        "_csp_config_ro",
        "_csp_update_ro",
        "_csp_replace_ro",
    }
)


def _no_nonce() -> None:
    raise CSPNonceError("The portal's Content Security Policy has no nonces: serve the script as a file.")


class ConstantPolicyMiddleware(CSPMiddleware):
    async_capable = False  # under ASGI Django runs it in a thread: __call__ below is synchronous

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        super().__init__(get_response)
        # Asking for a nonce is an error, as django-csp makes it once the header is written, never a
        # silent gap in the policy. One object serves every request: it never holds a value.
        self._no_nonce = CheckableLazyObject(_no_nonce)

    def __call__(self, request: HttpRequest) -> HttpResponseBase:
        request.csp_nonce = self._no_nonce  # type: ignore[attr-defined]
        return self.process_response(request, cast(HttpResponseBase, self.get_response(request)))

    @cached_property
    def _constant(self) -> tuple[str, str] | None:
        """The (enforced, report-only) headers of the settings, or None when they vary by path."""
        for policy in (settings.CONTENT_SECURITY_POLICY, settings.CONTENT_SECURITY_POLICY_REPORT_ONLY):
            if (policy or {}).get("EXCLUDE_URL_PREFIXES"):
                return None
        return build_policy(), build_policy(report_only=True)

    def process_response(self, request: HttpRequest, response: HttpResponseBase) -> HttpResponseBase:
        constant = self._constant
        if (
            constant is None
            or (settings.DEBUG and response.status_code in (404, 500))  # django-csp spares debug pages
            or not _PER_RESPONSE.isdisjoint(response.__dict__)
        ):
            return super().process_response(request, response)
        for header, value in zip((HEADER, HEADER_REPORT_ONLY), constant, strict=True):
            if value and header not in response:
                response[header] = value
        return response
