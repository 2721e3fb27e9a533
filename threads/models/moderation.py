"""What moderation keeps: reports, posts awaiting approval, the public log, notes on
members, the earlier versions of edited posts, and where merged topics went."""

from django.conf import settings
from django.db import models

from .core import BODY_MAX_LENGTH, TITLE_MAX_LENGTH, Category, Post, Topic

REASON_MAX_LENGTH = 500
NOTE_MAX_LENGTH = 2_000


class Report(models.Model):
    """A member's report of a post, once per member and post, open until a moderator decides."""

    class Why(models.TextChoices):
        SPAM = "spam", "Spam"
        ABUSE = "abuse", "Abusive or harassing"
        OFF_TOPIC = "off_topic", "Off-topic"
        OTHER = "other", "Something else"

    class Outcome(models.TextChoices):
        OPEN = "", "Open"
        REMOVED = "removed", "The post was removed"
        DISMISSED = "dismissed", "Dismissed: the post stays"
        SUSPENDED = "suspended", "The author was suspended"

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="reports")
    reporter = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="reports"
    )
    why = models.CharField("reason", max_length=10, choices=Why.choices)
    note = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    created = models.DateTimeField()
    outcome = models.CharField(max_length=10, choices=Outcome.choices, blank=True, default="")
    resolved = models.DateTimeField(null=True, blank=True)
    resolved_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["post", "reporter"], name="report_once"),
            models.CheckConstraint(
                condition=models.Q(why__in=["spam", "abuse", "off_topic", "other"]),
                name="report_why_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(outcome__in=["", "removed", "dismissed", "suspended"]),
                name="report_outcome_valid",
            ),
        ]
        indexes = [
            # The queue: open reports, oldest first.
            models.Index(
                fields=["created", "post"], condition=models.Q(outcome=""), name="report_open_idx"
            ),
        ]

    def __str__(self):
        return f"{self.reporter_id} reported {self.post_id}: {self.why}"


class PendingPost(models.Model):
    """A post waiting for a moderator: a new topic (with its title) or a reply.

    Not a Post until it is approved: nobody but its author and the moderators
    sees it, nothing notifies about it, and search does not find it.
    """

    class Status(models.TextChoices):
        PENDING = "pending", "Awaiting approval"
        APPROVED = "approved", "Approved"
        REJECTED = "rejected", "Rejected"

    class Held(models.TextChoices):
        NEW_ACCOUNT = "new_account", "One of a new account's first posts"
        CATEGORY = "category", "New topics in this category need approval"

    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="pending_posts"
    )
    # A reply: its topic, and the post it answers (None for a top-level reply).
    topic = models.ForeignKey(
        Topic, on_delete=models.CASCADE, null=True, blank=True, related_name="pending_posts"
    )
    parent = models.ForeignKey(
        Post, on_delete=models.CASCADE, null=True, blank=True, related_name="pending_replies"
    )
    # A new topic: where it will start, and its title.
    category = models.ForeignKey(
        Category, on_delete=models.CASCADE, null=True, blank=True, related_name="pending_topics"
    )
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)
    body = models.TextField("Markdown source", max_length=BODY_MAX_LENGTH)
    body_html = models.TextField(editable=False)
    created = models.DateTimeField()
    held = models.CharField(max_length=12, choices=Held.choices)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.PENDING)
    reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    decided = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    # The post it became, once approved.
    post = models.OneToOneField(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="approval"
    )

    class Meta:
        constraints = [
            # A reply has a topic; a new topic has a category and a title instead.
            models.CheckConstraint(
                condition=(
                    models.Q(topic__isnull=False, category__isnull=True, title="")
                    | models.Q(topic__isnull=True, parent__isnull=True, category__isnull=False)
                    & ~models.Q(title="")
                ),
                name="pending_post_reply_or_topic",
            ),
            models.CheckConstraint(
                condition=models.Q(status__in=["pending", "approved", "rejected"]),
                name="pending_post_status_valid",
            ),
            models.CheckConstraint(
                condition=models.Q(held__in=["new_account", "category"]),
                name="pending_post_held_valid",
            ),
        ]
        indexes = [
            models.Index(
                fields=["created"], condition=models.Q(status="pending"), name="pending_queue_idx"
            ),
            models.Index(fields=["author", "status"], name="pending_author_idx"),
            models.Index(
                fields=["topic", "author"],
                condition=models.Q(status="pending"),
                name="pending_topic_author_idx",
            ),
        ]

    def __str__(self):
        return f"{self.get_status_display()}: {self.title or self.body[:40]}"


class ModerationAction(models.Model):
    """One entry of the public moderation log (/moderation/).

    The target is what was acted on; `category` is where it was (after a move)
    and `previous_category` where it came from, so that the log shows a
    reader only what they may see of it (threads.selectors.access).
    """

    class Action(models.TextChoices):
        REMOVE = "remove", "removed a post"
        RESTORE = "restore", "restored a post"
        LOCK = "lock", "locked a topic"
        UNLOCK = "unlock", "unlocked a topic"
        PIN = "pin", "pinned a topic"
        UNPIN = "unpin", "unpinned a topic"
        MOVE_POST = "move_post", "moved a post"
        MOVE_TOPIC = "move_topic", "moved a topic to another category"
        RETITLE = "retitle", "renamed a topic"
        DELETE_TOPIC = "delete_topic", "deleted a topic"
        SPLIT = "split", "split replies off into a new topic"
        MERGE = "merge", "merged a topic into another"
        EDIT = "edit", "edited someone else's post"
        HIDE_REVISION = "hide_revision", "hid an earlier version of a post"
        SHOW_REVISION = "show_revision", "showed an earlier version of a post again"
        APPROVE = "approve", "approved a post"
        REJECT = "reject", "rejected a post"
        DISMISS = "dismiss", "dismissed reports of a post"
        SUSPEND = "suspend", "suspended a member"
        UNSUSPEND = "unsuspend", "lifted a suspension"
        SLOW_MODE = "slow_mode", "changed a topic's slow mode"

    action = models.CharField(max_length=20, choices=Action.choices)
    moderator = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField()
    reason = models.CharField(max_length=REASON_MAX_LENGTH, blank=True)
    # What it says beyond the action, as plain text (a move's categories, a
    # suspension's end, a split's count): written by the service.
    details = models.CharField(max_length=300, blank=True)
    topic = models.ForeignKey(
        Topic, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    post = models.ForeignKey(
        Post, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.SET_NULL,
        null=True,
        blank=True,
        related_name="+",
    )
    category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    previous_category = models.ForeignKey(
        Category, on_delete=models.SET_NULL, null=True, blank=True, related_name="+"
    )
    # The topic's title when it was acted on, for a topic deleted since.
    title = models.CharField(max_length=TITLE_MAX_LENGTH, blank=True)

    class Meta:
        indexes = [models.Index(fields=["-created", "-id"], name="moderation_log_idx")]

    def __str__(self):
        return f"{self.moderator_id} {self.action} at {self.created:%Y-%m-%d %H:%M}"


class ModeratorNote(models.Model):
    """A moderator's private note about a member, shown only to moderators in the admin."""

    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="moderator_notes"
    )
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    body = models.TextField(max_length=NOTE_MAX_LENGTH)
    created = models.DateTimeField()

    class Meta:
        indexes = [models.Index(fields=["member", "-created"], name="moderator_note_idx")]

    def __str__(self):
        return f"Note on {self.member_id} by {self.author_id}"


class PostRevision(models.Model):
    """A post's Markdown as it was before an edit: one row per edit.

    `editor` made the edit that replaced this text, at `created`. A hidden
    revision (personal data posted by mistake) is shown only to moderators.
    """

    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="revisions")
    body = models.TextField("Markdown source")
    editor = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.SET_NULL, null=True, related_name="+"
    )
    created = models.DateTimeField()
    hidden = models.BooleanField(default=False)

    class Meta:
        indexes = [models.Index(fields=["post", "id"], name="post_revision_idx")]

    def __str__(self):
        return f"Revision of {self.post_id} at {self.created:%Y-%m-%d %H:%M}"


class TopicRedirect(models.Model):
    """Where a merged topic went: its old address redirects (301) to `target`."""

    old_topic_id = models.BigIntegerField(primary_key=True)
    target = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    created = models.DateTimeField()

    def __str__(self):
        return f"{self.old_topic_id} → {self.target_id}"
