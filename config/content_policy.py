"""The Content Security Policy header, built once.

django-csp builds the header from the settings on every response (a tenth of the Python work of the
smallest signed-in request, measured in bench/peer.py's floor). The portal uses no nonces, and only the API
docs page changes its policy (``csp_update``), so a response that asks for nothing of its own gets the
header built at start-up; any other goes through django-csp unchanged.
"""

from __future__ import annotations

from functools import cached_property

from csp.constants import HEADER, HEADER_REPORT_ONLY
from csp.middleware import CheckableLazyObject, CSPMiddleware
from csp.utils import build_policy
from django.conf import settings
from django.http import HttpRequest
from django.http.response import HttpResponseBase

# Attributes by which a view or decorator changes the policy of one response.
_PER_RESPONSE = (
    "_csp_exempt",
    "_csp_exempt_ro",
    "_csp_config",
    "_csp_update",
    "_csp_replace",
    "_csp_config_ro",
    "_csp_update_ro",
    "_csp_replace_ro",
)


class ConstantPolicyMiddleware(CSPMiddleware):
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
            or getattr(request, "_csp_nonce", None) is not None
            or any(hasattr(response, name) for name in _PER_RESPONSE)
        ):
            return super().process_response(request, response)
        for header, value in zip((HEADER, HEADER_REPORT_ONLY), constant, strict=True):
            if value and header not in response:
                response[header] = value
        # As django-csp does: a nonce asked for after the header is written is an error, not a silent gap.
        request.csp_nonce = CheckableLazyObject(self._csp_nonce_post_response)  # type: ignore[attr-defined]
        return response
