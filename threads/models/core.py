"""The forum's members, categories, topics and posts, and what they keep about them."""

import secrets
from datetime import timedelta

from django.conf import settings
from django.contrib.auth.models import AbstractUser, Group, UserManager
from django.core.validators import RegexValidator
from django.db import models
from django.db.models.functions import Length, Lower
from django.db.models.lookups import LessThanOrEqual
from django.urls import reverse
from django.utils.text import Truncator
from mptt.models import MPTTModel, TreeForeignKey

TITLE_MAX_LENGTH = 200
BODY_MAX_LENGTH = 50_000
DISPLAY_NAME_MAX_LENGTH = 50
BIO_MAX_LENGTH = 2_000
# Read marks older than this count as read (threads.selectors.unread).
READ_MARKS_KEPT = timedelta(days=90)

# A handle as ConversationJS writes it: `- @handle [timestamp]: text`.
# Not only dots: /u/../ would be another address.
handle_validator = RegexValidator(
    r"^(?!\.+\Z)[A-Za-z0-9_.+-]+\Z",
    "Use only letters, digits and the characters . _ + - (no spaces), and not only dots.",
    code="invalid_handle",
)


def new_revision() -> int:
    """A fresh version stamp for a topic.

    Random rather than counted, so that no two topics ever share one, not even
    a new topic that reuses the id of a deleted one (SQLite reuses ids).
    """
    return secrets.randbits(63)


class ForumUserManager(UserManager):
    def named(self, username: str) -> models.QuerySet:
        """The member of this username, ignoring case as the unique constraint below does.

        Compared as LOWER(username), so that the constraint's index serves the lookup.
        """
        return self.alias(username_lower=Lower("username")).filter(username_lower=username.lower())

    def get_by_natural_key(self, username):
        # Sign-in ignores case.
        return self.named(username).get()


class User(AbstractUser):
    """A member. Deactivating a member (is_active=False) bans them from posting."""

    username = models.CharField(
        "username",
        max_length=150,
        unique=True,
        validators=[handle_validator],
        help_text="Letters, digits and . _ + - only; shown as @username.",
        error_messages={"unique": "That username is taken."},
    )

    # Shown beside @username, never instead of it.
    display_name = models.CharField(max_length=DISPLAY_NAME_MAX_LENGTH, blank=True)
    bio = models.TextField("about", blank=True, help_text="Markdown, shown on the profile.")
    # Sanitized HTML of the bio, rendered once when it is written.
    bio_html = models.TextField(blank=True, editable=False)
    # Where an uploaded avatar is stored (threads.avatars names its sizes from
    # it); empty for the generated one.
    avatar = models.CharField(max_length=200, blank=True, editable=False)
    # `email` is confirmed once its owner has followed the link mailed to it; a
    # new address waits in `pending_email` until it is confirmed in turn. Nothing
    # but confirmations and password resets is sent to an unconfirmed address.
    email_confirmed = models.BooleanField("e-mail address confirmed", default=False)
    pending_email = models.EmailField(
        "new e-mail address, not yet confirmed", blank=True, editable=False
    )
    # "Mark all as read": no post before this is new to the member.
    read_before = models.DateTimeField(null=True, blank=True, editable=False)
    # Members whose posts are folded for this one.
    ignored = models.ManyToManyField(
        "self", symmetrical=False, through="Ignore", related_name="ignored_by", blank=True
    )

    class Mailing(models.TextChoices):
        """What the member is mailed of their notifications."""

        NONE = "none", "No e-mail"
        IMMEDIATE = "immediate", "A mail soon after (about 10 minutes, leaving out what I read)"
        DIGEST = "digest", "A daily digest"

    mailing = models.CharField(
        "e-mail about notifications",
        max_length=10,
        choices=Mailing.choices,
        default=Mailing.IMMEDIATE,
    )
    # Starting or replying to a topic watches it (every new post notifies).
    watch_own_topics = models.BooleanField("watch the topics I start or reply to", default=True)
    # Suspended until then: the member reads and changes their settings, but does not
    # post or report; the reason is shown to them when they try. Ends by itself.
    suspended_until = models.DateTimeField(null=True, blank=True, editable=False)
    suspension_reason = models.CharField(max_length=500, blank=True, editable=False)

    objects = ForumUserManager()

    class Meta(AbstractUser.Meta):
        swappable = "AUTH_USER_MODEL"
        constraints = [
            models.UniqueConstraint(
                Lower("username"),
                name="user_username_unique_ignoring_case",
                violation_error_message="That username is taken.",
            ),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("bio"), BIO_MAX_LENGTH),
                name="user_bio_max_length",
            ),
        ]

    @property
    def unread_notifications(self) -> int:
        """How many unread notifications (inbox entries) the member has (threads.models.Inbox)."""
        inbox = getattr(self, "inbox", None)
        return inbox.unread if inbox is not None else 0

    @property
    def shown_name(self) -> str:
        """The display name, or else the handle."""
        return self.display_name or self.username

    def get_absolute_url(self):
        return reverse("threads:profile", args=[self.username])


class Category(MPTTModel):
    """A place for topics, with its own rules of who may see it, start topics and reply.

    Stored as an MPTT tree. A rule left empty follows the parent's (a
    top-level category's: everyone sees it, members start topics and reply).
    A subcategory can only narrow who sees it: a reader sees a category when
    every rule on its path to the top lets them (threads.selectors.access).
    """

    class Seers(models.TextChoices):
        INHERIT = "", "As its parent (top level: everyone)"
        EVERYONE = "everyone", "Everyone"
        MEMBERS = "members", "Members who are logged in"
        GROUPS = "groups", "Members of the groups chosen below"

    class Posters(models.TextChoices):
        INHERIT = "", "As its parent (top level: members)"
        MEMBERS = "members", "Members"
        MODERATORS = "moderators", "Moderators only"

    name = models.CharField(max_length=100)
    slug = models.SlugField(max_length=80, unique=True)
    description = models.CharField(max_length=300, blank=True)
    position = models.PositiveIntegerField(
        default=0, help_text="Categories are listed by position, then by name."
    )
    parent = TreeForeignKey(
        "self", on_delete=models.PROTECT, null=True, blank=True, related_name="children"
    )
    is_default = models.BooleanField(
        "default",
        default=False,
        help_text="Where imported topics go, and the category a new topic starts in.",
    )
    who_sees = models.CharField(
        "who may see it", max_length=10, choices=Seers.choices, blank=True, default=""
    )
    seer_groups = models.ManyToManyField(
        Group, blank=True, related_name="+", verbose_name="groups that may see it"
    )
    who_starts = models.CharField(
        "who may start topics", max_length=10, choices=Posters.choices, blank=True, default=""
    )
    who_replies = models.CharField(
        "who may reply", max_length=10, choices=Posters.choices, blank=True, default=""
    )
    requires_approval = models.BooleanField(
        "new topics need approval",
        default=False,
        help_text="New topics here wait for a moderator before anyone else sees them.",
    )
    moderator_groups = models.ManyToManyField(
        Group,
        blank=True,
        related_name="+",
        help_text="Members of these groups moderate this category and its subcategories.",
    )
    # Stored, so that no page counts topics or posts: kept by the services.
    topic_count = models.PositiveIntegerField(default=0, editable=False)
    post_count = models.PositiveIntegerField(default=0, editable=False)
    last_topic = models.ForeignKey(
        "Topic", on_delete=models.SET_NULL, null=True, blank=True, editable=False, related_name="+"
    )
    last_activity = models.DateTimeField(null=True, blank=True, editable=False)

    class MPTTMeta:
        order_insertion_by = ["position", "name"]

    class Meta:
        verbose_name_plural = "categories"
        constraints = [
            models.CheckConstraint(condition=~models.Q(name=""), name="category_name_not_empty"),
            models.CheckConstraint(
                condition=models.Q(who_sees__in=["", "everyone", "members", "groups"]),
                name="category_who_sees_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(who_starts__in=["", "members", "moderators"])
                & models.Q(who_replies__in=["", "members", "moderators"]),
                name="category_posters_valid",
            ),
            models.UniqueConstraint(
                fields=["is_default"],
                condition=models.Q(is_default=True),
                name="category_one_default",
            ),
        ]

    def __str__(self):
        return self.name

    def get_absolute_url(self):
        return reverse("threads:category", args=[self.slug])


class Topic(models.Model):
    title = models.CharField(max_length=TITLE_MAX_LENGTH)
    category = models.ForeignKey(Category, on_delete=models.PROTECT, related_name="topics")
    slug = models.SlugField(max_length=80)
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="topics"
    )
    created = models.DateTimeField()
    last_activity = models.DateTimeField()
    reply_count = models.PositiveIntegerField(default=0)
    is_locked = models.BooleanField("locked", default=False)
    is_pinned = models.BooleanField("pinned", default=False)
    # Slow mode: each member may post here once per this interval (moderators set it).
    slow_mode = models.DurationField(null=True, blank=True, editable=False)
    # Renewed by every write that changes what the topic page shows; cached
    # parts of the page are keyed by it, so they can never be served stale.
    revision = models.BigIntegerField(default=new_revision, editable=False)
    # The topic's row in the topic list, the same for every reader; rebuilt by
    # every write to the topic (threads.services.writes.topic_changed).
    row_html = models.TextField(editable=False, default="")
    # A plain-text excerpt of the opening post, for the page's description and
    # link previews; written with the opening post.
    description = models.CharField(max_length=300, editable=False, blank=True, default="")

    class Meta:
        ordering = ["-is_pinned", "-last_activity", "-id"]
        indexes = [
            # With the category, so that a deep page of the front page skips the topics a
            # reader may not see without reading their rows.
            models.Index(
                fields=["-is_pinned", "-last_activity", "-id", "category"],
                name="topic_list_order_idx",
            ),
            models.Index(
                fields=["category", "-is_pinned", "-last_activity", "-id"],
                name="topic_category_order_idx",
            ),
            # A profile's recent topics, without sorting all of a member's topics.
            models.Index(fields=["author", "-created", "-id"], name="topic_author_recent_idx"),
            # The newest topics of the forum and of a category (their feeds), by when they
            # were written: ids are not (an import writes its files' old topics).
            models.Index(fields=["-created", "-id"], name="topic_newest_idx"),
            models.Index(fields=["category", "-created", "-id"], name="topic_category_newest_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(title=""), name="topic_title_not_empty"),
        ]

    def __str__(self):
        return self.title

    def get_absolute_url(self):
        return reverse("threads:topic_detail", args=[self.pk, self.slug])


class Post(MPTTModel):
    """A message in a topic.

    A topic's posts form a forest: the opening post and every top-level reply
    are roots of their own MPTT tree, so a reply only shifts the rows of its
    own top-level subtree. The opening post is the topic's root with the
    smallest tree_id.
    """

    class Removal(models.TextChoices):
        VISIBLE = "", "Visible"
        AUTHOR = "author", "Deleted by its author"
        MODERATOR = "moderator", "Removed by a moderator"
        REPORTED = "reported", "Hidden after reports, until a moderator decides"

    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="posts")
    parent = TreeForeignKey(
        "self", on_delete=models.CASCADE, null=True, blank=True, related_name="children"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.PROTECT, related_name="posts"
    )
    body = models.TextField("Markdown source")
    # Sanitized HTML of the body, rendered once when the post is written.
    body_html = models.TextField(editable=False)
    # The post as it appears in a thread (byline, body, links): the same for
    # every reader, built at write time by threads.rendering.
    fragment = models.TextField(editable=False)
    render_version = models.PositiveSmallIntegerField(editable=False)
    created = models.DateTimeField()
    edited = models.DateTimeField(null=True, blank=True)
    removal = models.CharField(max_length=10, choices=Removal.choices, blank=True, default="")
    removal_reason = models.CharField(max_length=500, blank=True)
    # Left where replies were split off into another topic: [{"count", "topic", "title"}],
    # shown in the post's fragment (threads.services.moderation).
    split_notes = models.JSONField(default=list, blank=True, editable=False)

    class Meta:
        indexes = [
            models.Index(fields=["topic", "tree_id", "lft"], name="post_topic_tree_order_idx"),
            models.Index(fields=["author", "-created"], name="post_author_recent_idx"),
            # A topic's newest posts (its feed), likewise: an import writes a topic's
            # replies after all its top-level posts.
            models.Index(fields=["topic", "-created", "-id"], name="post_topic_newest_idx"),
        ]
        constraints = [
            models.CheckConstraint(condition=~models.Q(body=""), name="post_body_not_empty"),
            models.CheckConstraint(
                condition=LessThanOrEqual(Length("body"), BODY_MAX_LENGTH),
                name="post_body_max_length",
            ),
            models.CheckConstraint(
                condition=models.Q(removal__in=["", "author", "moderator", "reported"]),
                name="post_removal_valid",
            ),
        ]
        permissions = [("moderate", "Can moderate topics and posts")]

    def __str__(self):
        return f"#{self.pk} “{Truncator(self.body).chars(40)}”"

    def get_absolute_url(self):
        return reverse("threads:post_permalink", args=[self.pk])

    @property
    def is_removed(self) -> bool:
        return self.removal != self.Removal.VISIBLE


class TopicRead(models.Model):
    """How far a member has read a topic: one row per member and topic, not per post.

    A post is new to the member when its id is above `seen_post_id` and it was
    written after their read horizon (threads.selectors.unread): marks older
    than READ_MARKS_KEPT count as read, so old rows can go (`manage.py
    prune_read_marks`).
    """

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    # The highest post id the member has been shown, and the topic's posts then.
    seen_post_id = models.BigIntegerField()
    seen_posts = models.PositiveIntegerField()
    seen = models.DateTimeField()

    class Meta:
        constraints = [models.UniqueConstraint(fields=["member", "topic"], name="topic_read_once")]
        indexes = [models.Index(fields=["seen"], name="topic_read_seen_idx")]

    def __str__(self):
        return f"{self.member_id} read {self.topic_id} to post {self.seen_post_id}"


class CategoryRead(models.Model):
    """A category a member marked as read: nothing in it before `before` is new to them."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    before = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "category"], name="category_read_once")
        ]

    def __str__(self):
        return f"{self.member_id} read {self.category_id} before {self.before:%Y-%m-%d %H:%M}"


class Ignore(models.Model):
    """A member who has chosen not to read another's posts: they are folded for them."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    ignored = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+"
    )
    created = models.DateTimeField()

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "ignored"], name="ignore_once"),
            models.CheckConstraint(
                condition=~models.Q(member=models.F("ignored")), name="ignore_not_oneself"
            ),
        ]

    def __str__(self):
        return f"{self.member_id} ignores {self.ignored_id}"


class Mail(models.Model):
    """A mail to send, sent once by the background worker (threads.services.mail).

    Written in the transaction of what it tells about, so a mail exists exactly
    when its cause does; a worker claims it before sending and marks it sent.
    """

    to = models.EmailField(max_length=254)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    # The same text as HTML, for mails that have it (notifications).
    html = models.TextField(blank=True)
    # More headers: threading (In-Reply-To, References) and List-Unsubscribe.
    headers = models.JSONField(default=dict, blank=True)
    # For a mail about a topic: its member and topic, so that a mail waiting to
    # be sent to someone who may no longer see the topic is not sent.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    topic = models.ForeignKey(
        "Topic", null=True, blank=True, on_delete=models.CASCADE, related_name="+"
    )
    created = models.DateTimeField()
    # A worker is sending it (set when claimed, so that no other worker sends it too).
    claimed = models.DateTimeField(null=True, blank=True)
    sent = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveSmallIntegerField(default=0)
    # Why it was not sent, when it will not be.
    failure = models.CharField(max_length=500, blank=True)

    class Meta:
        indexes = [models.Index(fields=["to", "-created"], name="mail_recent_idx")]

    def __str__(self):
        return f"{self.subject} to {self.to}"


class RateEvent(models.Model):
    """Something a limit counts, such as a sign-up from an address.

    Kept only as long as its limit looks back (threads.services prunes them).
    """

    kind = models.CharField(max_length=20)
    key = models.CharField(max_length=100)
    created = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["kind", "key", "created"], name="rate_event_lookup_idx")]

    def __str__(self):
        return f"{self.kind} {self.key} at {self.created:%Y-%m-%d %H:%M:%S}"
