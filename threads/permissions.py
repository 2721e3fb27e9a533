"""Who may do what. Each check returns None when allowed, or the reason it is not.

Services enforce these (so no caller can skip them); views use the same
functions to decide which links to show.

What depends on a category (who moderates it, who may start topics or reply
there) comes annotated on the topic or category by threads.selectors.access
(`moderated`, `start_rule`, `reply_rule`); an object read without those
annotations allows only what a global moderator may do.
"""

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


def posting_refusal(user) -> str | None:
    if not user.is_authenticated:
        return "Log in to post."
    if not user.is_active:
        return SUSPENDED
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
