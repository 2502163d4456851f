# Uploads are served under WSGI (gunicorn): under ASGI Django spools a whole request body to a temporary
# file before the view runs (research/reliability.md section 1.2). This module exists for tooling only.
import os

from django.core.asgi import get_asgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
application = get_asgi_application()
