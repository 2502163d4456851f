from tests.uploads.conftest import token_client, tus_create, tus_patch  # noqa: F401 - shared fixtures
