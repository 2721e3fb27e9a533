from csp.constants import UNSAFE_INLINE
from csp.middleware import CSPMiddleware as BaseCSPMiddleware
from csp.middleware import PolicyParts
from django.urls import reverse


class CSPMiddleware(BaseCSPMiddleware):
    """The site's Content-Security-Policy, with one exception for the admin.

    django-mptt indents the admin's tree of posts with inline style
    attributes, so admin pages may use inline styles. Scripts stay strict
    everywhere.
    """

    def get_policy_parts(self, request, response, report_only: bool = False) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        if request.path.startswith(reverse("admin:index")):
            parts.update = {**(parts.update or {}), "style-src": [UNSAFE_INLINE]}
        return parts
