import pytest
from django.contrib.auth.models import Group
from django.core.cache import cache

from threads.apps import MODERATORS_GROUP

from .factories import TopicFactory, UserFactory


@pytest.fixture(autouse=True)
def empty_cache():
    """Each test starts with an empty cache, as a freshly started server does."""
    cache.clear()


@pytest.fixture
def member(db):
    return UserFactory(username="alice")


@pytest.fixture
def other_member(db):
    return UserFactory(username="bob")


@pytest.fixture
def moderator(db):
    user = UserFactory(username="mod", is_staff=True)
    user.groups.add(Group.objects.get(name=MODERATORS_GROUP))
    return user


@pytest.fixture
def banned(db):
    return UserFactory(username="banned", is_active=False)


@pytest.fixture
def topic(member):
    return TopicFactory(author=member, title="A first topic", body="Hello, **forum**.")


@pytest.fixture
def member_client(client, member):
    client.force_login(member)
    return client


@pytest.fixture
def moderator_client(client, moderator):
    client.force_login(moderator)
    return client
