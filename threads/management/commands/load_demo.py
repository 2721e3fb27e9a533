"""Demo content for `make run`: a moderator, a few members, categories and their topics.

Loaded once, into an empty forum, and only with DJANGO_DEBUG=1: the demo
accounts have a published password. Each category's topics are in
threads/demo/<slug>.md; the private one is seen only by the group Demo staff.
"""

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path

from django.conf import settings
from django.contrib.auth.models import Group
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from threads import conversation, services
from threads.models import Category, Topic, User

DEMO_DIR = Path(__file__).resolve().parents[2] / "demo"
DEMO_PASSWORD = "forum-demo"
MODERATOR = "moderator"
MEMBERS = ["alice", "bob", "chidi", "dana", "emeka"]
# The group that sees (and moderates) the private category: the moderator, and a
# member who helps out.
STAFF_GROUP = "Demo staff"
STAFF = [MODERATOR, "chidi"]
# What some of the demo members show of themselves (the others show their handle alone).
PROFILES = {
    MODERATOR: ("The Moderators", "We keep the forum friendly. Write to us in **Help**."),
    "alice": ("Alice Moreau", "Gardener, amateur astronomer, asks too many questions."),
    "chidi": ("Chidi A.", "I help out in the Moderators' room."),
    "emeka": ("", "Here mostly to read."),
}


@dataclass(frozen=True)
class DemoCategory:
    name: str
    file: str  # in DEMO_DIR
    description: str = ""
    position: int = 0  # listed by position, then by name
    who_starts: str = ""
    private: bool = False  # seen and moderated by STAFF_GROUP only
    default: bool = False  # the forum's default category ("General"), which migrate made


CATEGORIES = [
    DemoCategory(
        "Announcements",
        "announcements.md",
        "News about the forum, from the moderators.",
        who_starts=Category.Posters.MODERATORS,
    ),
    DemoCategory("General", "general.md", default=True),
    DemoCategory("Help", "help.md", "Stuck on something? Say what you tried and what happened.", 1),
    DemoCategory(
        "Moderators' room",
        "moderators-room.md",
        f"Only the {STAFF_GROUP} group sees this: how we run the forum.",
        2,
        private=True,
    ),
]


class Command(BaseCommand):
    help = "Create demo accounts, categories and topics in an empty forum (development only)."

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
        if Category.objects.filter(is_default=False).exists():
            if verbosity:
                self.stdout.write("The forum already has categories; demo content not loaded.")
            return
        documents = [
            conversation.read((DEMO_DIR / demo.file).read_bytes(), filename=demo.file)
            for demo in CATEGORIES
        ]
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
            for user in User.objects.filter(username__in=PROFILES):
                display_name, bio = PROFILES[user.username]
                services.profile_update(user=user, display_name=display_name, bio=bio)
            staff, _ = Group.objects.get_or_create(name=STAFF_GROUP)
            staff.user_set.add(*User.objects.filter(username__in=STAFF))
            topics = posts = 0
            for demo, document in zip(CATEGORIES, documents, strict=True):
                # The demo's own moderator writes in it.
                summary = services.conversation_import(
                    documents=[document],
                    moderator=moderator,
                    category=_category(demo, staff),
                    allow_staff_handles=True,
                )
                topics, posts = topics + summary.topics, posts + summary.posts
            # The demo members joined before their first posts, as real members did.
            first_post = min(
                m.created for d in documents for c in d.conversations for m in c.messages
            )
            User.objects.filter(username__in=[MODERATOR, *MEMBERS]).update(
                date_joined=first_post - timedelta(days=30)
            )
            welcome = Topic.objects.filter(category__name="Announcements").get()
            services.topic_set_pinned(topic=welcome, moderator=moderator, pinned=True)
        if verbosity:
            private = ", ".join(demo.name for demo in CATEGORIES if demo.private)
            self.stdout.write(
                f"Loaded {topics} demo topics with {posts} posts in {len(CATEGORIES)} categories. "
                f"Log in as {MODERATOR} (moderator) or {', '.join(MEMBERS)}, "
                f"password {DEMO_PASSWORD!r}. {private} is seen only by the group "
                f"{STAFF_GROUP} ({', '.join(STAFF)})."
            )


def _category(demo: DemoCategory, staff: Group) -> Category:
    if demo.default:
        return services.default_category()
    private = {"who_sees": Category.Seers.GROUPS, "seer_groups": [staff]} if demo.private else {}
    return services.category_create(
        moderator=None,
        name=demo.name,
        description=demo.description,
        position=demo.position,
        who_starts=demo.who_starts,
        moderator_groups=[staff] if demo.private else [],
        **private,
    )
