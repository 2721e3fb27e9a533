"""Who may do what. Each check returns None when allowed, or the reason it is not.

Services enforce these (so no caller can skip them); views use the same
functions to decide which links to show.
"""

from .models import Post, Topic

SUSPENDED = (
    "Your account is suspended, so you cannot post. "
    "If you think this is a mistake, contact the moderators."
)
LOCKED = "This topic is locked: it no longer takes replies."
LOCKED_POSTS = "This topic is locked: its posts can no longer be changed."


def is_moderator(user) -> bool:
    return bool(user.is_active and user.is_staff and user.has_perm("threads.moderate"))


def posting_refusal(user) -> str | None:
    if not user.is_authenticated:
        return "Log in to post."
    if not user.is_active:
        return SUSPENDED
    return None


def reply_refusal(user, topic: Topic, parent: Post | None = None) -> str | None:
    if refusal := posting_refusal(user):
        return refusal
    if topic.is_locked and not is_moderator(user):
        return LOCKED
    if parent is not None and parent.is_removed:
        return "That post was deleted, so it no longer takes replies."
    return None


def own_posts_refusal(user, topic: Topic) -> str | None:
    """Whether this reader may edit and delete their own posts in this topic at all."""
    if refusal := posting_refusal(user):
        return refusal
    if topic.is_locked and not is_moderator(user):
        return LOCKED_POSTS
    return None


def edit_refusal(user, post: Post) -> str | None:
    """Authors change their own posts while the topic is open; moderators change any."""
    if refusal := posting_refusal(user):
        return refusal
    if is_moderator(user):
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


def moderation_refusal(user) -> str | None:
    if not is_moderator(user):
        return "Only moderators can do that."
    return None


def login_name(request, credentials: dict) -> str:
    """The name failed logins are counted under: usernames ignore case at login."""
    return str(credentials.get("username", "")).lower()
