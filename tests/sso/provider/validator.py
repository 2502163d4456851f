"""The provider's claims: e-mail (verified unless the user's last name says "unverified") and ``amr``
(RFC 8176: a second factor when the last name says "mfa")."""

from oauth2_provider.oauth2_validators import OAuth2Validator


class Validator(OAuth2Validator):
    oidc_claim_scope = {**OAuth2Validator.oidc_claim_scope, "amr": "openid"}

    def get_additional_claims(self, request):  # type: ignore[no-untyped-def]
        user = request.user
        return {
            "email": user.email,
            "email_verified": user.last_name != "unverified",
            "given_name": user.first_name,
            "family_name": "",
            "amr": ["pwd", "mfa"] if user.last_name == "mfa" else ["pwd"],
        }
