"""Edit history: the revisions an edit keeps, hiding them, and the history page."""

import time

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from threads import selectors, services
from threads.models import ModerationAction, Post, PostRevision, Topic
from threads.selectors import history

from .factories import CategoryFactory, ReplyFactory, TopicFactory
from .helpers import opening_post

pytestmark = pytest.mark.django_db

Action = ModerationAction.Action
HIDDEN = "This version was hidden by a moderator."


def _edit(post: Post, *bodies: str, editor=None) -> Post:
    for body in bodies:
        post = services.post_edit(post=post, editor=editor or post.author, body=body)
    return post


def _page(client, post: Post, page: int | None = None) -> str:
    query = f"?page={page}" if page else ""
    response = client.get(f"/p/{post.pk}/history/{query}")
    assert response.status_code == 200
    return response.content.decode()


# --- What an edit keeps -------------------------------------------------------------------


def test_an_edit_keeps_the_text_it_replaces(topic, member):
    post = opening_post(topic)

    edited = _edit(post, "Second text")

    revision = PostRevision.objects.get(post=post)
    assert (revision.body, revision.editor, revision.hidden) == ("Hello, **forum**.", member, False)
    assert revision.created == Post.objects.get(pk=post.pk).edited == edited.edited


def test_a_new_title_alone_keeps_no_revision(topic, member):
    post = services.post_edit(
        post=opening_post(topic), editor=member, body=opening_post(topic).body, title="Renamed"
    )

    assert post.edited is not None
    assert Topic.objects.get(pk=topic.pk).title == "Renamed"
    assert not PostRevision.objects.exists()


def test_an_edit_that_changes_nothing_keeps_nothing(topic, member):
    services.post_edit(post=opening_post(topic), editor=member, body="Hello, **forum**.")

    assert not PostRevision.objects.exists()


def test_a_refused_edit_keeps_no_revision(topic, other_member):
    with pytest.raises(services.Refused):
        services.post_edit(post=opening_post(topic), editor=other_member, body="Not mine")

    assert not PostRevision.objects.exists()


def test_a_moderators_edit_of_someone_elses_post_is_logged(topic, member, moderator):
    post = opening_post(topic)

    services.post_edit(post=post, editor=moderator, body="Tidied", title="Tidied title")

    entry = ModerationAction.objects.get()
    assert (entry.action, entry.moderator, entry.member, entry.post_id) == (
        Action.EDIT,
        moderator,
        member,
        post.pk,
    )
    assert entry.details == "Changed the text and the title."
    assert (entry.topic_id, entry.category_id) == (topic.pk, topic.category_id)
    assert PostRevision.objects.get().editor == moderator


def test_edits_of_ones_own_posts_are_not_logged(topic, member, moderator):
    _edit(opening_post(topic), "By the author")
    own = ReplyFactory(topic=topic, author=moderator, body="A moderator's reply")
    _edit(own, "A moderator's own edit")

    assert not ModerationAction.objects.exists()
    assert PostRevision.objects.count() == 2


# --- Hiding a revision ----------------------------------------------------------------------


@pytest.fixture
def revised(topic):
    """The opening post, edited twice: its original text and its second are revisions."""
    post = _edit(opening_post(topic), "Second, with my phone number 555-0100", "Third text")
    first, second = PostRevision.objects.filter(post=post).order_by("id")
    return post, first, second


def test_a_moderator_hides_a_revision_and_shows_it_again(revised, moderator, member):
    post, _, second = revised
    revision_before = Topic.objects.get(pk=post.topic_id).revision

    services.revision_set_hidden(
        revision=second, moderator=moderator, hidden=True, reason="  personal   data "
    )

    assert PostRevision.objects.get(pk=second.pk).hidden
    entry = ModerationAction.objects.get()
    assert (entry.action, entry.reason, entry.member, entry.post_id) == (
        Action.HIDE_REVISION,
        "personal data",
        member,
        post.pk,
    )
    # Thread pages show no versions: the topic's cached pages stay as they are.
    assert Topic.objects.get(pk=post.topic_id).revision == revision_before

    services.revision_set_hidden(revision=second, moderator=moderator, hidden=False)

    assert not PostRevision.objects.get(pk=second.pk).hidden
    assert list(ModerationAction.objects.order_by("id").values_list("action", flat=True)) == [
        Action.HIDE_REVISION,
        Action.SHOW_REVISION,
    ]


def test_hiding_a_hidden_revision_again_changes_nothing(revised, moderator):
    _, first, _ = revised
    services.revision_set_hidden(revision=first, moderator=moderator, hidden=True)

    services.revision_set_hidden(revision=first, moderator=moderator, hidden=True)

    assert ModerationAction.objects.count() == 1


@pytest.mark.parametrize("who", ["author", "other_member"])
def test_members_cannot_hide_revisions(revised, member, other_member, who):
    _, first, _ = revised
    user = member if who == "author" else other_member

    with pytest.raises(services.Refused, match="Only moderators"):
        services.revision_set_hidden(revision=first, moderator=user, hidden=True)

    assert not PostRevision.objects.filter(hidden=True).exists()
    assert not ModerationAction.objects.exists()


def test_a_category_moderator_hides_revisions_only_in_their_categories(
    member, category_moderator, helpers_group
):
    theirs = CategoryFactory(name="Help", moderator_groups=[helpers_group])
    inside = TopicFactory(author=member, category=theirs)
    outside = TopicFactory(author=member)
    for topic in (inside, outside):
        _edit(opening_post(topic), "edited")
    inside_revision = PostRevision.objects.get(post__topic=inside)
    outside_revision = PostRevision.objects.get(post__topic=outside)

    services.revision_set_hidden(
        revision=inside_revision, moderator=category_moderator, hidden=True
    )
    with pytest.raises(services.Refused):
        services.revision_set_hidden(
            revision=outside_revision, moderator=category_moderator, hidden=True
        )

    assert PostRevision.objects.get(pk=inside_revision.pk).hidden
    assert not PostRevision.objects.get(pk=outside_revision.pk).hidden


def test_a_revision_of_another_post_or_none_is_not_found(revised, moderator, topic):
    _, first, _ = revised
    other = ReplyFactory(topic=topic)

    with pytest.raises(services.NotFound):
        services.revision_set_hidden(
            revision=PostRevision(pk=first.pk, post_id=other.pk), moderator=moderator, hidden=True
        )
    with pytest.raises(services.NotFound):
        services.revision_set_hidden(
            revision=PostRevision(pk=first.pk + 100), moderator=moderator, hidden=True
        )
    assert not PostRevision.objects.filter(hidden=True).exists()


def test_a_reason_too_long_is_refused_before_anything(
    revised, moderator, django_assert_num_queries
):
    _, first, _ = revised

    with django_assert_num_queries(0), pytest.raises(ValidationError):
        services.revision_set_hidden(
            revision=first, moderator=moderator, hidden=True, reason="x" * 501
        )


# --- The history page -----------------------------------------------------------------------


def test_the_history_shows_each_version_newest_first_with_its_changes(client, revised, member):
    post, _, _ = revised

    html = _page(client, post)

    assert html.index("Current version") < html.index("Version 2") < html.index("Original")
    assert "<del>- Second, with my phone number 555-0100</del>" in html
    assert "<ins>+ Third text</ins>" in html
    assert f"by @{member.username}" in html


def test_texts_are_escaped_in_versions_and_diffs(client, topic, member):
    post = _edit(
        opening_post(topic),
        "<script>alert(1)</script>\nkept line",
        "<script>alert(2)</script>\nkept line",
    )

    html = _page(client, post)

    assert "<script>alert" not in html
    assert "<del>- &lt;script&gt;alert(1)&lt;/script&gt;</del>" in html
    assert "<ins>+ &lt;script&gt;alert(2)&lt;/script&gt;</ins>" in html


def test_hidden_versions_reach_only_moderators_not_even_through_diffs(
    client, revised, moderator, member, other_member
):
    post, _, second = revised
    services.revision_set_hidden(revision=second, moderator=moderator, hidden=True)

    for reader in (None, member, other_member):
        if reader:
            client.force_login(reader)
        html = _page(client, post)
        assert "555-0100" not in html, reader
        assert HIDDEN in html
        # The next version (the current text) is shown whole, without a diff against it.
        assert "The version before this one was hidden" in html
        assert "Hide this version" not in html
    client.force_login(moderator)
    html = _page(client, post)
    assert HIDDEN not in html
    assert html.count("555-0100") == 2  # its own diff, and the next one's
    assert "Show this version again" in html


def test_a_hidden_original_shows_nothing_of_it(client, revised, moderator):
    post, first, _ = revised
    services.revision_set_hidden(revision=first, moderator=moderator, hidden=True)

    html = _page(client, post)

    assert "forum**" not in html
    assert html.count(HIDDEN) == 1


def test_the_history_of_a_removed_post_is_for_moderators(client, revised, moderator, member):
    post, _, _ = revised
    services.post_remove(post=post, moderator=moderator, reason="spam")

    for reader in (None, member):
        if reader:
            client.force_login(reader)
        assert client.get(f"/p/{post.pk}/history/").status_code == 404
    client.force_login(moderator)
    assert "Third text" in _page(client, post)


def test_the_history_of_an_unseen_post_is_a_404(client, member, group_member, staff_group):
    hidden_place = CategoryFactory(name="Staff", who_sees="groups", seer_groups=[staff_group])
    topic = TopicFactory(author=group_member, category=hidden_place)

    client.force_login(member)

    assert client.get(f"/p/{opening_post(topic).pk}/history/").status_code == 404
    assert client.get("/p/999999/history/").status_code == 404
    assert client.get("/p/99999999999999999999/history/").status_code == 404


def test_a_post_never_edited_has_only_its_text(client, topic):
    html = _page(client, opening_post(topic))

    assert "There are no earlier versions" in html
    assert "Current version" in html


@pytest.mark.parametrize(
    ("reader", "queries"),
    [
        # the post (with its rights and count of revisions), its revisions
        ("visitor", 2),
        # and the session and the member, or the moderator's permissions
        ("member", 4),
        ("author", 4),
        ("moderator", 6),
    ],
)
def test_the_history_page_takes_a_fixed_number_of_queries(
    client, topic, member, other_member, moderator, django_assert_num_queries, reader, queries
):
    few = _edit(opening_post(topic), "two")
    many = _edit(ReplyFactory(topic=topic, author=member), *(f"text {n}" for n in range(45)))
    services.revision_set_hidden(
        revision=PostRevision.objects.filter(post=many).first(), moderator=moderator, hidden=True
    )
    user = {"member": other_member, "author": member, "moderator": moderator}.get(reader)
    if user:
        client.force_login(user)

    for post, page in ((few, None), (many, None), (many, 3)):
        with django_assert_num_queries(queries):
            assert client.get(f"/p/{post.pk}/history/?page={page or 1}").status_code == 200


def test_versions_are_paged(client, topic, member):
    post = _edit(opening_post(topic), *(f"text {n}" for n in range(45)))  # 46 versions

    first, third = _page(client, post), _page(client, post, page=3)

    assert "Current version" in first
    assert "Version 27" in first
    assert "Version 26" not in first
    assert "<ins>+ text 44</ins>" in first
    assert "Original version" in third
    assert "Version 7" not in third
    assert _page(client, post, page=99).count('<li class="version') == 6  # the last page


def test_a_hostile_history_stays_fast(client, topic, member):
    """50,000 characters of short lines, rewritten in every revision: difflib's worst
    case would be quadratic; the page stays well under the limit."""
    size = 50_000
    texts = [
        "\n".join(f"{(n * 7919 + version) % 997}" for n in range(size // 5))[:size]
        for version in range(25)
    ]
    post = ReplyFactory(topic=topic, author=member, body="short")
    PostRevision.objects.bulk_create(
        PostRevision(post=post, body=text, editor=member, created=post.created) for text in texts
    )
    Post.objects.filter(pk=post.pk).update(body=texts[-1][::-1])

    started = time.monotonic()
    html = _page(client, post)
    elapsed = time.monotonic() - started

    assert elapsed < 2, elapsed
    assert html.count('<li class="version') == history.VERSIONS_PER_PAGE


def test_changes_difflib_finds_slowest_stay_fast(client, topic, member):
    """Lines that match here and there, within the budget: difflib's slowest shape."""
    side = int(history.DIFF_BUDGET**0.5)
    texts = [
        "\n".join(str(n * (2 if version % 2 else 1) + version) for n in range(side))
        for version in range(25)
    ]
    post = ReplyFactory(topic=topic, author=member, body=texts[-1])
    PostRevision.objects.bulk_create(
        PostRevision(post=post, body=text, editor=member, created=post.created)
        for text in texts[:-1]
    )

    started = time.monotonic()
    html = _page(client, post)

    assert time.monotonic() - started < 1
    assert "<del>- " in html


def test_a_big_change_is_diffed_within_budget():
    before = "\n".join(str(n) for n in range(2_000))
    after = "\n".join(str(n) for n in range(2_000, 4_000))

    started = time.monotonic()
    lines = history.line_diff("head\n" + before + "\ntail", "head\n" + after + "\ntail")

    assert time.monotonic() - started < 0.5
    assert (lines[0], lines[-1]) == (("equal", "head"), ("equal", "tail"))
    assert [kind for kind, _ in lines[1:-1]] == ["delete"] * 2_000 + ["insert"] * 2_000


def test_unchanged_runs_are_cut_to_their_context():
    before = "\n".join(f"line {n}" for n in range(20))
    after = before.replace("line 10", "line ten")

    lines = history.line_diff(before, after)

    assert lines == [
        ("skip", "7"),
        *(("equal", f"line {n}") for n in range(7, 10)),
        ("delete", "line 10"),
        ("insert", "line ten"),
        *(("equal", f"line {n}") for n in range(11, 14)),
        ("skip", "6"),
    ]


def test_the_history_link_is_on_the_cached_thread_page(client, topic):
    post = opening_post(topic)
    url = f"/p/{post.pk}/history/"
    assert url not in client.get(topic.get_absolute_url()).content.decode()  # cached now

    _edit(post, "Changed")

    assert f'href="{url}"' in client.get(topic.get_absolute_url()).content.decode()


def test_the_selector_reads_the_post_and_its_revisions_in_two_queries(revised, member):
    post, _, _ = revised

    with CaptureQueriesContext(connection) as queries:
        read = selectors.post_history(post_id=post.pk, viewer=member, page=None)

    assert len(queries) == 2
    assert [version.number for version in read.versions] == [3, 2, 1]
    assert [version.current for version in read.versions] == [True, False, False]


# --- Hiding through the history page --------------------------------------------------------


def test_a_moderator_hides_a_version_from_the_history_page(client, revised, moderator):
    post, _, second = revised
    client.force_login(moderator)

    response = client.post(
        f"/p/{post.pk}/history/{second.pk}/", {"hidden": "1", "reason": "phone", "page": "1"}
    )

    assert response.status_code == 302
    assert response["Location"] == f"/p/{post.pk}/history/#r{second.pk}"
    assert PostRevision.objects.get(pk=second.pk).hidden
    assert ModerationAction.objects.get().reason == "phone"


@pytest.mark.parametrize(
    ("data", "status"),
    [
        ({"hidden": "1"}, 403),  # a member
        ({"hidden": "maybe"}, 400),
        ({}, 400),
    ],
)
def test_refused_hiding_changes_nothing(client, revised, member, moderator, data, status):
    post, _, second = revised
    client.force_login(member if status == 403 else moderator)

    response = client.post(f"/p/{post.pk}/history/{second.pk}/", data)

    assert response.status_code == status
    assert not PostRevision.objects.filter(hidden=True).exists()


def test_hiding_needs_a_post_and_a_login(client, revised, moderator):
    post, _, second = revised

    assert client.post(f"/p/{post.pk}/history/{second.pk}/", {"hidden": "1"}).status_code == 403
    client.force_login(moderator)
    assert client.get(f"/p/{post.pk}/history/{second.pk}/").status_code == 405
    assert client.post(f"/p/{post.pk + 50}/history/{second.pk}/", {"hidden": "1"}).status_code == (
        404
    )
    huge = 99_999_999_999_999_999_999
    for url in (f"/p/{post.pk}/history/{huge}/", f"/p/{huge}/history/{second.pk}/"):
        assert client.post(url, {"hidden": "1"}).status_code == 404
    assert client.get(f"/p/{post.pk}/history/?page=-1x").status_code == 200
    assert not PostRevision.objects.filter(hidden=True).exists()
