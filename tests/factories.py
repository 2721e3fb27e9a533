"""Test data, built through the services like everything else."""

import factory
from factory.django import DjangoModelFactory, Password

from threads import services
from threads.models import Post, Topic, User

PASSWORD = "correct horse battery staple"


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"member{n}")
    email = factory.LazyAttribute(lambda user: f"{user.username}@example.org")
    password = Password(PASSWORD)


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
