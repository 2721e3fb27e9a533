"""WSGI entry point, as gunicorn serves it: `gunicorn forum.wsgi`."""

import os

from django.core.wsgi import get_wsgi_application

from forum import request_checks

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "forum.settings")

application = request_checks.wsgi_checks(get_wsgi_application())
