"""The text of the mails the forum writes itself, from templates/registration/*.txt.

Written when a mail is queued (threads.services), so the outbox holds the
very text that is sent.
"""

from django.conf import settings
from django.template.loader import render_to_string

from .models import User


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
