"""The text of the mails the forum writes itself, from templates/registration/*.txt and
templates/mail/ (notifications, as text and as HTML).

Written when a mail is queued (threads.services), so the outbox holds the
very text that is sent.
"""

import html
import re
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.template.defaultfilters import pluralize
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import strip_tags
from django.utils.text import Truncator

from .models import Mail, Post, Reason, Topic, User


def confirmation(*, user: User, address: str, link: str) -> tuple[str, str]:
    """The subject and body of the mail that asks to confirm `address`, with its link."""
    context = {
        "user": user,
        "address": address,
        "link": link,
        "days": settings.FORUM_EMAIL_CONFIRMATION_AGE.days,
        "changing": address != user.email,
    }
    subject = render_to_string("registration/email_confirmation_subject.txt", context)
    return subject, render_to_string("registration/email_confirmation_email.txt", context)


# --- Mail about notifications (threads.services.notification_mails) -------------------

# The longest excerpt of a post a mail shows, in characters.
EXCERPT_LENGTH = 300
_SUBJECT_LENGTH = Mail._meta.get_field("subject").max_length
# Where a block of a post's HTML ends: a space there, so that its words stay apart.
_BLOCK_END = re.compile(r"(</(?:p|li|h[1-6]|pre|blockquote|tr|td|th|div)>|<br\s*/?>)", re.I)


def site_url(path: str) -> str:
    """An absolute link to `path` on the forum (settings.FORUM_SITE_URL): mail written by a
    worker has no request to ask for the site's address, as a confirmation's view does."""
    return settings.FORUM_SITE_URL + path


def excerpt(body_html: str, length: int = EXCERPT_LENGTH) -> str:
    """The beginning of a post's text, without its markup, on one line."""
    text = html.unescape(strip_tags(_BLOCK_END.sub(r"\1 ", body_html)))
    return Truncator(" ".join(text.split())).chars(length)


@dataclass(frozen=True)
class MailedPost:
    """A post as a mail lists it: who, why, when, the beginning of it, and where it is."""

    author: str
    reason: str
    created: datetime
    excerpt: str
    link: str


@dataclass(frozen=True)
class MailedTopic:
    """A topic as a mail shows it: its title, its link and its new posts."""

    title: str
    link: str
    posts: list[MailedPost]


def mailed_topic(topic: Topic, posts: list[tuple[Post, str]]) -> MailedTopic:
    """A topic and its new posts, each with its reason (a Reason value), for a mail."""
    return MailedTopic(
        title=topic.title,
        link=site_url(topic.get_absolute_url()),
        posts=[
            MailedPost(
                author=_byline(post.author),
                reason=Reason(reason).label,
                created=post.created,
                excerpt=excerpt(post.body_html),
                link=site_url(post.get_absolute_url()),
            )
            for post, reason in posts
        ],
    )


def _byline(author: User) -> str:
    handle = f"@{author.username}"
    return f"{author.display_name} ({handle})" if author.display_name else handle


def _footer(member: User, unsubscribe: str) -> dict:
    return {
        "member": member,
        "unsubscribe": unsubscribe,
        "settings_link": site_url(reverse("threads:settings_notifications")),
    }


def topic_mail(*, member: User, topic: MailedTopic, unsubscribe: str) -> tuple[str, str, str]:
    """The subject, text and HTML of the mail of a topic's new posts for `member`.

    The subject is the same for every mail of the topic, so that mail
    clients that thread by subject too keep them together.
    """
    prefix = "New replies in "
    subject = prefix + Truncator(topic.title).chars(_SUBJECT_LENGTH - len(prefix))
    context = {"topic": topic, **_footer(member, unsubscribe)}
    return (
        subject,
        render_to_string("mail/topic.txt", context),
        render_to_string("mail/topic.html", context),
    )


def digest_mail(
    *, member: User, topics: list[MailedTopic], unsubscribe: str
) -> tuple[str, str, str]:
    """The subject, text and HTML of a member's daily digest: a section per topic."""
    posts = sum(len(topic.posts) for topic in topics)
    subject = (
        f"Your forum digest: {posts} new post{pluralize(posts)}"
        f" in {len(topics)} topic{pluralize(len(topics))}"
    )
    context = {"topics": topics, "posts": posts, **_footer(member, unsubscribe)}
    return (
        subject,
        render_to_string("mail/digest.txt", context),
        render_to_string("mail/digest.html", context),
    )
