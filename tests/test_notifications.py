"""Notifications (services.notifications, selectors.notifications, the inbox pages): who a
new post notifies, watch levels, the inbox and its count, and what nobody may learn."""

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from threads import selectors, services
from threads.models import Inbox, Level, Notification, Reason, User
from threads.services import notifications

from .factories import (
    CategoryFactory,
    GroupFactory,
    ReplyFactory,
    TopicFactory,
    UserFactory,
    in_groups,
)
from .helpers import opening_post


def _reasons(member: User) -> dict[str, int]:
    """The member's unread entries: reason to how many posts."""
    entries = Notification.objects.filter(member=member, read__isnull=True)
    return {entry.reason: entry.count for entry in entries}


def _unread(member: User) -> int:
    return Inbox.objects.filter(member=member).values_list("unread", flat=True).first() or 0


@pytest.fixture
def alice(db):
    return UserFactory(username="alice", watch_own_topics=False)


@pytest.fixture
def bob(db):
    return UserFactory(username="bob", watch_own_topics=False)


@pytest.fixture
def carol(db):
    return UserFactory(username="carol", watch_own_topics=False)


@pytest.fixture
def backups(alice):
    return TopicFactory(author=alice, title="Backups at home", body="How do you back up?")


# --- Who a post notifies ----------------------------------------------------------------------


def test_a_reply_notifies_the_author_replied_to_and_the_members_it_mentions(
    backups, alice, bob, carol
):
    ReplyFactory(parent=opening_post(backups), author=bob, body="restic, @carol knows more")

    assert _reasons(alice) == {Reason.REPLY: 1}
    assert _reasons(carol) == {Reason.MENTION: 1}
    assert _reasons(bob) == {}  # never of one's own post
    assert (_unread(alice), _unread(carol), _unread(bob)) == (1, 1, 0)


def test_one_reason_per_member_and_post_the_first_that_holds(backups, alice, bob):
    ReplyFactory(parent=opening_post(backups), author=bob, body="@alice: restic")

    assert _reasons(alice) == {Reason.REPLY: 1}


def test_replies_of_one_topic_collapse_into_one_entry_while_it_is_unread(backups, alice, bob):
    opening = opening_post(backups)
    first = ReplyFactory(parent=opening, author=bob, body="restic")
    last = ReplyFactory(parent=opening, author=bob, body="borg, too")

    (entry,) = Notification.objects.filter(member=alice)
    assert (entry.count, entry.first_post_id, entry.last_post_id) == (2, first.pk, last.pk)
    assert _unread(alice) == 1  # one entry

    services.notifications_all_read(member=alice)
    ReplyFactory(parent=opening, author=bob, body="and a disk in a drawer")
    assert Notification.objects.filter(member=alice).count() == 2  # a new entry, once read
    assert _unread(alice) == 1


def test_watchers_of_a_topic_are_notified_of_every_post_and_muters_of_nothing(
    backups, alice, bob, carol
):
    dave = UserFactory(username="dave")
    services.watch_set(member=dave, topic=backups, level=Level.WATCHING)
    services.watch_set(member=carol, topic=backups, level=Level.MUTED)
    services.watch_set(member=alice, topic=backups, level=Level.MUTED)

    ReplyFactory(parent=opening_post(backups), author=bob, body="restic, says @carol")

    assert _reasons(dave) == {Reason.WATCHING: 1}
    assert _reasons(carol) == {}  # muted: not even a mention
    assert _reasons(alice) == {}  # muted: not even a reply


def test_watching_a_category_covers_its_subcategories_unless_they_say_otherwise(alice, bob):
    hardware = CategoryFactory(name="Hardware")
    disks = CategoryFactory(name="Disks", parent=hardware)
    quiet = CategoryFactory(name="Quiet", parent=hardware)
    services.watch_set(member=alice, category=hardware, level=Level.WATCHING)
    services.watch_set(member=alice, category=quiet, level=Level.MUTED)

    on_disks = TopicFactory(author=bob, category=disks, title="SSD or HDD?")
    TopicFactory(author=bob, category=quiet, title="Fans")

    (entry,) = Notification.objects.filter(member=alice)
    assert (entry.topic, entry.reason) == (on_disks, Reason.WATCHING)


def test_starting_or_replying_watches_the_topic_as_the_member_chose(backups, bob, carol):
    carol.watch_own_topics = True
    carol.save()
    ReplyFactory(parent=opening_post(backups), author=carol, body="tapes")
    ReplyFactory(parent=opening_post(backups), author=bob, body="restic")

    assert _reasons(carol) == {Reason.WATCHING: 1}
    assert selectors.topic_thread(topic_id=backups.pk, page=1, viewer=carol).topic.watch_level == (
        Level.WATCHING
    )


def test_a_level_the_member_set_stays_when_they_reply(backups, carol, bob):
    carol.watch_own_topics = True
    carol.save()
    services.watch_set(member=carol, topic=backups, level=Level.MUTED)
    ReplyFactory(parent=opening_post(backups), author=carol, body="tapes")
    ReplyFactory(parent=opening_post(backups), author=bob, body="restic")

    assert _reasons(carol) == {}


def test_nobody_is_notified_by_a_member_they_ignore(backups, alice, bob):
    services.member_ignore(member=alice, ignored=bob)
    ReplyFactory(parent=opening_post(backups), author=bob, body="restic")

    assert _reasons(alice) == {}


def test_deactivated_members_are_not_notified(backups, alice, bob):
    User.objects.filter(pk=alice.pk).update(is_active=False)
    ReplyFactory(parent=opening_post(backups), author=bob, body="restic")

    assert _reasons(alice) == {}


def test_a_post_in_a_private_category_notifies_nobody_outside_it(alice, bob, carol):
    staff = GroupFactory(name="Staff")
    in_groups(alice, staff)
    in_groups(bob, staff)
    private = CategoryFactory(name="Staff room", who_sees="groups", seer_groups=[staff])
    topic = TopicFactory(author=alice, category=private, title="Rota")
    for member in (alice, carol):
        services.watch_set(member=member, topic=topic, level=Level.WATCHING)
    services.watch_set(member=carol, category=private, level=Level.WATCHING)

    ReplyFactory(parent=opening_post(topic), author=bob, body="@carol, @alice: Tuesday?")

    assert _reasons(alice) == {Reason.REPLY: 1}
    assert _reasons(carol) == {}
    assert not Notification.objects.filter(member=carol).exists()


def test_moderators_are_notified_in_categories_they_may_see_as_moderators(alice, moderator):
    staff = GroupFactory(name="Staff")
    in_groups(alice, staff)
    private = CategoryFactory(name="Staff room", who_sees="groups", seer_groups=[staff])
    services.watch_set(member=moderator, category=private, level=Level.WATCHING)

    TopicFactory(author=alice, category=private, title="Rota")

    assert _reasons(moderator) == {Reason.WATCHING: 1}


def test_at_most_ten_mentions_notify_per_post(backups, bob):
    named = [UserFactory(username=f"m{n:02}") for n in range(12)]
    ReplyFactory(
        parent=opening_post(backups), author=bob, body=" ".join(f"@{m.username}" for m in named)
    )

    notified = set(
        Notification.objects.filter(reason=Reason.MENTION).values_list(
            "member__username", flat=True
        )
    )
    assert notified == {f"m{n:02}" for n in range(10)}


def test_mentions_in_code_are_not_mentions(backups, bob, carol):
    ReplyFactory(parent=opening_post(backups), author=bob, body="`@carol` and\n\n    @carol")

    assert _reasons(carol) == {}


def test_an_edit_notifies_the_members_it_newly_mentions_only(backups, alice, bob, carol):
    dave = UserFactory(username="dave")
    services.watch_set(member=dave, topic=backups, level=Level.WATCHING)
    reply = ReplyFactory(parent=opening_post(backups), author=bob, body="ask @alice")
    services.notifications_all_read(member=alice)
    services.notifications_all_read(member=dave)

    services.post_edit(post=reply, editor=bob, body="ask @alice or @carol")

    assert _reasons(carol) == {Reason.MENTION: 1}
    assert _reasons(alice) == {}
    assert _reasons(dave) == {}  # an edit is no new post for watchers


def test_a_removed_post_takes_its_unread_notification_with_it(backups, alice, bob, moderator):
    reply = ReplyFactory(parent=opening_post(backups), author=bob, body="spam")

    services.post_remove(post=reply, moderator=moderator, reason="spam")

    assert _reasons(alice) == {}
    assert _unread(alice) == 0


def test_only_entries_of_members_who_get_mail_wait_to_be_mailed(backups, alice, bob, carol):
    User.objects.filter(pk__in=[alice.pk, carol.pk]).update(email_confirmed=True)
    User.objects.filter(pk=carol.pk).update(mailing=User.Mailing.NONE)
    User.objects.filter(pk=bob.pk).update(mailing=User.Mailing.DIGEST)  # unconfirmed

    ReplyFactory(parent=opening_post(backups), author=bob, body="restic, @carol?")
    since = Notification.objects.get(member=alice).mail_since
    ReplyFactory(parent=opening_post(backups), author=carol, body="@bob: borg")
    ReplyFactory(parent=opening_post(backups), author=bob, body="and tapes")

    waiting = Notification.objects.filter(mail_since__isnull=False)
    assert set(waiting.values_list("member__username", "reason", "count")) == {
        ("alice", Reason.REPLY, 3)
    }
    assert waiting.get().mail_since == since  # it waits from its first post not yet mailed


# --- What it costs --------------------------------------------------------------------------


def test_a_reply_into_a_topic_many_watch_writes_a_fixed_number_of_statements(backups, bob):
    watchers = User.objects.bulk_create(
        User(username=f"w{n}", email=f"w{n}@example.org", email_confirmed=True) for n in range(600)
    )
    for watcher in watchers:
        services.watch_set(member=watcher, topic=backups, level=Level.WATCHING)
    opening = opening_post(backups)
    post = ReplyFactory(parent=opening, author=bob, body="restic")
    Notification.objects.all().delete()
    Inbox.objects.all().delete()

    with CaptureQueriesContext(connection) as queries:
        count = notifications.post_notified(post=post, topic=backups, parent=opening)

    assert count == 601  # the watchers and alice, whose post it replies to
    # The members, then per 500 of them their entries and the counts of the new ones,
    # then the look for a sweep to mail them (the reply above queued one:
    # threads.services.notification_mails).
    tables = [re.search(r'^(SELECT|INSERT INTO "(\w+)")', q["sql"]).group(0) for q in queries]
    entries, counts = 'INSERT INTO "threads_notification"', 'INSERT INTO "threads_inbox"'
    assert tables == ["SELECT", entries, counts, entries, counts, "SELECT"]

    ReplyFactory(parent=opening, author=bob, body="borg")  # into the same unread entries
    assert Inbox.objects.filter(unread=1).count() == 601
    assert Notification.objects.filter(mail_since__isnull=False).count() == 600


def test_a_post_that_notifies_nobody_costs_one_query(backups, bob):
    post = ReplyFactory(author=bob, topic=backups, body="a top-level post")

    with CaptureQueriesContext(connection) as queries:
        assert notifications.post_notified(post=post, topic=backups, parent=None) == 0
    assert len(queries) == 1


# --- The inbox --------------------------------------------------------------------------------


@pytest.fixture
def inbox_of_alice(backups, alice, bob, carol):
    opening = opening_post(backups)
    ReplyFactory(parent=opening, author=bob, body="restic")
    ReplyFactory(parent=opening, author=carol, body="borg")
    other = TopicFactory(author=bob, title="Cameras", body="@alice, which one?")
    return backups, other


def test_the_inbox_says_what_happened_newest_first(client, alice, inbox_of_alice):
    client.force_login(alice)
    html = client.get(reverse("threads:notifications")).content.decode()

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "@bob mentioned you in Cameras" in text
    assert "2 new replies to you in Backups at home" in text
    assert text.index("Cameras") < text.index("Backups at home")
    assert 'aria-label="Notifications: 2 unread"' in html


def test_a_watched_topic_is_one_entry_of_new_posts(client, alice, bob, carol, backups):
    services.watch_set(member=carol, topic=backups, level=Level.WATCHING)
    first = ReplyFactory(parent=opening_post(backups), author=bob, body="restic")
    ReplyFactory(parent=opening_post(backups), author=alice, body="borg?")
    client.force_login(carol)

    html = client.get(reverse("threads:notifications")).content.decode()

    text = re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))
    assert "New posts in Backups at home" in text
    assert f'href="{reverse("threads:post_permalink", args=[first.pk])}"' in html


def test_an_entry_links_to_its_first_unread_post(client, alice, inbox_of_alice):
    backups, _ = inbox_of_alice
    first = Notification.objects.get(member=alice, topic=backups).first_post_id
    client.force_login(alice)

    html = client.get(reverse("threads:notifications")).content.decode()

    assert f'href="{reverse("threads:post_permalink", args=[first])}"' in html


def test_the_inbox_costs_the_same_queries_however_long_it_is(
    client, alice, bob, django_assert_num_queries
):
    topics = [TopicFactory(author=alice, title=f"Topic {n}") for n in range(3)]
    for n in range(40):
        ReplyFactory(author=bob, parent=opening_post(topics[n % 3]), body=f"reply {n}")
        services.notifications_all_read(member=alice)  # each reply an entry of its own
    client.force_login(alice)

    with django_assert_num_queries(3):  # the session, the member with their count, the page
        first = client.get(reverse("threads:notifications"))
    older = re.search(r'href="\?before=([^"]+)"', first.content.decode()).group(1)
    with django_assert_num_queries(3):
        second = client.get(reverse("threads:notifications") + f"?before={older}")

    assert first.content.decode().count('<li class="notification') == 30
    assert second.content.decode().count('<li class="notification') == 10


@pytest.mark.parametrize("cursor", ["x", "-1", "1.5", "9" * 40, "\u00b2", "\uff11\uff12"])
def test_a_cursor_that_names_nothing_shows_the_newest_page(client, alice, inbox_of_alice, cursor):
    client.force_login(alice)

    response = client.get(reverse("threads:notifications"), {"before": cursor})

    assert response.status_code == 200
    assert "Cameras" in response.content.decode()


def test_the_inbox_leaves_out_topics_the_member_can_no_longer_see(client, alice, bob, moderator):
    staff = GroupFactory(name="Staff")
    in_groups(alice, staff)
    private = CategoryFactory(name="Staff room", who_sees="groups", seer_groups=[staff])
    TopicFactory(
        author=bob, category=CategoryFactory(name="Open"), title="Open talk", body="@alice"
    )
    TopicFactory(author=moderator, category=private, title="Rota", body="@alice")
    alice.groups.remove(staff)
    client.force_login(alice)

    html = client.get(reverse("threads:notifications")).content.decode()

    assert "Open talk" in html
    assert "Rota" not in html


def test_the_inbox_is_for_members(client):
    response = client.get(reverse("threads:notifications"))

    assert response.status_code == 302
    assert response["Location"].startswith(reverse("login"))


def test_marking_one_entry_or_all_as_read(client, alice, inbox_of_alice):
    _, cameras = inbox_of_alice
    client.force_login(alice)
    entry = Notification.objects.get(member=alice, topic=cameras)

    client.post(reverse("threads:notifications_read"), {"entry": entry.pk})
    assert _reasons(alice) == {Reason.REPLY: 2}
    assert _unread(alice) == 1

    client.post(reverse("threads:notifications_read"))
    assert _reasons(alice) == {}
    assert _unread(alice) == 0
    assert "inbox-count" not in client.get(reverse("threads:index")).content.decode()


@pytest.mark.parametrize("entry", ["x", "-1", "\u00b2", "9" * 40])
def test_an_entry_that_is_none_marks_nothing(client, alice, inbox_of_alice, entry):
    client.force_login(alice)

    response = client.post(reverse("threads:notifications_read"), {"entry": entry})

    assert response.status_code == 302
    assert _unread(alice) == 2


def test_nobody_marks_anothers_notification_read(client, alice, bob, inbox_of_alice):
    entry = Notification.objects.filter(member=alice).first()
    client.force_login(bob)

    client.post(reverse("threads:notifications_read"), {"entry": entry.pk})

    assert Notification.objects.get(pk=entry.pk).read is None


def test_reading_the_topic_marks_its_entries_read_and_the_count_shows_it_at_once(
    client, alice, inbox_of_alice
):
    backups, _ = inbox_of_alice
    client.force_login(alice)

    html = client.get(backups.get_absolute_url()).content.decode()

    assert _reasons(alice) == {Reason.MENTION: 1}
    assert 'aria-label="Notifications: 1 unread"' in html


def test_the_header_shows_the_count_on_every_page_without_a_query_more(
    client, alice, inbox_of_alice, django_assert_num_queries
):
    client.force_login(alice)
    client.get(reverse("threads:index"))  # anything cached is cached

    with django_assert_num_queries(4):  # session, member with count, categories, topics
        html = client.get(reverse("threads:index")).content.decode()
    assert 'aria-label="Notifications: 2 unread"' in html
    assert '<span class="badge inbox-count" aria-hidden="true">2</span>' in html


def test_a_count_keeps_the_posts_added_while_others_are_read(backups, alice, bob):
    """Reading subtracts what it read: a reply counted meanwhile is not lost."""
    opening = opening_post(backups)
    ReplyFactory(parent=opening, author=bob, body="one")
    entry = Notification.objects.get(member=alice)
    cameras = TopicFactory(author=bob, title="Cameras", body="@alice?")

    services.notification_read(member=alice, notification_id=entry.pk)

    assert _unread(alice) == 1
    assert Notification.objects.get(member=alice, read__isnull=True).topic == cameras


# --- Watching through the pages ------------------------------------------------------------------


def test_a_member_sets_their_level_for_a_topic_and_a_category(client, alice, backups):
    client.force_login(alice)

    response = client.post(reverse("threads:topic_watch", args=[backups.pk]), {"level": "muted"})
    assert response.status_code == 302
    html = client.get(backups.get_absolute_url()).content.decode()
    assert '<option value="muted" selected>' in html

    slug = backups.category.slug
    client.post(reverse("threads:category_watch", args=[slug]), {"level": "watching"})
    html = client.get(reverse("threads:category", args=[slug])).content.decode()
    assert '<option value="watching" selected>' in html


@pytest.mark.parametrize("level", ["", "loud", "x" * 5000])
def test_a_level_that_is_none_changes_nothing(client, alice, backups, level):
    client.force_login(alice)

    response = client.post(reverse("threads:topic_watch", args=[backups.pk]), {"level": level})

    assert response.status_code == 302
    assert selectors.topic_thread(topic_id=backups.pk, page=1, viewer=alice).topic.watch_level == (
        Level.NORMAL
    )


def test_nobody_watches_a_topic_they_may_not_see(client, carol, alice):
    staff = GroupFactory(name="Staff")
    in_groups(alice, staff)
    private = CategoryFactory(name="Staff room", who_sees="groups", seer_groups=[staff])
    topic = TopicFactory(author=alice, category=private, title="Rota")
    client.force_login(carol)

    assert (
        client.post(
            reverse("threads:topic_watch", args=[topic.pk]), {"level": "watching"}
        ).status_code
        == 404
    )
    assert (
        client.post(
            reverse("threads:category_watch", args=[private.slug]), {"level": "watching"}
        ).status_code
        == 404
    )


def test_the_settings_choose_the_mail_and_what_is_watched(client, alice):
    client.force_login(alice)
    url = reverse("threads:settings_notifications")

    response = client.post(url, {"mailing": "digest"})  # the box unticked

    assert response.status_code == 302
    alice.refresh_from_db()
    assert (alice.mailing, alice.watch_own_topics) == (User.Mailing.DIGEST, False)
    assert client.post(url, {"mailing": "loud"}).status_code == 400


def test_the_topic_page_costs_a_member_with_notifications_elsewhere_no_query_more(
    client, alice, bob, inbox_of_alice, django_assert_num_queries
):
    quiet = TopicFactory(author=bob, title="Quiet")
    client.force_login(alice)
    client.get(quiet.get_absolute_url())  # the page is cached, the read mark written

    with django_assert_num_queries(3):  # session, member, topic: the posts are cached
        client.get(quiet.get_absolute_url())
