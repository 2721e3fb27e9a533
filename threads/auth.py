"""Signing in with a handle and a password, and reading the signed-in member on each request."""

from django.contrib.auth.backends import AllowAllUsersModelBackend

from .models import User


class MemberBackend(AllowAllUsersModelBackend):
    """Django's model backend, letting deactivated (banned) members stay signed in.

    They are told why they cannot post. Each request reads the member with
    their unread notifications' count (`User.unread_notifications`, shown in
    every page's header) in the one query that reads the member.
    """

    def get_user(self, user_id):
        try:
            return User._default_manager.select_related("inbox").get(pk=user_id)
        except User.DoesNotExist:
            return None
