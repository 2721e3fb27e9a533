"""Thin views: bind a form, call a service or a selector, render or redirect.

One module per area; the URL configuration uses the names below.
"""

from .accounts import PasswordChangeView, PasswordResetView, csrf_failure, signup
from .approval import pending_detail, pending_list
from .feeds import category_feed, forum_feed, member_feed, topic_feed
from .history import post_history, revision_hidden
from .members import all_read, ignore, settings_profile
from .moderation import moderation_feed, moderation_log
from .notifications import (
    category_watch,
    inbox,
    notifications_read,
    settings_notifications,
    topic_watch,
)
from .reading import (
    category,
    index,
    post_permalink,
    post_thread,
    profile,
    topic_detail,
    topic_download,
)
from .reports import post_report
from .search import search
from .settings_avatar import settings_avatar
from .settings_email import email_confirm, settings_email
from .sitemaps import robots_txt, sitemap_index, sitemap_section
from .unsubscribe import unsubscribe
from .writing import post_delete, post_edit, reply, topic_create

__all__ = [
    "PasswordChangeView",
    "PasswordResetView",
    "all_read",
    "category",
    "category_feed",
    "category_watch",
    "csrf_failure",
    "email_confirm",
    "forum_feed",
    "ignore",
    "inbox",
    "index",
    "member_feed",
    "moderation_feed",
    "moderation_log",
    "notifications_read",
    "pending_detail",
    "pending_list",
    "post_delete",
    "post_edit",
    "post_history",
    "post_permalink",
    "post_report",
    "post_thread",
    "profile",
    "reply",
    "revision_hidden",
    "robots_txt",
    "search",
    "settings_avatar",
    "settings_email",
    "settings_notifications",
    "settings_profile",
    "signup",
    "sitemap_index",
    "sitemap_section",
    "topic_create",
    "topic_detail",
    "topic_download",
    "topic_feed",
    "topic_watch",
    "unsubscribe",
]
