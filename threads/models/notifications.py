"""What members watch, what they are notified of, and what waits to be mailed to them."""

from django.conf import settings
from django.db import models

from .core import Category, Post, Topic


class Level(models.TextChoices):
    """How closely a member follows a topic or a category."""

    WATCHING = "watching", "Watching: notified of every post"
    NORMAL = "normal", "Normal: replies to me and mentions"
    MUTED = "muted", "Muted: nothing, not even mentions"


class TopicWatch(models.Model):
    """A member's level for one topic; without a row, their category's level, else normal."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    level = models.CharField(max_length=10, choices=Level.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "topic"], name="topic_watch_once"),
        ]
        indexes = [models.Index(fields=["topic", "level"], name="topic_watch_level_idx")]

    def __str__(self):
        return f"{self.member_id} {self.level} topic {self.topic_id}"


class CategoryWatch(models.Model):
    """A member's level for a category's topics, and its subcategories' without their own."""

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    level = models.CharField(max_length=10, choices=Level.choices)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["member", "category"], name="category_watch_once"),
        ]
        indexes = [models.Index(fields=["category", "level"], name="category_watch_level_idx")]

    def __str__(self):
        return f"{self.member_id} {self.level} category {self.category_id}"


class Reason(models.TextChoices):
    """Why a member is notified of a post; one reason per post and member, the first that holds."""

    REPLY = "reply", "replied to you"
    MENTION = "mention", "mentioned you"
    WATCHING = "watching", "posted in a topic you watch"


class Notification(models.Model):
    """An entry of a member's inbox: the unread posts of one topic for one reason.

    While it is unread, later posts of the same topic and reason are added to
    it (`count`, `last_post`, `updated`) rather than written as entries of
    their own, so that a busy topic is one line ("3 new replies to you in
    …"). An entry of a watched topic ("New posts in …") tells of every post
    after its first: later posts are not written into it (a reply into a
    topic many watch writes nothing for those with an unread entry of it).

    It is also what waits to be mailed: `mail_since` is when its first post
    not yet mailed came (None: nothing to mail, or the member gets no mail),
    and `mailed_post_id` the last post mailed (or seen to be read, or gone).
    The worker mails due entries (threads.services.notification_mails).
    """

    # Indexes are few, and none covers what adding a post to an entry changes
    # (so PostgreSQL updates it in place): every reply writes a row per member
    # it notifies. The member's entries are found through the inbox index.
    member = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+", db_index=False
    )
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    # The first post the entry tells about (where its link goes), and the latest
    # (whose author it names). Posts go only with their topic, and the entry with it.
    first_post_id = models.BigIntegerField()
    last_post = models.ForeignKey(
        Post, on_delete=models.DO_NOTHING, db_constraint=False, db_index=False, related_name="+"
    )
    count = models.PositiveIntegerField(default=1)
    created = models.DateTimeField()
    updated = models.DateTimeField()
    read = models.DateTimeField(null=True, blank=True)
    mail_since = models.DateTimeField(null=True, blank=True)
    mailed_post_id = models.BigIntegerField(default=0)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "topic", "reason"],
                condition=models.Q(read__isnull=True),
                name="notification_unread_once",
            ),
        ]
        indexes = [
            # Newest first: in the order entries began.
            models.Index(fields=["member", "-id"], name="notification_inbox_idx"),
            models.Index(
                fields=["mail_since"],
                condition=models.Q(mail_since__isnull=False),
                name="notification_mail_due_idx",
            ),
        ]

    def __str__(self):
        return f"{self.member_id}: {self.count} {self.reason} in topic {self.topic_id}"


class Inbox(models.Model):
    """How many unread notifications (inbox entries) a member has: the count in every header.

    Counted as notifications are written, in their transaction, and counted
    again from them when some are read. A row of its own rather than a
    field of the member's, so that notifying a member never waits for (or
    deadlocks with) a write that holds their row, such as their own reply;
    it is read with the member on every request (threads.auth).
    """

    member = models.OneToOneField(
        settings.AUTH_USER_MODEL, primary_key=True, on_delete=models.CASCADE, related_name="inbox"
    )
    unread = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.member_id}: {self.unread} unread"
