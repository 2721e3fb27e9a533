"""Who a request comes from, as the limits per address and django-axes count it.

Both functions are django-axes settings (AXES_CLIENT_IP_CALLABLE and
AXES_FAILURE_LIMIT in forum/settings.py); the sign-up and password-reset
views get the address through axes too, so every limit agrees on it.
"""

import ipaddress

from axes.handlers.proxy import AxesProxyHandler
from django.conf import settings
from django.db.models import Sum
from django.http import HttpRequest

from .services import address_key


def _valid(address: str) -> bool:
    try:
        ipaddress.ip_address(address)
    except ValueError:
        return False
    return True


def client_address(request: HttpRequest) -> str | None:
    """The address a request comes from, an IPv6 address as its /64 (services.address_key).

    With DJANGO_BEHIND_PROXY, the last address of X-Forwarded-For, the one our
    proxy saw (anything before it, the client may have written); otherwise the
    connection's address, and X-Forwarded-For is not believed. None when there
    is no valid address.
    """
    address = request.META.get("REMOTE_ADDR", "")
    if settings.BEHIND_PROXY:
        forwarded = request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")[-1].strip()
        if _valid(forwarded):
            address = forwarded
    return address_key(address) if _valid(address) else None


def login_failure_limit(request: HttpRequest, credentials: dict | None = None) -> int:
    """How many failed logins lock this one out: two limits in django-axes' one number.

    AXES_LOCKOUT_PARAMETERS counts failures for this username from this
    address, and failures from this address for any username; axes compares
    the larger count with this number. The second count is never the smaller,
    so while the first is under its limit, the answer is the (larger) limit of
    the address; once it reaches its own, that limit, which locks.
    """
    limits = settings.FORUM_LIMITS
    per_account = limits["login_failures_per_account"]
    per_address = limits["login_failures_per_address"]
    for_account = AxesProxyHandler.get_implementation().get_user_attempts(request, credentials)[0]
    failures = for_account.aggregate(total=Sum("failures_since_start"))["total"] or 0
    return per_account if failures >= per_account else per_address
