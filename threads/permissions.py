"""Who may do what. Each check returns None when allowed, or the reason it is not.

Services enforce these (so no caller can skip them); views use the same
functions to decide which links to show.

What depends on a category (who moderates it, who may start topics or reply
there) comes annotated on the topic or category by threads.selectors.access
(`moderated`, `start_rule`, `reply_rule`); an object read without those
annotations allows only what a global moderator may do.
"""

from datetime import UTC

from django.utils import timezone

from .models import Category, Post, Topic

SUSPENDED = (
    "Your account is suspended, so you cannot post. "
    "If you think this is a mistake, contact the moderators."
)
LOCKED = "This topic is locked: it no longer takes replies."
LOCKED_POSTS = "This topic is locked: its posts can no longer be changed."


def is_moderator(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("threads.moderate"))


def moderates(user, place: Topic | Category) -> bool:
    """Whether the user moderates this topic or category, globally or as a category moderator."""
    return is_moderator(user) or bool(
        user.is_active and user.is_authenticated and getattr(place, "moderated", False)
    )


def _moderators_only(user, place: Topic | Category, rule: str) -> bool:
    return getattr(place, rule, Category.Posters.MODERATORS) == Category.Posters.MODERATORS and (
        not moderates(user, place)
    )


def is_suspended(user) -> bool:
    """Whether a moderator suspended this member until a moment still to come.

    A suspension ends by itself: nothing needs to lift it once its end has passed.
    """
    until = getattr(user, "suspended_until", None)
    return until is not None and until > timezone.now()


def suspension_message(user) -> str:
    """What a suspended member is told when they try to post: why, and until when."""
    until = user.suspended_until.astimezone(UTC).strftime("%-d %b %Y, %H:%M UTC")
    reason = user.suspension_reason or "no reason given"
    return (
        f"Your account is suspended until {until}, so you cannot post. "
        f"The moderators' reason: {reason}"
    )


def posting_refusal(user) -> str | None:
    """Whether this member may write at all: logged in, not banned, not suspended."""
    if not user.is_authenticated:
        return "Log in to post."
    if not user.is_active:
        return SUSPENDED
    if is_suspended(user):
        return suspension_message(user)
    return None


def start_refusal(user, category: Category) -> str | None:
    """Whether this member may start a topic in this category."""
    if refusal := posting_refusal(user):
        return refusal
    if _moderators_only(user, category, "start_rule"):
        return f"Only moderators start topics in {category.name}."
    return None


def reply_refusal(user, topic: Topic, parent: Post | None = None) -> str | None:
    if refusal := posting_refusal(user):
        return refusal
    if _moderators_only(user, topic, "reply_rule"):
        return "Only moderators reply in this category."
    if topic.is_locked and not moderates(user, topic):
        return LOCKED
    if parent is not None and parent.is_removed:
        return "That post was deleted, so it no longer takes replies."
    return None


def own_posts_refusal(user, topic: Topic) -> str | None:
    """Whether this reader may edit and delete their own posts in this topic at all."""
    if refusal := posting_refusal(user):
        return refusal
    if topic.is_locked and not moderates(user, topic):
        return LOCKED_POSTS
    return None


def edit_refusal(user, post: Post) -> str | None:
    """Authors change their own posts while the topic is open; moderators change any."""
    if refusal := posting_refusal(user):
        return refusal
    if moderates(user, post.topic):
        return None
    if post.author_id != user.pk:
        return "You can only change your own posts."
    if post.is_removed:
        return "That post was deleted."
    return own_posts_refusal(user, post.topic)


def delete_refusal(user, post: Post) -> str | None:
    """Authors delete their own posts (moderators remove posts in the admin instead)."""
    if refusal := posting_refusal(user):
        return refusal
    if post.author_id != user.pk:
        return "You can only delete your own posts."
    if post.is_removed:
        return "That post was already deleted."
    return own_posts_refusal(user, post.topic)


def moderation_refusal(user, place: Topic | Category | None = None) -> str | None:
    """Whether the user may moderate this topic or category (without one: everything)."""
    if is_moderator(user) or (place is not None and moderates(user, place)):
        return None
    return "Only moderators can do that."


def report_refusal(user, post: Post) -> str | None:
    """Whether this member may report this post (once: the service refuses a second time).

    A suspended member may not; nobody reports their own post or a removed one.
    """
    if not user.is_authenticated:
        return "Log in to report a post."
    if refusal := posting_refusal(user):
        return refusal
    if post.author_id == user.pk:
        return "You cannot report your own post."
    if post.is_removed:
        return "That post was removed already."
    return None


def suspension_refusal(moderator, member, place: Topic | None = None) -> str | None:
    """Whether `moderator` may suspend `member` (or lift their suspension).

    Global moderators suspend anyone but moderators and themselves. A category
    moderator suspends only from the report queue, the author of a reported post
    they moderate (`place` is its topic, with the moderator's rights in it).
    """
    if not is_moderator(moderator) and (place is None or not moderates(moderator, place)):
        return "Only moderators can suspend members."
    if member.pk == moderator.pk:
        return "You cannot suspend yourself."
    if is_moderator(member) or member.is_superuser or member.is_staff:
        return "Moderators and staff cannot be suspended: an administrator deals with them."
    return None


def ignore_refusal(member, ignored) -> str | None:
    """Whether `member` may ignore `ignored` (fold their posts)."""
    if not member.is_authenticated:
        return "Log in to ignore a member."
    if member.pk == ignored.pk:
        return "You cannot ignore yourself."
    if is_moderator(ignored) or ignored.is_superuser:
        return "Moderators cannot be ignored: what they post may concern you."
    return None


def login_name(request, credentials: dict) -> str:
    """The name failed logins are counted under: usernames ignore case at login."""
    return str(credentials.get("username", "")).lower()
