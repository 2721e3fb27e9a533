"""ASGI entry point, for servers such as uvicorn or daphne."""

import os

from django.core.asgi import get_asgi_application

from forum import request_checks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forum.settings")

application = request_checks.asgi_checks(get_asgi_application())
