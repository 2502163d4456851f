"""``python -m tests.sso.provider setup CONFIG.json``: migrate the provider's database and create its
users and client applications (the environment names the database, key and issuer)."""

import json
import os
import sys
from pathlib import Path

import django

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.sso.provider.settings")
django.setup()

from django.contrib.auth.models import User  # noqa: E402
from django.core.management import call_command  # noqa: E402
from oauth2_provider.models import Application  # noqa: E402


def setup(config_path: str) -> None:
    config = json.loads(Path(config_path).read_text(encoding="utf-8"))
    call_command("migrate", verbosity=0, interactive=False)
    for person in config["users"]:
        user, _ = User.objects.get_or_create(username=person["username"])
        user.email = person["email"]
        user.first_name = person.get("first_name", "")
        user.last_name = person.get("last_name", "")
        user.set_password(person["password"])
        user.save()
    for app in config["applications"]:
        Application.objects.update_or_create(
            client_id=app["client_id"],
            defaults={
                "name": app["client_id"],
                "client_secret": app["client_secret"],
                "hash_client_secret": False,
                "client_type": Application.CLIENT_CONFIDENTIAL,
                "authorization_grant_type": Application.GRANT_AUTHORIZATION_CODE,
                "redirect_uris": " ".join(app["redirect_uris"]),
                "skip_authorization": True,
                "algorithm": Application.RS256_ALGORITHM,
            },
        )


if __name__ == "__main__":
    if len(sys.argv) != 3 or sys.argv[1] != "setup":
        sys.exit("usage: python -m tests.sso.provider setup CONFIG.json")
    setup(sys.argv[2])
