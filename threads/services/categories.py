"""Categories: creating, changing and deleting them, and the default one every forum has."""

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import ProtectedError
from django.utils.text import slugify

from .. import fragments, permissions
from ..models import Category, Topic, User
from . import writes
from .errors import NotFound, Refused

# Topic rows rebuilt per query after a category is renamed.
ROW_BATCH = 500


def category_create(
    *,
    moderator: User | None,
    name: str,
    slug: str = "",
    description: str = "",
    parent: Category | None = None,
    position: int = 0,
    is_default: bool = False,
    who_sees: str = "",
    seer_groups: Iterable[Group] = (),
    who_starts: str = "",
    who_replies: str = "",
    moderator_groups: Iterable[Group] = (),
    requires_approval: bool = False,
) -> Category:
    """Add a category (`moderator` None: the forum's own set-up, such as the demo)."""
    if moderator is not None:
        writes.refuse_if(permissions.moderation_refusal(moderator))
    name = name.strip()
    if not name:
        raise ValidationError("A category needs a name.", code="empty")
    category = Category(
        name=name,
        slug=slug or slugify(name)[:80] or "category",
        description=description.strip(),
        parent=parent,
        position=position,
        is_default=is_default,
        who_sees=who_sees,
        who_starts=who_starts,
        who_replies=who_replies,
        requires_approval=requires_approval,
    )
    category.full_clean(exclude=["lft", "rght", "tree_id", "level"])
    with transaction.atomic():
        category.save()
        category.seer_groups.set(seer_groups)
        category.moderator_groups.set(moderator_groups)
    return category


def category_changed(*, category: Category, moderator: User, changed: Iterable[str]) -> None:
    """After the admin saved a category: rebuild its topics' list rows if it was renamed.

    A topic's row names its category, and rows are built when written.
    """
    writes.refuse_if(permissions.moderation_refusal(moderator))
    if not {"name", "slug"} & set(changed):
        return
    ids = list(Topic.objects.filter(category=category).values_list("pk", flat=True))
    for start in range(0, len(ids), ROW_BATCH):
        with transaction.atomic():
            topics = list(
                Topic.objects.select_for_update(of=("self",))
                .select_related("author", "category")
                .filter(pk__in=ids[start : start + ROW_BATCH])
            )
            for topic in topics:
                topic.row_html = fragments.topic_row(topic)
            Topic.objects.bulk_update(topics, ["row_html"])


def category_delete_refusal(category: Category) -> str | None:
    """Why this category cannot be deleted, or None: from its stored counts and tree, no query.

    `category_delete` asks again under a lock on the category's row.
    """
    if category.is_default:
        return (
            f"“{category}” is the default category, where new and imported topics go: "
            "make another category the default before deleting it."
        )
    if not category.is_leaf_node():
        return f"“{category}” has subcategories: move or delete them first."
    if category.topic_count:
        topics = f"{category.topic_count} topic" + ("" if category.topic_count == 1 else "s")
        return f"“{category}” has {topics}: move them to another category first."
    return None


def category_delete(*, category: Category, moderator: User) -> None:
    """Delete an empty category: one that holds no topics and no subcategories.

    Its row is locked first, so that a topic can neither be moved in nor be
    started there meanwhile (on PostgreSQL a new topic's foreign key waits for
    the lock); the foreign keys (PROTECT) are the last guard.
    """
    writes.refuse_if(permissions.moderation_refusal(moderator))
    with transaction.atomic():
        try:
            locked = Category.objects.select_for_update().get(pk=category.pk)
        except Category.DoesNotExist:
            raise NotFound("That category no longer exists.") from None
        writes.refuse_if(category_delete_refusal(locked))
        if Topic.objects.filter(category=locked).exists():  # counts are stored; ask the rows too
            raise Refused(f"“{locked}” has topics: move them to another category first.")
        try:
            with transaction.atomic():  # django-mptt closes the tree's gap before deleting
                locked.delete()
        except (ProtectedError, IntegrityError):
            raise Refused(
                f"“{locked}” got a topic or a subcategory meanwhile: look at it again."
            ) from None
