"""The public moderation log: every moderator action writes an entry, shown to each reader
as far as they may see where it happened; its page and its feed."""

import re
from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from threads import services
from threads.models import Category, ModerationAction, Post, Topic

from .factories import CategoryFactory, ReplyFactory, TopicFactory, in_groups
from .helpers import opening_post

pytestmark = pytest.mark.django_db

Action = ModerationAction.Action


def _logged() -> list[tuple]:
    rows = ModerationAction.objects.order_by("pk")
    return list(rows.values_list("action", "moderator__username", "reason"))


@pytest.fixture
def reply(topic, other_member):
    return ReplyFactory(topic=topic, author=other_member, body="A reply")


# --- What each action writes ------------------------------------------------------------------


def test_a_removal_and_a_restoration_are_logged_with_the_reason(moderator, reply):
    services.post_remove(post=reply, moderator=moderator, reason="  spam,\n  plainly ")
    services.post_restore(post=reply, moderator=moderator)

    assert _logged() == [("remove", "mod", "spam, plainly"), ("restore", "mod", "")]
    entry = ModerationAction.objects.get(action="remove")
    assert (entry.post_id, entry.member_id, entry.topic_id) == (
        reply.pk,
        reply.author_id,
        reply.topic_id,
    )
    assert entry.category_id == reply.topic.category_id
    assert entry.title == "A first topic"


def test_a_removal_needs_a_reason_and_without_one_changes_nothing(moderator, reply):
    with pytest.raises(ValidationError, match="Say why"):
        services.post_remove(post=reply, moderator=moderator, reason=" \n ")

    assert Post.objects.get(pk=reply.pk).removal == ""
    assert _logged() == []


def test_a_reason_longer_than_the_log_keeps_is_refused(moderator, reply):
    with pytest.raises(ValidationError, match="at most 500"):
        services.post_remove(post=reply, moderator=moderator, reason="x" * 501)

    assert _logged() == []


def test_topic_flags_are_logged_only_when_they_change(moderator, topic):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)
    services.topic_set_locked(topic=topic, moderator=moderator, locked=False)
    services.topic_set_pinned(topic=topic, moderator=moderator, pinned=True)
    services.topic_set_pinned(topic=topic, moderator=moderator, pinned=False)
    services.topic_set_pinned(topic=topic, moderator=moderator, pinned=False)

    assert [action for action, _, _ in _logged()] == ["lock", "unlock", "pin", "unpin"]


def test_an_unchanged_flag_or_title_renews_nothing(moderator, topic):
    revision = Topic.objects.get(pk=topic.pk).revision

    services.topic_set_locked(topic=topic, moderator=moderator, locked=False)
    services.topic_retitle(topic=topic, moderator=moderator, title="A first topic")

    assert Topic.objects.get(pk=topic.pk).revision == revision


def test_moves_retitles_and_deletions_are_logged(moderator, topic, reply):
    help_ = CategoryFactory(name="Help")
    general = topic.category
    other = TopicFactory(author=moderator, title="Elsewhere")

    services.topic_retitle(topic=topic, moderator=moderator, title="Renamed")
    services.topic_move(topic=topic, moderator=moderator, category=help_)
    services.post_move(post=reply, moderator=moderator, new_parent=None, topic=other)
    services.topic_delete(topic=other, moderator=moderator)

    entries = {e.action: e for e in ModerationAction.objects.order_by("pk")}
    assert list(entries) == ["retitle", "move_topic", "move_post", "delete_topic"]
    assert entries["retitle"].details == "was “A first topic”"
    assert entries["move_topic"].previous_category_id == general.pk
    assert entries["move_topic"].category_id == help_.pk
    assert entries["move_post"].previous_category_id == help_.pk
    assert entries["move_post"].category_id == general.pk
    # The deleted topic's entries keep its title; their links to it are gone.
    deleted = entries["delete_topic"]
    assert (deleted.topic_id, deleted.title, deleted.details) == (None, "Elsewhere", "with 1 reply")
    assert entries["move_post"].topic_id is None
    assert entries["move_post"].post_id is None


def test_a_refused_action_logs_nothing(member, reply):
    with pytest.raises(services.Refused):
        services.post_remove(post=reply, moderator=member, reason="no right")

    assert _logged() == []


# --- The page ---------------------------------------------------------------------------------


def _entries(response) -> list[str]:
    html = response.content.decode()
    items = re.findall(r'<li class="moderation-entry"[^>]*>(.*?)</li>', html, re.S)
    return [" ".join(re.sub(r"<[^>]+>", "", item).split()) for item in items]


@pytest.fixture
def private_place(staff_group, category_moderator):
    staff = CategoryFactory(name="Staff room", who_sees=Category.Seers.GROUPS)
    staff.seer_groups.add(staff_group)
    return staff


def test_the_log_shows_who_did_what_where_and_why(client, moderator, reply):
    services.post_remove(post=reply, moderator=moderator, reason="off-topic rant")

    response = client.get("/moderation/")

    assert response.status_code == 200
    assert _entries(response) == [
        f"{timezone.now():%-d %b %Y, %H:%M} UTC · @mod removed a post by @bob in A first topic "
        "(the post). Reason: off-topic rant"
    ]
    html = response.content.decode()
    assert f'href="{reply.topic.get_absolute_url()}"' in html
    assert f'href="/p/{reply.pk}/"' in html


def test_entries_of_private_places_say_only_who_did_what(
    client, moderator, member, group_member, private_place
):
    secret = TopicFactory(author=group_member, title="Secret plans", category=private_place)
    services.topic_set_locked(topic=secret, moderator=moderator, locked=True)
    public = TopicFactory(author=member, title="Open talk")
    # Moved out of the private place: where it came from is not shown either.
    leaked = TopicFactory(author=group_member, title="Was secret", category=private_place)
    services.topic_move(topic=leaked, moderator=moderator, category=public.category)

    for reader, sees in [(None, False), (member, False), (group_member, True), (moderator, True)]:
        if reader is not None:
            client.force_login(reader)
        shown = " ".join(_entries(client.get("/moderation/")))
        assert ("Secret plans" in shown) is sees
        assert ("Was secret" in shown) is sees
        assert ("in a place you cannot see" in shown) is not sees
        client.logout()


def test_a_target_is_linked_only_while_the_reader_may_see_it(
    client, moderator, member, private_place
):
    topic = TopicFactory(author=member, title="Soon hidden")
    services.topic_set_pinned(topic=topic, moderator=moderator, pinned=True)
    url = topic.get_absolute_url()
    assert f'href="{url}"' in client.get("/moderation/").content.decode()

    # Moved into a private place later: the pin's entry (in a public place then) stays,
    # but no longer links a topic that no longer exists for the reader.
    services.topic_move(topic=topic, moderator=moderator, category=private_place)
    html = client.get("/moderation/").content.decode()

    assert f'href="{url}"' not in html
    entries = _entries(client.get("/moderation/"))
    assert entries[0].endswith("moved a topic to another category in a place you cannot see.")
    assert entries[1].endswith("pinned a topic: “Soon hidden”.")


@pytest.mark.parametrize("entries", [3, 60])
def test_the_page_takes_the_same_queries_whatever_the_log_holds(
    client, member, moderator, topic, entries, django_assert_num_queries
):
    for n in range(entries):
        services.topic_set_locked(topic=topic, moderator=moderator, locked=n % 2 == 0)

    # The session and the member; a moderator's permissions (two); the count and the page.
    for reader, queries in [(None, 2), (member, 4), (moderator, 6)]:
        client.logout()
        if reader is not None:
            client.force_login(reader)
            client.get("/moderation/")  # the session's first read
        with django_assert_num_queries(queries):
            response = client.get("/moderation/?page=2")
        assert len(_entries(response)) == (10 if entries == 60 else 3)


@pytest.mark.parametrize("page", ["0", "-1", "x", "99999999999999999999", "1e3", "\uff12"])
def test_any_page_number_is_a_page(client, moderator, topic, page):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)

    response = client.get("/moderation/", {"page": page})

    assert response.status_code == 200
    assert len(_entries(response)) == 1


def test_each_kind_of_entry_reads_as_a_sentence(client, moderator, member, other_member, reply):
    help_ = CategoryFactory(name="Help")
    services.topic_move(topic=reply.topic, moderator=moderator, category=help_)
    services.post_move(post=reply, moderator=moderator, new_parent=None)
    until = timezone.now() + timedelta(days=3)
    services.member_suspend(member=other_member, moderator=moderator, until=until, reason="rude")

    suspended, moved_post, moved_topic = (
        e.split(" · ", 1)[1] for e in _entries(client.get("/moderation/"))
    )

    assert suspended.startswith("@mod suspended a member: @bob, until ")
    assert suspended.endswith("Reason: rude")
    # A move inside one category names none.
    assert moved_post == "@mod moved a post by @bob in A first topic (the post)."
    assert (
        moved_topic
        == "@mod moved a topic to another category: A first topic, from General to Help."
    )


def test_an_entry_whose_moderator_and_topic_are_gone_still_reads(client, moderator, topic):
    services.topic_delete(topic=topic, moderator=moderator)
    ModerationAction.objects.update(moderator=None)

    assert _entries(client.get("/moderation/"))[0].endswith(
        "A former moderator deleted a topic: “A first topic”, with 0 replies."
    )


def test_the_log_escapes_what_it_shows(client, moderator, member):
    topic = TopicFactory(author=member, title="<script>alert(1)</script>")
    reply = ReplyFactory(topic=topic, author=member)
    services.post_remove(post=reply, moderator=moderator, reason="<img src=x onerror=alert(1)>")

    html = client.get("/moderation/").content.decode()

    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html


# --- The feed ---------------------------------------------------------------------------------


def test_the_feed_has_what_visitors_may_see(client, moderator, member, private_place):
    topic = TopicFactory(author=member, title="Open talk")
    reply = ReplyFactory(topic=topic, author=member)
    services.post_remove(post=reply, moderator=moderator, reason="spam")
    secret = TopicFactory(author=moderator, title="Secret plans", category=private_place)
    services.topic_set_locked(topic=secret, moderator=moderator, locked=True)

    response = client.get("/moderation/feed/")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("application/atom+xml")
    xml = response.content.decode()
    assert xml.count("<entry>") == 1
    assert "@mod removed a post by @alice in “Open talk”" in xml
    assert "Reason: spam" in xml
    assert "Secret plans" not in xml
    assert f"http://testserver/p/{reply.pk}/" in xml or f"/p/{reply.pk}/" in xml


def test_the_log_page_links_its_feed(client):
    html = client.get("/moderation/").content.decode()

    assert 'type="application/atom+xml" title="Moderation log' in html


def test_a_members_only_forum_has_no_log_feed(client, members_only, member):
    client.force_login(member)

    assert client.get("/moderation/feed/").status_code == 404
    response = client.get("/moderation/")
    assert response.status_code == 200
    assert "application/atom+xml" not in response.content.decode()


def test_the_log_is_for_members_only_on_a_members_only_forum(client, members_only):
    response = client.get("/moderation/")

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_the_page_links_the_log_in_its_footer(client):
    assert 'href="/moderation/"' in client.get("/").content.decode()


def test_entries_are_newest_first_across_pages(client, moderator, topic):
    for n in range(55):
        services.topic_set_locked(topic=topic, moderator=moderator, locked=n % 2 == 0)
    ModerationAction.objects.filter(action="unlock").update(
        created=timezone.now() - timedelta(days=1)
    )

    first, second = (_entries(client.get("/moderation/", {"page": p})) for p in (1, 2))

    assert all("locked a topic" in e and "unlocked" not in e for e in first[:28])
    assert all("unlocked a topic" in e for e in second)


def test_a_category_moderators_actions_are_logged_as_theirs(category_moderator, helpers_group):
    help_ = CategoryFactory(name="Help")
    help_.moderator_groups.add(helpers_group)
    topic = TopicFactory(category=help_)
    in_groups(category_moderator)

    services.topic_set_locked(topic=topic, moderator=category_moderator, locked=True)
    services.post_remove(post=opening_post(topic), moderator=category_moderator, reason="dup")

    assert _logged() == [("lock", "carol", ""), ("remove", "carol", "dup")]
