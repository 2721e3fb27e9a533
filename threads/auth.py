"""Signing in with a handle and a password, and reading the signed-in member on each request."""

from django.contrib.auth.backends import AllowAllUsersModelBackend

from .models import Inbox, User

# Every request of a member reads them with this, written in SQL once: the ORM
# took about three times as long to build the query (every column of the member,
# and their inbox's) as to read the member from its rows.
_MEMBER = (
    f'SELECT u.*, i."unread" AS "inbox_unread" FROM "{User._meta.db_table}" u'
    f' LEFT JOIN "{Inbox._meta.db_table}" i ON i."member_id" = u."id" WHERE u."id" = %s'
)


class MemberBackend(AllowAllUsersModelBackend):
    """Django's model backend, letting deactivated (banned) members stay signed in.

    They are told why they cannot post. Each request reads the member with
    their unread notifications' count (`User.unread_notifications`, shown in
    every page's header) in the one query that reads the member.
    """

    def get_user(self, user_id):
        for member in User._default_manager.raw(_MEMBER, [user_id]):
            unread = member.__dict__.pop("inbox_unread")
            inbox = None if unread is None else Inbox(member_id=member.pk, unread=unread)
            User.inbox.related.set_cached_value(member, inbox)  # as select_related("inbox")
            return member
        return None
