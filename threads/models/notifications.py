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
    it (`count`, `last_post`) rather than written as entries of their own, so
    that a busy topic is one line ("3 new replies in …"), and a reply writes
    one row per member notified whatever else is unread.
    """

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    # The first post the entry tells about (where its link goes) and the latest.
    first_post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    last_post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    # Who wrote the latest post.
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, on_delete=models.SET_NULL, related_name="+"
    )
    count = models.PositiveIntegerField(default=1)
    created = models.DateTimeField()
    updated = models.DateTimeField()
    read = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["member", "topic", "reason"],
                condition=models.Q(read__isnull=True),
                name="notification_unread_once",
            ),
        ]
        indexes = [
            models.Index(fields=["member", "-updated", "-id"], name="notification_inbox_idx"),
        ]

    def __str__(self):
        return f"{self.member_id}: {self.count} {self.reason} in topic {self.topic_id}"


class Inbox(models.Model):
    """How many posts a member's unread notifications tell of: the count in every page's header.

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


class PendingMail(models.Model):
    """A post a member is to be mailed about, until the worker mails it (or finds it read).

    Written beside the notification, only for members who get mail.
    """

    member = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    post = models.ForeignKey(Post, on_delete=models.CASCADE, related_name="+")
    reason = models.CharField(max_length=10, choices=Reason.choices)
    created = models.DateTimeField()

    class Meta:
        indexes = [
            models.Index(fields=["member", "created"], name="pending_mail_member_idx"),
            models.Index(fields=["created"], name="pending_mail_created_idx"),
        ]

    def __str__(self):
        return f"post {self.post_id} to {self.member_id} ({self.reason})"
