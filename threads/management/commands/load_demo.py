"""Demo content for `make run`: a moderator, a few members and their topics.

Loaded once, into an empty forum, and only with DJANGO_DEBUG=1: the demo
accounts have a published password.
"""

from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from threads import conversation, services
from threads.models import Topic, User

DEMO_FILE = Path(__file__).resolve().parents[2] / "demo" / "forum-demo.md"
DEMO_PASSWORD = "forum-demo"
MODERATOR = "moderator"
MEMBERS = ["alice", "bob", "chidi", "dana", "emeka"]


class Command(BaseCommand):
    help = "Create demo accounts and topics in an empty forum (development only)."

    def handle(self, *args, verbosity: int, **options) -> None:
        if not settings.DEBUG:
            raise CommandError(
                "The demo accounts have a published password: load_demo only runs with "
                "DJANGO_DEBUG=1."
            )
        if Topic.objects.exists():
            if verbosity:
                self.stdout.write("The forum already has topics; demo content not loaded.")
            return
        document = conversation.read(DEMO_FILE.read_bytes(), filename=DEMO_FILE.name)
        with transaction.atomic():
            moderator = services.user_create(
                username=MODERATOR,
                email=f"{MODERATOR}@example.org",
                password=DEMO_PASSWORD,
                is_moderator=True,
            )
            for name in MEMBERS:
                services.user_create(
                    username=name, email=f"{name}@example.org", password=DEMO_PASSWORD
                )
            # The demo's own moderator writes in it.
            summary = services.conversation_import(
                documents=[document], moderator=moderator, allow_staff_handles=True
            )
            # The demo members joined before their first posts, as real members did.
            first_post = min(m.created for c in document.conversations for m in c.messages)
            User.objects.filter(username__in=[MODERATOR, *MEMBERS]).update(
                date_joined=first_post - timedelta(days=30)
            )
            welcome = Topic.objects.order_by("pk").first()
            services.topic_set_pinned(topic=welcome, moderator=moderator, pinned=True)
        if verbosity:
            self.stdout.write(
                f"Loaded {summary.topics} demo topics with {summary.posts} posts. "
                f"Log in as {MODERATOR} (moderator) or {', '.join(MEMBERS)}, "
                f"password {DEMO_PASSWORD!r}."
            )
