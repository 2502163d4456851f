"""``POST /api/token/``: username and password in, ``{"token": ...}`` out, for ``Authorization: Token``."""

from rest_framework.authtoken.views import ObtainAuthToken


class TokenCreateApi(ObtainAuthToken):
    pass
