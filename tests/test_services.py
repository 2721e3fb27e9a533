from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone
from hypothesis import HealthCheck, given
from hypothesis import settings as examples

from threads import conversation, fragments, permissions, rendering, selectors, services
from threads.models import Category, Post, RateEvent, Topic, User

from .factories import CategoryFactory, ReplyFactory, TopicFactory, UserFactory, importer
from .helpers import opening_post, tree_shape
from .hostile import SHAPES
from .strategies import NEARLY_VALID

T0 = datetime(2025, 1, 1, tzinfo=UTC)

pytestmark = pytest.mark.django_db

# A copy of the shared ConversationJS sample, so that every clone has it.
SAMPLE = Path(__file__).resolve().parent / "data" / "conversation.md"


def test_topic_create_makes_the_opening_post_a_root(member):
    topic = services.topic_create(author=member, title="  Hello  ", body="\n\nFirst *post*\n\n")

    post = opening_post(topic)
    assert (topic.title, topic.slug, topic.reply_count) == ("Hello", "hello", 0)
    assert (post.level, post.parent_id, post.lft, post.rght) == (0, None, 1, 2)
    assert post.body == "First *post*"
    assert post.body_html == "<p>First <em>post</em></p>"
    assert post.render_version == rendering.RENDER_VERSION
    assert topic.last_activity == topic.created == post.created


def test_replies_build_a_forest_of_top_level_subtrees(topic, other_member):
    op = opening_post(topic)
    first = ReplyFactory(parent=op, author=other_member, body="to the opening post")
    ReplyFactory(parent=first, author=topic.author, body="deeper")
    top = ReplyFactory(topic=topic, author=other_member, body="a top-level reply")
    ReplyFactory(parent=top, author=topic.author, body="under the top-level reply")

    assert tree_shape(topic) == "\n".join(
        [
            "alice: Hello, **forum**.",
            "  bob: to the opening post",
            "    alice: deeper",
            "bob: a top-level reply",
            "  alice: under the top-level reply",
        ]
    )
    top.refresh_from_db()
    assert top.tree_id != op.tree_id
    topic.refresh_from_db()
    assert topic.reply_count == 4


def test_a_reply_shifts_only_its_own_top_level_subtree(topic, other_member):
    op = opening_post(topic)
    other_tree = ReplyFactory(topic=topic, author=other_member)
    before = Post.objects.values_list("lft", "rght").get(pk=other_tree.pk)

    ReplyFactory(parent=op, author=other_member)

    assert Post.objects.values_list("lft", "rght").get(pk=other_tree.pk) == before
    assert Post.objects.values_list("lft", "rght").get(pk=op.pk) == (1, 4)


def test_reply_uses_the_current_tree_even_with_a_stale_parent(topic, other_member):
    op = opening_post(topic)
    stale = Post.objects.get(pk=op.pk)
    ReplyFactory(parent=op, author=other_member)

    ReplyFactory(parent=stale, author=other_member)

    assert list(
        Post.objects.filter(topic=topic).order_by("lft").values_list("lft", "rght", "level")
    ) == [(1, 6, 0), (2, 3, 1), (4, 5, 1)]


def test_a_reply_is_inserted_from_its_locked_parent_without_reading_it_again(
    topic, other_member, django_assert_num_queries
):
    from django.db import transaction

    with transaction.atomic():
        locked = services.locks.lock_topic(topic.pk)
        parent = Post.objects.get(pk=opening_post(topic).pk)
        with django_assert_num_queries(4):  # the space made, the row, its fragment, its entry
            post = services.writes.insert_post(
                topic=locked,
                parent=parent,
                author=other_member,
                body="x",
                body_html="<p>x</p>",
                created=timezone.now(),
            )

    assert (post.lft, post.rght, post.level, post.tree_id) == (2, 3, 1, parent.tree_id)
    assert Post.objects.values_list("lft", "rght").get(pk=parent.pk) == (1, 4)
    assert [problem.tree_id for problem in selectors.tree_problems()] == [None]  # the count only


def test_a_locked_topic_has_what_its_row_shows_without_a_query_more(
    topic, member, other_member, django_assert_num_queries
):
    from django.db import transaction

    User.objects.filter(pk=member.pk).update(display_name="Alice A.", avatar="avatars/ab12")
    full = Topic.objects.select_related("author", "category").get(pk=topic.pk)

    with transaction.atomic(), django_assert_num_queries(2):  # the lock, the renewed row
        locked = services.locks.lock_topic(topic.pk, viewer=other_member)
        row = fragments.topic_row(locked)
        assert permissions.reply_refusal(other_member, locked) is None
        services.writes.topic_changed(locked)

    assert row == fragments.topic_row(full)
    assert "Alice A." in row
    assert Topic.objects.get(pk=topic.pk).row_html == row


def test_reply_refuses_a_parent_in_another_topic(topic, other_member):
    elsewhere = TopicFactory()

    with pytest.raises(ValidationError, match="another topic"):
        services.post_reply(
            author=other_member, topic=topic, parent=opening_post(elsewhere), body="x"
        )
    assert Post.objects.filter(topic=topic).count() == 1


def test_locked_topic_refuses_replies_except_from_moderators(topic, other_member, moderator):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)

    with pytest.raises(services.Refused, match="locked"):
        services.post_reply(author=other_member, topic=topic, body="too late")
    services.post_reply(author=moderator, topic=topic, body="a note from the moderators")
    assert Post.objects.filter(topic=topic).count() == 2


def test_banned_members_cannot_post(topic, banned):
    with pytest.raises(services.Refused, match="suspended"):
        services.post_reply(author=banned, topic=topic, body="hello")
    with pytest.raises(services.Refused, match="suspended"):
        services.topic_create(author=banned, title="Hi", body="hello")
    assert Topic.objects.count() == 1


def test_no_reply_to_a_deleted_post(topic, other_member):
    reply = ReplyFactory(parent=opening_post(topic), author=other_member)
    services.post_delete(post=reply, user=other_member)

    with pytest.raises(services.Refused, match="deleted"):
        services.post_reply(author=topic.author, topic=topic, parent=reply, body="hm")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("", "empty"),
        ("  \n\t\n ", "empty"),
        ("x" * 50_001, "at most 50,000 characters"),
        ("nul\x00byte", "NUL"),
    ],
)
def test_bad_bodies_are_refused_with_a_reason(topic, other_member, body, message):
    with pytest.raises(ValidationError, match=message):
        services.post_reply(author=other_member, topic=topic, body=body)
    assert Post.objects.count() == 1


@pytest.mark.parametrize(
    ("title", "message"),
    [("   ", "needs a title"), ("x" * 201, "at most 200"), ("two\nlines", "one line")],
)
def test_bad_titles_are_refused_and_nothing_is_written(member, title, message):
    with pytest.raises(ValidationError, match=message):
        services.topic_create(author=member, title=title, body="body")
    assert not Topic.objects.exists()
    assert not Post.objects.exists()


def test_normalize_body_keeps_inner_whitespace():
    text = "\r\n  \r\n    indented code\r\n\r\nnext paragraph  \r\n\r\n"
    assert services.normalize_body(text) == "    indented code\n\nnext paragraph  "


def test_edit_marks_the_post_edited_and_rebuilds_its_fragment(topic):
    post = opening_post(topic)
    revision = Topic.objects.get(pk=topic.pk).revision

    services.post_edit(post=post, editor=topic.author, body="Now with `code`")

    post.refresh_from_db()
    assert post.body_html == "<p>Now with <code>code</code></p>"
    assert post.edited is not None
    assert "<code>code</code>" in post.fragment
    assert "edited" in post.fragment
    assert Topic.objects.get(pk=topic.pk).revision != revision


def test_editing_the_opening_post_can_rename_the_topic(topic):
    services.post_edit(
        post=opening_post(topic), editor=topic.author, body="Same", title="A better title"
    )

    topic.refresh_from_db()
    assert (topic.title, topic.slug) == ("A better title", "a-better-title")


def test_only_the_opening_post_carries_a_title(topic, other_member):
    reply = ReplyFactory(topic=topic, author=other_member)

    with pytest.raises(ValidationError, match="opening post"):
        services.post_edit(post=reply, editor=other_member, body="x", title="Hijack")


def test_members_cannot_edit_or_delete_posts_of_others(topic, other_member):
    with pytest.raises(services.Refused, match="your own"):
        services.post_edit(post=opening_post(topic), editor=other_member, body="mine now")
    with pytest.raises(services.Refused, match="your own"):
        services.post_delete(post=opening_post(topic), user=other_member)


def test_moderators_can_edit_any_post(topic, moderator):
    services.post_edit(post=opening_post(topic), editor=moderator, body="[redacted]")

    assert opening_post(topic).body == "[redacted]"


def test_delete_leaves_a_placeholder_that_keeps_the_replies(topic, other_member):
    op = opening_post(topic)
    reply = ReplyFactory(parent=op, author=other_member, body="secret")
    child = ReplyFactory(parent=reply, author=topic.author, body="answer")

    services.post_delete(post=reply, user=other_member)

    reply.refresh_from_db()
    assert reply.removal == Post.Removal.AUTHOR
    assert "secret" not in reply.fragment
    assert "deleted by its author" in reply.fragment
    child.refresh_from_db()
    assert child.parent_id == reply.pk
    assert Post.objects.filter(topic=topic).count() == 3


def test_remove_and_restore(topic, other_member, moderator):
    reply = ReplyFactory(topic=topic, author=other_member, body="spam spam")

    services.post_remove(post=reply, moderator=moderator, reason=" advertising ")
    reply.refresh_from_db()
    assert (reply.removal, reply.removal_reason) == ("moderator", "advertising")
    assert "spam" not in reply.fragment

    services.post_restore(post=reply, moderator=moderator)
    reply.refresh_from_db()
    assert (reply.removal, reply.removal_reason) == ("", "")
    assert "spam spam" in reply.fragment


def test_members_cannot_moderate(topic, other_member):
    with pytest.raises(services.Refused, match="moderators"):
        services.post_remove(post=opening_post(topic), moderator=other_member, reason="no")
    with pytest.raises(services.Refused, match="moderators"):
        services.topic_set_locked(topic=topic, moderator=other_member, locked=True)


def test_move_a_subtree_under_another_post(topic, other_member, moderator):
    op = opening_post(topic)
    a = ReplyFactory(topic=topic, author=other_member, body="a")
    ReplyFactory(parent=a, author=other_member, body="a child")
    b = ReplyFactory(topic=topic, author=other_member, body="b")

    services.post_move(post=a, moderator=moderator, new_parent=b)

    assert tree_shape(topic) == "\n".join(
        ["alice: Hello, **forum**.", "bob: b", "  bob: a", "    bob: a child"]
    )
    a.refresh_from_db()
    assert f'href="#p{b.pk}"' in a.fragment
    assert op.tree_id != b.tree_id


def test_move_a_reply_to_the_top_level_gives_it_a_new_tree(topic, other_member, moderator):
    a = ReplyFactory(parent=opening_post(topic), author=other_member, body="a")
    ReplyFactory(parent=a, author=other_member, body="a child")
    later = ReplyFactory(topic=topic, author=other_member, body="later")

    services.post_move(post=a, moderator=moderator, new_parent=None)

    assert tree_shape(topic) == "\n".join(
        ["alice: Hello, **forum**.", "bob: later", "bob: a", "  bob: a child"]
    )
    a.refresh_from_db()
    later.refresh_from_db()
    assert a.tree_id > later.tree_id


def test_move_a_subtree_to_another_topic(topic, other_member, moderator):
    a = ReplyFactory(topic=topic, author=other_member, body="a")
    ReplyFactory(parent=a, author=other_member, body="a child")
    elsewhere = TopicFactory(author=other_member, body="elsewhere")

    services.post_move(post=a, moderator=moderator, new_parent=None, topic=elsewhere)

    assert tree_shape(topic) == "alice: Hello, **forum**."
    assert tree_shape(elsewhere) == "bob: elsewhere\nbob: a\n  bob: a child"
    assert Topic.objects.get(pk=topic.pk).reply_count == 0
    assert Topic.objects.get(pk=elsewhere.pk).reply_count == 2


def test_move_refuses_cycles_and_the_opening_post(topic, other_member, moderator):
    a = ReplyFactory(topic=topic, author=other_member)
    child = ReplyFactory(parent=a, author=other_member)

    with pytest.raises(ValidationError, match="under itself"):
        services.post_move(post=a, moderator=moderator, new_parent=child)
    with pytest.raises(ValidationError, match="opening post"):
        services.post_move(post=opening_post(topic), moderator=moderator, new_parent=a)


def test_lock_pin_and_retitle(topic, moderator):
    services.topic_set_locked(topic=topic, moderator=moderator, locked=True)
    services.topic_set_pinned(topic=topic, moderator=moderator, pinned=True)
    services.topic_retitle(topic=topic, moderator=moderator, title="Read me first")

    topic.refresh_from_db()
    assert (topic.is_locked, topic.is_pinned, topic.title) == (True, True, "Read me first")


def test_topic_delete_removes_every_post(topic, other_member, moderator):
    ReplyFactory(parent=opening_post(topic), author=other_member)
    kept = TopicFactory()

    services.topic_delete(topic=topic, moderator=moderator)

    assert list(Topic.objects.all()) == [kept]
    assert Post.objects.count() == 1


def test_ban_and_unban(other_member, moderator):
    services.user_set_active(user=other_member, moderator=moderator, active=False)
    other_member.refresh_from_db()
    assert not other_member.is_active

    services.user_set_active(user=other_member, moderator=moderator, active=True)
    other_member.refresh_from_db()
    assert other_member.is_active


def test_posts_rerender_updates_outdated_posts(topic, monkeypatch):
    post = opening_post(topic)
    Post.objects.filter(pk=post.pk).update(body_html="stale", fragment="stale")
    monkeypatch.setattr(rendering, "RENDER_VERSION", rendering.RENDER_VERSION + 1)

    assert services.posts_rerender() == 1
    assert services.posts_rerender() == 0

    post.refresh_from_db()
    assert post.body_html == "<p>Hello, <strong>forum</strong>.</p>"
    assert post.render_version == rendering.RENDER_VERSION
    assert "<strong>forum</strong>" in post.fragment


def test_posts_rerender_nests_a_two_space_list_that_version_2_rendered_flat(topic):
    post = opening_post(topic)
    flat = "<ul>\n<li>a</li>\n<li>b</li>\n</ul>"
    Post.objects.filter(pk=post.pk).update(body="- a\n  - b", body_html=flat, render_version=2)

    assert services.posts_rerender() == 1

    post.refresh_from_db()
    assert post.body_html == "<ul>\n<li>a<ul>\n<li>b</li>\n</ul>\n</li>\n</ul>"
    assert post.render_version == rendering.RENDER_VERSION
    assert post.body_html in post.fragment


def test_created_time_can_be_given(member):
    moment = datetime(2025, 2, 12, 1, 14, 44, tzinfo=UTC)
    topic = services.topic_create(author=member, title="Old", body="old", created=moment)

    assert topic.created == moment
    assert '<time datetime="2025-02-12T01:14:44Z">' in opening_post(topic).fragment


def test_user_create(db):
    user = services.user_create(username="carol", email="carol@example.org", password="pw")

    assert user.check_password("pw")
    assert user.is_active
    assert User.objects.get_by_natural_key("CAROL") == user


# --- Import --------------------------------------------------------------------------------


def _document(text: str, filename: str = "f.md") -> conversation.Document:
    return conversation.read(text.encode(), filename=filename)


IMPORTED = """\
### Imported topic
- @ann [2025-02-12T01:14:44Z]: opening with **bold**
  - @Alice [2025-02-12T01:15:00Z]: reply from an existing member
    - @ann [2025-02-12T01:16:00Z]: deeper
  - @bob [2025-02-12T01:17:00Z]: second reply
- @bob [2025-02-12T01:18:00Z]: top level
"""


def test_import_builds_topics_trees_and_accounts(member):
    summary = services.conversation_import(moderator=importer(), documents=[_document(IMPORTED)])

    assert summary == services.ImportSummary(topics=1, posts=5, new_accounts=["ann", "bob"])
    topic = Topic.objects.get(title="Imported topic")
    assert tree_shape(topic) == "\n".join(
        [
            "ann: opening with **bold**",
            "  alice: reply from an existing member",
            "    ann: deeper",
            "  bob: second reply",
            "bob: top level",
        ]
    )
    assert (topic.author.username, topic.reply_count) == ("ann", 4)
    assert topic.created == datetime(2025, 2, 12, 1, 14, 44, tzinfo=UTC)
    assert topic.last_activity == datetime(2025, 2, 12, 1, 18, tzinfo=UTC)
    ann = User.objects.get(username="ann")
    assert not ann.is_active
    assert not ann.has_usable_password()
    post = opening_post(topic)
    assert post.body_html == "<p>opening with <strong>bold</strong></p>"
    assert f'id="p{post.pk}"' not in post.fragment  # the thread loop adds the anchor
    assert f'href="#p{post.pk}"' in post.fragment
    roots = Post.objects.filter(topic=topic, level=0).values_list("tree_id", flat=True)
    assert len(set(roots)) == 2


def test_import_mptt_fields_match_a_rebuild(member):
    services.conversation_import(
        moderator=importer(), documents=[_document(IMPORTED), _document(IMPORTED, "g.md")]
    )
    before = list(Post.objects.order_by("pk").values_list("tree_id", "lft", "rght", "level"))

    Post.objects.rebuild()

    after = list(Post.objects.order_by("pk").values_list("tree_id", "lft", "rght", "level"))
    assert [row[1:] for row in before] == [row[1:] for row in after]


def test_import_is_all_or_nothing_across_files(member):
    bad = "### Fine\n- @carol [2025-01-01T00:00:00Z]: ok\n### Too long\n- @dan [2025-01-01]: "
    bad += "x" * 50_001 + "\n"

    with pytest.raises(conversation.ConversationError) as caught:
        services.conversation_import(
            moderator=importer(), documents=[_document(IMPORTED), _document(bad, "bad.md")]
        )

    assert str(caught.value) == (
        "bad.md:4: A post can be at most 50,000 characters long; this one has 50,001."
    )
    assert not Topic.objects.exists()
    assert sorted(User.objects.values_list("username", flat=True)) == ["alice", "importer"]


def test_import_refuses_a_title_the_forms_would_refuse(member):
    text = "### " + "t" * 201 + "\n- @ann [2025-01-01T00:00:00Z]: x\n"

    with pytest.raises(
        conversation.ConversationError, match=r"f\.md:1: A title can be at most 200"
    ):
        services.conversation_import(moderator=importer(), documents=[_document(text)])


def test_dry_run_reports_without_writing(member):
    summary = services.conversation_import(
        moderator=importer(), documents=[_document(IMPORTED)], dry_run=True
    )

    assert summary == services.ImportSummary(topics=1, posts=5, new_accounts=["ann", "bob"])
    assert not Topic.objects.exists()
    assert sorted(User.objects.values_list("username", flat=True)) == ["alice", "importer"]


def test_import_reports_progress(member):
    calls = []

    services.conversation_import(
        moderator=importer(),
        documents=[_document(IMPORTED)],
        progress=lambda *args: calls.append(args),
    )

    assert calls[0] == ("render", 5, 5)
    assert calls[-1] == ("write", 5, 5)


def test_a_canonical_file_comes_back_byte_identical(db):
    services.conversation_import(moderator=importer(), documents=[_document(IMPORTED)])
    canonical = selectors.conversation_export()
    Topic.objects.all().delete()

    services.conversation_import(moderator=importer(), documents=[_document(canonical)])

    assert selectors.conversation_export() == canonical


def test_the_sample_survives_import_and_export(db):
    original = conversation.read(SAMPLE.read_bytes(), filename="conversation.md")
    services.conversation_import(moderator=importer(), documents=[original])

    exported = selectors.conversation_export()

    assert conversation.read(exported.encode(), filename="x").conversations == (
        original.conversations
    )
    Topic.objects.all().delete()
    services.conversation_import(moderator=importer(), documents=[_document(exported)])
    assert selectors.conversation_export() == exported


def test_export_keeps_removed_posts_as_placeholders(topic, other_member, moderator):
    reply = ReplyFactory(parent=opening_post(topic), author=other_member, body="rude")
    ReplyFactory(parent=reply, author=topic.author, body="answer")
    services.post_remove(post=reply, moderator=moderator, reason="rude")

    exported = selectors.conversation_export(topic_ids=[topic.pk])

    assert "rude" not in exported
    assert [
        (m.depth, m.handle, m.text)
        for m in conversation.read(exported.encode(), filename="x").conversations[0].messages
    ] == [
        (0, "alice", "Hello, **forum**."),
        (1, "bob", "[removed by a moderator]"),
        (2, "alice", "answer"),
    ]


def test_a_post_that_quotes_a_message_line_renders_the_same_after_a_round_trip(topic):
    body = "Quoting the old forum:\n\n- @bob [2025-01-01T00:00:00Z]: hi there"
    post = ReplyFactory(topic=topic, author=topic.author, body=body)

    exported = selectors.conversation_export(topic_ids=[topic.pk])
    Topic.objects.all().delete()
    services.conversation_import(moderator=importer(), documents=[_document(exported)])

    copy = Post.objects.get(body__startswith="Quoting")
    assert copy.body_html == post.body_html
    assert Post.objects.count() == 2


def test_export_queries_do_not_grow_with_the_forum(topic, django_assert_num_queries):
    with django_assert_num_queries(2):
        selectors.conversation_export()
    TopicFactory.create_batch(3)
    ReplyFactory.create_batch(5, topic=topic, author=topic.author)
    with django_assert_num_queries(2):
        selectors.conversation_export()


# --- Topic-list rows -----------------------------------------------------------------------


def _fresh_row(topic: Topic) -> str:
    return fragments.topic_row(Topic.objects.select_related("author").get(pk=topic.pk))


@pytest.mark.parametrize(
    "write",
    [
        lambda t, m, o: ReplyFactory(parent=opening_post(t), author=o),
        lambda t, m, o: services.post_edit(
            post=opening_post(t), editor=t.author, body="x", title="Renamed"
        ),
        lambda t, m, o: services.post_delete(post=opening_post(t), user=t.author),
        lambda t, m, o: services.topic_set_locked(topic=t, moderator=m, locked=True),
        lambda t, m, o: services.topic_set_pinned(topic=t, moderator=m, pinned=True),
        lambda t, m, o: services.topic_retitle(topic=t, moderator=m, title="Retitled"),
        lambda t, m, o: services.trees_repair(tree_ids=[], topic_ids=[t.pk]),
        lambda t, m, o: services.post_move(
            post=ReplyFactory(topic=t, author=o),
            moderator=m,
            new_parent=None,
            topic=TopicFactory(author=o),
        ),
    ],
)
def test_every_topic_write_keeps_its_list_row_current(topic, moderator, other_member, write):
    Topic.objects.filter(pk=topic.pk).update(row_html="stale")

    write(topic, moderator, other_member)

    for each in Topic.objects.all():
        assert each.row_html == _fresh_row(each)


def test_list_rows_show_what_readers_need(topic, other_member, moderator):
    ReplyFactory(parent=opening_post(topic), author=other_member)
    services.topic_set_pinned(topic=topic, moderator=moderator, pinned=True)

    row = Topic.objects.get(pk=topic.pk).row_html

    assert f'href="{topic.get_absolute_url()}">A first topic</a>' in row
    assert "Pinned" in row
    assert "1 reply ·" in row
    assert 'class="topic-author" href="/u/alice/">' in row
    assert "avatar-c" in row
    assert "@alice</a>" in row
    assert "<time datetime=" in row


def test_imported_topics_have_their_rows(db):
    services.conversation_import(moderator=importer(), documents=[_document(IMPORTED)])

    topic = Topic.objects.get()
    assert topic.row_html == _fresh_row(topic)
    assert "4 replies" in topic.row_html


# --- Limits --------------------------------------------------------------------------------


@pytest.fixture
def limits(settings):
    """The limits production runs with (tests/settings.py turns them off elsewhere).

    Except the count of renders, which these tests would reach by posting faster
    than time passes (they age posts instead of waiting); `render_limits` has it.
    """
    settings.FORUM_LIMITS = {
        **settings.PRODUCTION_LIMITS,
        "renders_per_burst": None,
        "renders_per_window": None,
    }
    return settings.FORUM_LIMITS


@pytest.fixture
def render_limits(settings):
    """Only the count of renders, as production has it."""
    production = settings.PRODUCTION_LIMITS
    settings.FORUM_LIMITS = {
        **settings.FORUM_LIMITS,
        **{key: production[key] for key in ("renders_per_burst", "render_burst_window",
                                             "renders_per_window", "render_window")},
    }  # fmt: skip
    return settings.FORUM_LIMITS


@pytest.fixture
def regular(db):
    """A member who joined long ago."""
    return UserFactory(username="regular", date_joined=timezone.now() - timedelta(days=30))


def _age_posts(author, by: timedelta) -> None:
    for post in Post.objects.filter(author=author):
        Post.objects.filter(pk=post.pk).update(created=post.created - by)


def test_one_post_per_interval(topic, regular, limits):
    services.post_reply(author=regular, topic=topic, body="first")

    with pytest.raises(services.RateLimited, match="once every 5 seconds") as caught:
        services.post_reply(author=regular, topic=topic, body="second")
    assert 1 <= caught.value.retry_after <= 5
    _age_posts(regular, timedelta(seconds=6))
    services.post_reply(author=regular, topic=topic, body="second")
    assert Post.objects.filter(author=regular).count() == 2


def test_the_same_text_again_leads_to_the_first_post(topic, regular, limits):
    first = services.post_reply(author=regular, topic=topic, body="Hello!")

    with pytest.raises(services.AlreadyPosted) as again:
        services.post_reply(author=regular, topic=topic, body="Hello!")

    assert again.value.post == first
    assert Post.objects.filter(author=regular).count() == 1
    _age_posts(regular, timedelta(minutes=6))
    assert services.post_reply(author=regular, topic=topic, body="Hello!") != first


def test_a_new_posts_interval_and_duplicate_are_one_query(
    topic, regular, moderator, limits, django_assert_num_queries
):
    first = services.post_reply(author=regular, topic=topic, body="Once")
    _age_posts(regular, timedelta(seconds=6))

    with django_assert_num_queries(1):
        services.limits.check_posting(regular, "Twice", topic=topic, parent=None)
    with django_assert_num_queries(2), pytest.raises(services.AlreadyPosted) as again:
        services.limits.check_posting(regular, "Once", topic=topic, parent=None)  # and the post
    assert (again.value.post, again.value.post.topic) == (first, topic)
    assert permissions.is_moderator(moderator)  # (its permissions read, and kept)
    with django_assert_num_queries(1):  # moderators: the duplicate only
        services.limits.check_posting(moderator, "Once", topic=topic, parent=None)
    limits["duplicate_window"] = timedelta(0)
    with django_assert_num_queries(0):
        services.limits.check_posting(moderator, "Once", topic=topic, parent=None)


def test_the_same_topic_again_leads_to_the_first_topic(regular, limits):
    first = services.topic_create(author=regular, title="Twice", body="clicked twice")

    with pytest.raises(services.AlreadyPosted) as again:
        services.topic_create(author=regular, title="Twice", body="clicked twice")

    assert again.value.post.topic == first
    assert Topic.objects.count() == 1


def test_new_accounts_post_more_slowly_and_less(topic, other_member, limits):
    services.post_reply(author=other_member, topic=topic, body="first")
    with pytest.raises(services.RateLimited, match="once every 30 seconds"):
        services.post_reply(author=other_member, topic=topic, body="too soon")

    for number in range(9):
        _age_posts(other_member, timedelta(seconds=31))
        services.post_reply(author=other_member, topic=topic, body=f"post {number}")
    _age_posts(other_member, timedelta(seconds=31))
    with pytest.raises(services.RateLimited, match="10 posts a day") as caught:
        services.post_reply(author=other_member, topic=topic, body="the eleventh")
    assert caught.value.retry_after > 23 * 3600


def test_new_accounts_have_few_links(topic, other_member, regular, limits):
    body = "see https://a.example.org, https://b.example.com and https://c.example.net"

    with pytest.raises(services.RateLimited, match="at most 2 links"):
        services.post_reply(author=other_member, topic=topic, body=body)
    services.post_reply(author=regular, topic=topic, body=body)
    services.post_reply(author=other_member, topic=topic, body="just https://a.example.org")


def test_mentions_are_not_links_that_count_against_new_accounts(
    topic, other_member, regular, limits
):
    body = f"@{regular.username} and @{topic.author.username}, see https://a.example.org"
    post = services.post_reply(author=other_member, topic=topic, body=body)

    assert post.body_html.count('<a class="mention" ') == 2
    _age_posts(other_member, timedelta(seconds=31))
    faked = '<a class="mention" href="https://b.example.org">b</a> https://c.example.org'
    with pytest.raises(services.RateLimited, match="at most 2 links"):
        services.post_reply(author=other_member, topic=topic, body=f"https://a.example.org {faked}")


def test_moderators_have_no_limits(topic, moderator, limits):
    for number in range(3):
        services.post_reply(author=moderator, topic=topic, body=f"note {number}")

    assert Post.objects.filter(author=moderator).count() == 3


def test_signups_per_address(db, limits):
    for number in range(5):
        services.user_create(
            username=f"new{number}", email="", password="pw", address="203.0.113.9"
        )

    with pytest.raises(services.RateLimited, match="from your network") as caught:
        services.user_create(username="new5", email="", password="pw", address="203.0.113.9")
    services.user_create(username="elsewhere", email="", password="pw", address="198.51.100.1")
    assert 3500 < caught.value.retry_after <= 3600
    assert not User.objects.filter(username="new5").exists()


@examples(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(text=NEARLY_VALID)
def test_any_file_imports_completely_or_not_at_all(member, text):
    def counts() -> tuple[int, int, int]:
        return Topic.objects.count(), Post.objects.count(), User.objects.count()

    before = counts()
    try:
        document = conversation.read(text.encode(), filename="any.md")
        summary = services.conversation_import(moderator=importer(), documents=[document])
    except conversation.ConversationError as refusal:
        expected, reason = before, str(refusal)
    else:
        added = (summary.topics, summary.posts, len(summary.new_accounts))
        expected, reason = tuple(map(sum, zip(before, added, strict=True))), "any.md: imported"

    assert counts() == expected
    assert reason.startswith("any.md")
    assert selectors.tree_problems() == []


# --- Hostile input (the review's findings) ------------------------------------------------


def test_a_reply_too_complex_to_format_is_refused_and_nothing_is_written(topic, other_member):
    with pytest.raises(ValidationError, match="too complex to format") as caught:
        services.post_reply(author=other_member, topic=topic, body="[" * 4_000 + "]")

    assert caught.value.code == "too_complex"
    assert Post.objects.count() == 1
    assert selectors.tree_problems() == []


def test_the_same_text_in_another_topic_is_a_new_post(topic, regular, limits):
    """The duplicate guard used to send a "Thanks!" in topic 2 to the one in topic 1."""
    other = TopicFactory(author=regular, title="Another", body="another")
    _age_posts(regular, timedelta(seconds=6))
    first = services.post_reply(author=regular, topic=topic, body="Thanks!")
    _age_posts(regular, timedelta(seconds=6))

    second = services.post_reply(author=regular, topic=other, body="Thanks!")

    assert second != first
    assert second.topic == other
    assert Post.objects.filter(author=regular, body="Thanks!").count() == 2


def test_the_same_text_under_another_post_is_a_new_post(topic, regular, limits):
    op = opening_post(topic)
    first = services.post_reply(author=regular, topic=topic, parent=op, body="Agreed.")
    _age_posts(regular, timedelta(seconds=6))

    second = services.post_reply(author=regular, topic=topic, body="Agreed.")

    assert second != first
    assert second.parent is None


def test_the_same_title_and_text_with_an_older_opening_post_is_a_new_topic(regular, limits):
    first = services.topic_create(author=regular, title="Twice", body="same")
    _age_posts(regular, timedelta(seconds=6))
    services.post_reply(author=regular, topic=first, body="not the same")
    _age_posts(regular, timedelta(seconds=6))

    other = services.topic_create(author=regular, title="Other", body="same")

    assert other != first


def test_edits_keep_the_link_limit_of_new_accounts(topic, other_member, limits):
    """A new account refused 20 links in a post used to add them by editing."""
    post = services.post_reply(author=other_member, topic=topic, body="no links yet")
    links = " ".join(f"https://{n}.example.org" for n in range(20))

    with pytest.raises(services.RateLimited, match="at most 2 links"):
        services.post_edit(post=post, editor=other_member, body=links)

    post.refresh_from_db()
    assert post.body == "no links yet"
    assert post.edited is None


def test_edits_come_at_most_once_per_interval(topic, regular, limits):
    post = services.post_reply(author=regular, topic=topic, body="draft")
    services.post_edit(post=post, editor=regular, body="draft 2")
    revision = Topic.objects.get(pk=topic.pk).revision

    with pytest.raises(services.RateLimited, match="edit a post once every 5 seconds") as caught:
        services.post_edit(post=post, editor=regular, body="draft 3")

    assert 1 <= caught.value.retry_after <= 5
    assert Post.objects.get(pk=post.pk).body == "draft 2"
    assert Topic.objects.get(pk=topic.pk).revision == revision  # the cached pages stay
    Post.objects.filter(pk=post.pk).update(edited=timezone.now() - timedelta(seconds=6))
    services.post_edit(post=post, editor=regular, body="draft 3")


def test_new_accounts_edit_more_slowly(topic, other_member, limits):
    post = services.post_reply(author=other_member, topic=topic, body="draft")
    services.post_edit(post=post, editor=other_member, body="draft 2")
    Post.objects.filter(pk=post.pk).update(edited=timezone.now() - timedelta(seconds=6))

    with pytest.raises(services.RateLimited, match="once every 30 seconds"):
        services.post_edit(post=post, editor=other_member, body="draft 3")


def test_moderators_edit_without_limits(topic, moderator, limits):
    post = opening_post(topic)
    for number in range(3):
        services.post_edit(post=post, editor=moderator, body=f"fixed {number} https://a.b.c")

    assert Post.objects.get(pk=post.pk).body == "fixed 2 https://a.b.c"


def test_preview_needs_a_member_who_may_post(db, banned):
    from django.contrib.auth.models import AnonymousUser

    with pytest.raises(services.Refused, match="Log in to post"):
        services.post_preview(author=AnonymousUser(), body="*hi*")
    with pytest.raises(services.Refused, match="suspended"):
        services.post_preview(author=banned, body="*hi*")


def test_previews_are_counted(member, limits):
    for _ in range(30):
        assert services.post_preview(author=member, body="*hi*") == "<p><em>hi</em></p>"

    with pytest.raises(services.RateLimited, match="previewed many posts") as caught:
        services.post_preview(author=member, body="*hi*")
    assert caught.value.retry_after > 9 * 60


def test_a_preview_too_complex_to_format_is_a_form_error(member):
    with pytest.raises(ValidationError, match="too complex to format"):
        services.post_preview(author=member, body="- " * 500 + "x")


def test_only_moderators_import(member):
    with pytest.raises(services.Refused, match="Only moderators"):
        services.conversation_import(moderator=member, documents=[_document(IMPORTED)])

    assert not Topic.objects.exists()


def test_import_refuses_handles_of_staff_accounts(moderator):
    """An import used to put words in the superuser's mouth, backdated to 2001."""
    UserFactory(username="root", is_staff=True, is_superuser=True)
    text = "### Hi\n- @ann [2001-01-01T00:00:00Z]: hi\n  - @ROOT [2001-01-01T00:01:00Z]: me\n"

    with pytest.raises(conversation.ConversationError) as caught:
        services.conversation_import(moderator=moderator, documents=[_document(text)])

    assert str(caught.value) == (
        "f.md:3: @ROOT is a staff account; import with the option that allows staff handles "
        "if this file really is theirs"
    )
    assert not Topic.objects.exists()
    services.conversation_import(
        moderator=moderator, documents=[_document(text)], allow_staff_handles=True
    )
    assert tree_shape(Topic.objects.get()) == "ann: hi\n  root: me"


def test_import_refuses_a_message_too_complex_to_format_at_its_line(moderator):
    text = "### Deep\n- @ann [2025-01-01T00:00:00Z]: fine\n  - @bob [2025-01-01]: " + "- " * 400
    text += "x\n"

    with pytest.raises(conversation.ConversationError) as caught:
        services.conversation_import(moderator=moderator, documents=[_document(text)])

    assert str(caught.value).startswith("f.md:3: This post is too complex to format")
    assert not Topic.objects.exists()


def test_tree_repair_locks_every_topic_it_touches(topic, other_member, monkeypatch):
    """A repair follows parent links into other trees: their topics are locked first."""
    stray = ReplyFactory(topic=topic, author=other_member, body="stray")
    elsewhere = TopicFactory(author=other_member, title="Elsewhere", body="elsewhere")
    Post.objects.filter(pk=stray.pk).update(parent_id=opening_post(elsewhere).pk)
    locked, regrouped_under = [], []
    lock_topics, regroup = services.locks.lock_topics, services.repair._regroup_tree
    monkeypatch.setattr(
        services.locks,
        "lock_topics",
        lambda *ids, **kw: locked.extend(ids) or lock_topics(*ids, **kw),
    )
    monkeypatch.setattr(
        services.repair,
        "_regroup_tree",
        lambda tree_id: regrouped_under.append(set(locked)) or regroup(tree_id),
    )

    services.trees_repair(tree_ids=[stray.tree_id], topic_ids=[topic.pk])

    assert regrouped_under == [{topic.pk, elsewhere.pk}]
    assert selectors.tree_problems() == []
    assert tree_shape(elsewhere) == "bob: elsewhere\n  bob: stray"


def test_rerender_renders_before_it_takes_the_locks(topic, monkeypatch):
    ReplyFactory.create_batch(3, topic=topic, author=topic.author)
    monkeypatch.setattr(rendering, "RENDER_VERSION", rendering.RENDER_VERSION + 1)
    events = []
    lock_topics, render = services.locks.lock_topics, rendering.markdown_to_html_each
    monkeypatch.setattr(
        services.locks,
        "lock_topics",
        lambda *ids, **kw: events.append("lock") or lock_topics(*ids, **kw),
    )
    monkeypatch.setattr(
        rendering,
        "markdown_to_html_each",
        lambda s, **kw: events.append("render") or render(s, **kw),
    )

    assert services.posts_rerender(batch_size=2) == 4

    assert events == ["render", "lock", "render", "lock"]


def test_rerender_shows_a_stored_post_that_cannot_be_formatted_as_typed(topic, monkeypatch):
    hostile = "[" * 10_000
    post = opening_post(topic)
    Post.objects.filter(pk=post.pk).update(body=hostile)
    monkeypatch.setattr(rendering, "RENDER_VERSION", rendering.RENDER_VERSION + 1)

    assert services.posts_rerender() == 1

    post.refresh_from_db()
    assert post.body_html == f"<pre>{hostile}</pre>"
    assert post.render_version == rendering.RENDER_VERSION


def test_rerender_keeps_what_an_edit_rendered_meanwhile(topic, monkeypatch):
    post = opening_post(topic)
    monkeypatch.setattr(rendering, "RENDER_VERSION", rendering.RENDER_VERSION + 1)
    render = rendering.markdown_to_html_each

    def edit_meanwhile(sources, **kwargs):
        results = render(sources, **kwargs)
        monkeypatch.setattr(rendering, "markdown_to_html_each", render)
        services.post_edit(post=post, editor=topic.author, body="edited *meanwhile*")
        return results

    monkeypatch.setattr(rendering, "markdown_to_html_each", edit_meanwhile)

    assert services.posts_rerender() == 0
    assert Post.objects.get(pk=post.pk).body_html == "<p>edited <em>meanwhile</em></p>"


@pytest.mark.parametrize(
    "title", ["\u200b\u200b", "\u200d", "\u2066\u2069", " \u3164 ", "\u202e", "\ufeff\u2800"]
)
def test_a_title_of_invisible_characters_is_empty(member, title):
    with pytest.raises(ValidationError, match="needs a title"):
        services.topic_create(author=member, title=title, body="x")


def test_titles_lose_the_characters_that_reorder_or_hide_text(member):
    topic = services.topic_create(
        author=member, title="Invoice\u202egnp.exe\u202c \u200bpaid", body="x"
    )

    assert topic.title == "Invoicegnp.exe paid"


def test_titles_keep_the_joiners_of_emoji(member):
    family = "\U0001f468\u200d\U0001f469\u200d\U0001f467"

    assert services.topic_create(author=member, title=f"We {family}", body="x").title == (
        f"We {family}"
    )


def test_handles_refuse_format_characters(db):
    with pytest.raises(ValidationError):
        services.user_create(username="ann\u202e", email="a@example.org", password="pw-x-123456")


def test_moving_posts_into_a_topic_renews_its_last_activity(topic, other_member, moderator):
    elsewhere = TopicFactory(author=other_member, title="Older", body="older")
    Topic.objects.filter(pk=elsewhere.pk).update(last_activity=timezone.now() - timedelta(days=9))
    moved = ReplyFactory(topic=topic, author=other_member, body="new")

    services.post_move(post=moved, moderator=moderator, new_parent=None, topic=elsewhere)

    assert Topic.objects.get(pk=elsewhere.pk).last_activity == moved.created


# --- Rate events are pruned ---------------------------------------------------------------


def _events(kind: str, *keys_and_ages: tuple[str, timedelta]) -> None:
    from threads.models import RateEvent

    now = timezone.now()
    RateEvent.objects.bulk_create(
        RateEvent(kind=kind, key=key, created=now - age) for key, age in keys_and_ages
    )


def _count(kind: str, key: str, *, limit: int = 5) -> None:
    from django.db import transaction

    with transaction.atomic():
        services.limits.count_event(
            kind, key, limit=limit, window=timedelta(hours=1), what="Too many."
        )


def test_counting_an_event_prunes_expired_events_of_every_key(db):
    from threads.models import RateEvent

    old, recent = timedelta(hours=2), timedelta(minutes=5)
    _events("signup", ("198.51.100.1", old), ("198.51.100.2", old), ("198.51.100.2", recent))
    _events("other", ("198.51.100.1", old))

    _count("signup", "203.0.113.9")

    assert sorted(RateEvent.objects.values_list("kind", "key")) == [
        ("other", "198.51.100.1"),  # another kind may look back further: not this one's to judge
        ("signup", "198.51.100.2"),
        ("signup", "203.0.113.9"),
    ]


def test_pruning_is_bounded_and_oldest_first(db):
    from threads.models import RateEvent

    _events("signup", *[(f"198.51.100.{n % 250}", timedelta(hours=3)) for n in range(5)])
    _events("signup", *[("192.0.2.1", timedelta(hours=2))] * services.limits.PRUNE_BATCH)

    _count("signup", "203.0.113.9")

    assert RateEvent.objects.filter(kind="signup").count() == 5 + 1
    assert not RateEvent.objects.filter(key__startswith="198.51.100.").exists()


def test_expired_events_do_not_count_even_before_they_are_pruned(db, monkeypatch):
    monkeypatch.setattr(services.limits, "PRUNE_BATCH", 0)
    _events("signup", *[("203.0.113.9", timedelta(hours=2))] * 5)

    _count("signup", "203.0.113.9")
    _count("signup", "203.0.113.9", limit=2)
    with pytest.raises(services.RateLimited):
        _count("signup", "203.0.113.9", limit=2)


def _count_both(key: str, *, burst: int = 2, minute: int = 3) -> None:
    from django.db import transaction

    limits = services.limits
    with transaction.atomic():
        limits.count_events(
            key,
            limits.EventLimit("burst", burst, timedelta(seconds=5), "Too fast."),
            limits.EventLimit("minute", minute, timedelta(minutes=1), "Too many."),
        )


def test_limits_counted_together_record_every_event_or_none(db):
    from threads.models import RateEvent

    _count_both("7")
    _count_both("7")
    with pytest.raises(services.RateLimited, match="Too fast"):  # the first limit reached
        _count_both("7")
    RateEvent.objects.filter(kind="burst").delete()  # a few seconds later
    _count_both("7")
    RateEvent.objects.filter(kind="burst").delete()
    with pytest.raises(services.RateLimited, match="Too many") as caught:
        _count_both("7")

    assert 55 <= caught.value.retry_after <= 60
    assert RateEvent.objects.filter(kind="minute").count() == 3
    assert not RateEvent.objects.filter(kind="burst").exists()  # the refused one left none
    _count_both("8")  # another key counts apart


def test_limits_counted_together_prune_each_kind(db):
    from threads.models import RateEvent

    _events("burst", ("1", timedelta(seconds=6)), ("2", timedelta(minutes=5)))
    _events("minute", ("1", timedelta(seconds=6)), ("2", timedelta(minutes=5)))

    _count_both("7")

    assert sorted(RateEvent.objects.values_list("kind", "key")) == [
        ("burst", "7"),
        ("minute", "1"),  # still counting for a minute
        ("minute", "7"),
    ]


def test_limits_counted_together_cost_one_query_each_to_count_record_and_prune(
    db, django_assert_num_queries
):
    locks = 1 if connection.vendor == "postgresql" else 0  # advisory locks (one statement)
    with django_assert_num_queries(locks + 3 + 2):  # and the transaction's begin and commit
        _count_both("7")


@pytest.mark.django_db(transaction=True)
def test_concurrent_counters_prune_without_waiting_for_each_other():
    """Eight writers, each counting under its own key, all pruning the same expired rows."""
    from threads.models import RateEvent

    from .concurrency import run_concurrently

    _events("signup", *[(f"192.0.2.{n % 200}", timedelta(hours=2)) for n in range(1000)])

    def counter(number: int):
        def work() -> None:
            for _ in range(20):
                _count("signup", f"203.0.113.{number}", limit=100)

        return work

    errors, _ = run_concurrently([counter(n) for n in range(8)])

    assert errors == []
    assert RateEvent.objects.filter(kind="signup").count() == 8 * 20  # the expired are gone


# --- Per-address limits count networks ----------------------------------------------------


@pytest.mark.parametrize(
    ("address", "key"),
    [
        ("203.0.113.9", "203.0.113.9"),
        ("2001:db8:1:2::1", "2001:db8:1:2::"),
        ("2001:db8:1:2:ffff:ffff:ffff:ffff", "2001:db8:1:2::"),
        ("2001:DB8:1:2:0:0:0:1", "2001:db8:1:2::"),
        ("::ffff:203.0.113.9", "203.0.113.9"),
        ("fe80::1%eth0", "fe80::"),
        ("not an address", "not an address"),
    ],
)
def test_address_key_is_the_address_for_ipv4_and_the_64_for_ipv6(address, key):
    assert services.address_key(address) == key


def test_signups_per_address_count_an_ipv6_64_as_one_address(db, limits):
    for number in range(5):
        services.user_create(
            username=f"new{number}", email="", password="pw", address=f"2001:db8:1:2::{number}"
        )

    with pytest.raises(services.RateLimited, match="from your network"):
        services.user_create(
            username="rotated", email="", password="pw", address="2001:db8:1:2:ffff::9"
        )
    services.user_create(username="next64", email="", password="pw", address="2001:db8:1:3::1")
    assert not User.objects.filter(username="rotated").exists()


def test_signups_per_address_count_ipv4_addresses_each_on_their_own(db, limits):
    for number in range(5):
        services.user_create(
            username=f"new{number}", email="", password="pw", address="::ffff:203.0.113.9"
        )

    with pytest.raises(services.RateLimited):
        services.user_create(username="same", email="", password="pw", address="203.0.113.9")
    services.user_create(username="neighbour", email="", password="pw", address="203.0.113.10")


# --- Password-reset mails ------------------------------------------------------------------


def test_password_reset_send_sends_within_the_limits(db, limits):
    sent = []

    for _ in range(3):
        services.password_reset_send(
            email="Someone@Example.org", address="203.0.113.4", send=lambda: sent.append(1)
        )
    with pytest.raises(services.RateLimited, match="that e-mail address") as caught:
        services.password_reset_send(
            email="someone@example.org ", address="198.51.100.1", send=lambda: sent.append(1)
        )

    assert len(sent) == 3
    assert 3500 < caught.value.retry_after <= 3600
    services.password_reset_send(
        email="other@example.org", address="198.51.100.1", send=lambda: sent.append(1)
    )
    assert len(sent) == 4


def test_password_reset_send_without_limits_always_sends(db):
    sent = []

    for _ in range(20):
        services.password_reset_send(
            email="a@example.org", address=None, send=lambda: sent.append(1)
        )

    assert len(sent) == 20


def test_user_create_refuses_a_username_taken_meanwhile(db, limits):
    from threads.models import RateEvent

    services.user_create(username="carol", email="", password="pw")

    with pytest.raises(ValidationError) as caught:
        services.user_create(username="CAROL", email="", password="pw", address="203.0.113.9")

    assert caught.value.message_dict == {"username": ["That username is taken."]}
    assert not RateEvent.objects.exists()  # a refused sign-up does not count


def test_renders_are_counted_even_when_refused(topic, regular, render_limits):
    """A text refused as too complex is never stored, yet it cost a render worker."""
    hostile = SHAPES["lines of -"](50_000)
    for _ in range(3):
        with pytest.raises(ValidationError, match="too complex"):
            services.post_reply(author=regular, topic=topic, body=hostile)

    with pytest.raises(services.RateLimited, match="faster than anyone types") as caught:
        services.post_preview(author=regular, body="*fine*")

    assert 1 <= caught.value.retry_after <= 5
    assert Post.objects.filter(author=regular).count() == 0


def test_renders_per_minute(topic, regular, render_limits):
    for number in range(12):
        RateEvent.objects.filter(kind="render_burst").delete()  # a few seconds later
        services.post_preview(author=regular, body=f"draft {number}")

    RateEvent.objects.filter(kind="render_burst").delete()
    with pytest.raises(services.RateLimited, match="many posts to be formatted") as caught:
        services.post_reply(author=regular, topic=topic, body="one more")
    assert caught.value.retry_after <= 60


def test_moderators_renders_are_not_counted(topic, moderator, render_limits):
    for number in range(5):
        services.post_preview(author=moderator, body=f"note {number}")


def test_an_edit_that_changes_nothing_renders_nothing(topic, regular, render_limits):
    post = services.post_reply(author=regular, topic=topic, body="as it is")
    for _ in range(5):
        assert services.post_edit(post=post, editor=regular, body="as it is") == post

    assert RateEvent.objects.filter(kind="render_burst").count() == 1  # the reply's
    assert Post.objects.get(pk=post.pk).edited is None


def test_a_new_title_alone_is_an_edit_and_keeps_the_interval(regular, limits):
    """Renaming a topic over and over used to skip the edit interval."""
    topic = services.topic_create(author=regular, title="First", body="the opening")
    services.post_edit(post=opening_post(topic), editor=regular, body="the opening", title="Two")

    with pytest.raises(services.RateLimited, match="edit a post once every 5 seconds"):
        services.post_edit(
            post=opening_post(topic), editor=regular, body="the opening", title="Three"
        )
    assert Topic.objects.get(pk=topic.pk).title == "Two"
    assert opening_post(topic).edited is not None


def test_a_reply_with_the_opening_posts_text_is_a_reply(regular, limits):
    """The duplicate guard used to send a top-level reply to the topic's opening post."""
    topic = services.topic_create(author=regular, title="Echo", body="Same words")
    _age_posts(regular, timedelta(seconds=6))
    Topic.objects.filter(pk=topic.pk).update(created=opening_post(topic).created)

    reply = services.post_reply(author=regular, topic=topic, body="Same words")

    assert reply != opening_post(topic)
    assert Post.objects.filter(topic=topic).count() == 2


@pytest.mark.parametrize("handle", [".", ".."])
def test_handles_of_only_dots_are_refused(db, moderator, handle):
    """/u/../ is another address: such a handle had no profile of its own."""
    with pytest.raises(ValidationError):
        services.user_create(username=handle, email="a@example.org", password="pw-x-123456")
    text = f"### Dots\n- @{handle} [2025-01-01T00:00:00Z]: hi\n"
    with pytest.raises(conversation.ConversationError, match="not only dots"):
        services.conversation_import(moderator=moderator, documents=[_document(text)])
    assert services.user_create(username=".a.", email="b@example.org", password="pw-x-123456")


# --- Categories ----------------------------------------------------------------------------


def _counts(category: Category) -> tuple:
    category.refresh_from_db()
    return category.topic_count, category.post_count, category.last_topic_id


def _group(*members) -> Group:
    group = Group.objects.create(name=f"group {Group.objects.count()}")
    for member in members:
        member.groups.add(group)
    return group


def test_a_topic_without_a_category_goes_to_the_default_one(member):
    topic = TopicFactory(author=member)

    assert topic.category == services.default_category()
    assert topic.category.name == "General"


def test_the_default_category_is_made_when_missing(member):
    Category.objects.all().delete()

    default = services.default_category()

    assert (default.name, default.slug, default.is_default) == ("General", "general", True)
    assert services.default_category() == default


def test_category_counts_follow_topics_and_replies(member, other_member):
    help_desk = CategoryFactory(name="Help")
    first = TopicFactory(author=member, category=help_desk)
    second = TopicFactory(author=member, category=help_desk)
    ReplyFactory(topic=first, author=other_member)
    ReplyFactory(topic=first, author=other_member)

    assert _counts(help_desk) == (2, 4, first.pk)
    assert help_desk.last_activity == Topic.objects.get(pk=first.pk).last_activity
    assert _counts(services.default_category())[:2] == (0, 0)
    assert second.category == help_desk


def test_an_older_topic_counted_keeps_the_categorys_latest_topic(member):
    help_desk = CategoryFactory(name="Help")
    older = TopicFactory(author=member, category=help_desk, created=T0)
    newer = TopicFactory(author=member, category=help_desk, created=T0 + timedelta(days=1))
    assert _counts(help_desk) == (2, 2, newer.pk)

    older.last_activity = T0 + timedelta(hours=1)  # later than itself, earlier than `newer`
    services.writes.category_counted(older, posts=3)

    assert _counts(help_desk) == (2, 5, newer.pk)
    assert help_desk.last_activity == newer.last_activity
    older.last_activity = T0 + timedelta(days=2)
    services.writes.category_counted(older, topics=1)
    assert _counts(help_desk) == (3, 5, older.pk)
    assert help_desk.last_activity == older.last_activity
    empty = CategoryFactory(name="Empty")
    older.category = empty
    services.writes.category_counted(older, posts=1)
    assert _counts(empty) == (0, 1, older.pk)  # a category without activity takes any


def test_a_member_cannot_start_a_topic_where_only_moderators_do(member, moderator):
    news = CategoryFactory(name="Announcements", who_starts=Category.Posters.MODERATORS)

    with pytest.raises(services.Refused, match="Only moderators start topics in Announcements"):
        services.topic_create(author=member, title="Hi", body="x", category=news)
    topic = services.topic_create(author=moderator, title="News", body="x", category=news)

    assert topic.category == news
    assert _counts(news)[:2] == (1, 1)


def test_replies_where_only_moderators_reply_are_refused_to_members(member, moderator):
    news = CategoryFactory(who_starts="moderators", who_replies="moderators")
    topic = services.topic_create(author=moderator, title="News", body="x", category=news)

    with pytest.raises(services.Refused, match="Only moderators reply"):
        services.post_reply(author=member, topic=topic, body="Me too")
    services.post_reply(author=moderator, topic=topic, body="Thanks")


def test_a_subcategory_follows_its_parents_rules_unless_it_sets_its_own(member, moderator):
    news = CategoryFactory(who_starts="moderators")
    inherits = CategoryFactory(parent=news)
    own = CategoryFactory(parent=news, who_starts="members")

    with pytest.raises(services.Refused):
        services.topic_create(author=member, title="Hi", body="x", category=inherits)
    assert services.topic_create(author=member, title="Hi", body="x", category=own).category == own


def test_a_private_category_does_not_exist_for_outsiders(member, other_member):
    private = CategoryFactory(who_sees="groups", seer_groups=[_group(member)])
    topic = TopicFactory(author=member, category=private)

    with pytest.raises(services.NotFound):
        services.topic_create(author=other_member, title="Hi", body="x", category=private)
    with pytest.raises(services.NotFound):
        services.post_reply(author=other_member, topic=topic, body="Let me in")
    with pytest.raises(services.NotFound):
        services.post_edit(post=opening_post(topic), editor=other_member, body="Mine now")
    assert ReplyFactory(topic=topic, author=member).topic == topic


def test_a_subcategory_cannot_show_what_its_parent_hides(member, other_member):
    private = CategoryFactory(who_sees="groups", seer_groups=[_group(member)])
    open_under_it = CategoryFactory(parent=private, who_sees="everyone")
    topic = TopicFactory(author=member, category=open_under_it)

    with pytest.raises(services.NotFound):
        services.post_reply(author=other_member, topic=topic, body="Hello?")


def test_category_moderators_moderate_their_category_only(member, other_member):
    User.objects.filter(pk=other_member.pk).update(is_staff=True)
    other_member.is_staff = True
    mods = _group(other_member)
    theirs = CategoryFactory(moderator_groups=[mods])
    sub = CategoryFactory(parent=theirs)
    elsewhere = TopicFactory(author=member)
    topic = TopicFactory(author=member, category=sub)

    services.topic_set_locked(topic=topic, moderator=other_member, locked=True)
    services.post_remove(post=opening_post(topic), moderator=other_member, reason="spam")
    with pytest.raises(services.Refused, match="Only moderators"):
        services.topic_set_locked(topic=elsewhere, moderator=other_member, locked=True)
    with pytest.raises(services.Refused, match="Only moderators"):
        services.post_remove(post=opening_post(elsewhere), moderator=other_member, reason="x")
    assert Topic.objects.get(pk=topic.pk).is_locked
    assert not Topic.objects.get(pk=elsewhere.pk).is_locked


def test_topic_move_moves_the_topic_and_its_counts(member, other_member, moderator):
    source, target = CategoryFactory(), CategoryFactory()
    topic = TopicFactory(author=member, category=source)
    ReplyFactory(topic=topic, author=other_member)
    stays = TopicFactory(author=member, category=source)

    moved = services.topic_move(topic=topic, moderator=moderator, category=target)

    assert Topic.objects.get(pk=topic.pk).category == target == moved.category
    assert _counts(source) == (1, 1, stays.pk)
    assert _counts(target) == (1, 2, topic.pk)
    assert f'href="{target.get_absolute_url()}"' in Topic.objects.get(pk=topic.pk).row_html


def test_topic_move_needs_a_moderator_of_both_categories(member, other_member):
    other_member.is_staff = True
    theirs = CategoryFactory(moderator_groups=[_group(other_member)])
    topic = TopicFactory(author=member, category=theirs)

    with pytest.raises(services.Refused, match="Only moderators"):
        services.topic_move(topic=topic, moderator=other_member, category=CategoryFactory())
    with pytest.raises(services.Refused, match="Only moderators"):
        services.topic_move(topic=topic, moderator=member, category=theirs)
    assert Topic.objects.get(pk=topic.pk).category == theirs


def test_moving_posts_to_a_topic_of_another_category_moves_their_counts(member, moderator):
    source, target = CategoryFactory(), CategoryFactory()
    topic = TopicFactory(author=member, category=source)
    reply = ReplyFactory(topic=topic, author=member)
    ReplyFactory(parent=reply, author=member)
    other = TopicFactory(author=member, category=target)

    services.post_move(post=reply, moderator=moderator, new_parent=None, topic=other)

    assert _counts(source)[:2] == (1, 1)
    assert _counts(target)[:2] == (1, 3)


def test_topic_delete_recounts_its_category(member, moderator):
    category = CategoryFactory()
    older = TopicFactory(author=member, category=category)
    newer = TopicFactory(author=member, category=category)

    services.topic_delete(topic=newer, moderator=moderator)

    assert _counts(category) == (1, 1, older.pk)


def test_renaming_a_category_rebuilds_its_topics_rows(member, moderator):
    category = CategoryFactory(name="Old name")
    topic = TopicFactory(author=member, category=category)
    category.name = "New name"
    category.save()

    services.category_changed(category=category, moderator=moderator, changed=["name"])

    assert "New name" in Topic.objects.get(pk=topic.pk).row_html


def test_category_create_refuses_members_and_bad_names(member, moderator):
    with pytest.raises(services.Refused):
        services.category_create(moderator=member, name="Mine")
    with pytest.raises(ValidationError):
        services.category_create(moderator=moderator, name="   ")
    with pytest.raises(ValidationError):
        services.category_create(moderator=moderator, name="General")  # its slug is taken
    assert services.category_create(moderator=moderator, name="Café talk").slug == "cafe-talk"


def test_a_member_of_a_moderator_group_who_is_not_staff_moderates_nothing(member, other_member):
    topic = TopicFactory(
        author=member, category=CategoryFactory(moderator_groups=[_group(other_member)])
    )

    with pytest.raises(services.Refused, match="Only moderators"):
        services.topic_set_locked(topic=topic, moderator=other_member, locked=True)


def test_tree_repair_recounts_categories(member, moderator):
    category = CategoryFactory()
    topic = TopicFactory(author=member, category=category)
    Category.objects.filter(pk=category.pk).update(topic_count=7, post_count=70)

    services.trees_repair(tree_ids=[], topic_ids=[topic.pk])

    assert _counts(category) == (1, 1, topic.pk)
