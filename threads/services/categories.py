"""Categories: creating and changing them, and the default one every forum has."""

from collections.abc import Iterable

from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils.text import slugify

from .. import permissions, rendering
from ..models import Category, Topic, User
from . import writes

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
    who_sees: str = "",
    seer_groups: Iterable[Group] = (),
    who_starts: str = "",
    who_replies: str = "",
    moderator_groups: Iterable[Group] = (),
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
        who_sees=who_sees,
        who_starts=who_starts,
        who_replies=who_replies,
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
                topic.row_html = rendering.topic_row(topic)
            Topic.objects.bulk_update(topics, ["row_html"])
