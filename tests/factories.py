"""Test data, built through the services like everything else."""

import factory
from django.contrib.auth.models import Group
from django.utils.text import slugify
from factory.django import DjangoModelFactory, Password

from threads import services
from threads.apps import MODERATORS_GROUP
from threads.models import Category, Post, Topic, User

PASSWORD = "correct horse battery staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"member{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = Password(PASSWORD)


class ModeratorFactory(UserFactory):
    is_staff = True

    @factory.post_generation
    def moderators_group(user, create, extracted, **kwargs) -> None:
        if create:
            user.groups.add(Group.objects.get(name=MODERATORS_GROUP))


def importer() -> User:
    """The moderator who imports files in tests: imports are a moderator's action."""
    return User.objects.filter(username="importer").first() or ModeratorFactory(username="importer")


class TopicFactory(factory.Factory):
    class Meta:
        model = Topic

    author = factory.SubFactory(UserFactory)
    title = factory.Sequence(lambda n: f"Topic {n}")
    body = factory.Sequence(lambda n: f"Opening post {n}")

    @classmethod
    def _create(cls, model_class, **kwargs) -> Topic:
        return services.topic_create(**kwargs)


class ReplyFactory(factory.Factory):
    """A reply to `parent`, or a top-level post of `topic` when no parent is given."""

    class Meta:
        model = Post

    author = factory.SubFactory(UserFactory)
    parent = None
    topic = factory.LazyAttribute(lambda reply: reply.parent.topic if reply.parent else None)
    body = factory.Sequence(lambda n: f"Reply {n}")

    @classmethod
    def _create(cls, model_class, **kwargs) -> Post:
        return services.post_reply(**kwargs)


class GroupFactory(DjangoModelFactory):
    """A group of members: who may see a groups-only category, or who moderate one."""

    class Meta:
        model = Group
        django_get_or_create = ("name",)

    name = factory.Sequence(lambda n: f"Group {n}")


class CategoryFactory(factory.Factory):
    """A category, made as the forum's own set-up makes them (no moderator acting)."""

    class Meta:
        model = Category

    moderator = None
    name = factory.Sequence(lambda n: f"Category {n}")
    slug = factory.LazyAttribute(lambda category: slugify(category.name))

    @classmethod
    def _create(cls, model_class, **kwargs) -> Category:
        return services.category_create(**kwargs)


def in_groups(user: User, *groups: Group) -> User:
    """Add a member to groups, and forget what Django had read of their permissions."""
    user.groups.add(*groups)
    for cached in ("_perm_cache", "_user_perm_cache", "_group_perm_cache"):
        user.__dict__.pop(cached, None)
    return user
