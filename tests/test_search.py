"""The search index and the search selector, on whichever database the suite runs on."""

from datetime import timedelta

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from threads import conversation, selectors, services
from threads.models import PostSearch
from threads.search_query import parse
from threads.selectors import search as search_module
from threads.selectors.search import Sort, marked

from .factories import (
    CategoryFactory,
    GroupFactory,
    ReplyFactory,
    TopicFactory,
    importer,
    in_groups,
)
from .helpers import opening_post

pytestmark = pytest.mark.django_db
anonymous = AnonymousUser()


def found(text: str, viewer=anonymous, **options) -> list[int]:
    return [result.post_id for result in search(text, viewer, **options).results]


def search(text: str, viewer=anonymous, **options):
    return selectors.search_results(viewer=viewer, query=parse(text), **options)


def test_a_post_is_found_by_its_words_and_a_topic_by_its_title(member):
    topic = TopicFactory(author=member, title="Backups with borg", body="I keep *snapshots*.")
    reply = ReplyFactory(topic=topic, author=member, body="Use **zstd** compression.")
    assert found("snapshots") == [opening_post(topic).pk]
    assert found("zstd compression") == [reply.pk]
    assert found("borg") == [opening_post(topic).pk]
    assert found("nothinglikethis") == []


def test_stems_match_and_markdown_syntax_is_not_text(member):
    topic = TopicFactory(author=member, body="Restoring [the server](https://example.com/hidden).")
    assert found("restore servers") == [opening_post(topic).pk]
    assert found("hidden") == []


@pytest.mark.parametrize(
    "text", ["script", "usb", "evil example", "example", "bob", "conf", '"x js"', "alert"]
)
def test_words_in_tags_hosts_paths_and_addresses_are_words(member, text):
    body = "`<script>alert(1)</script>` at evil.example/x.js, /mnt/usb/restic, bob@example.org"
    body += ", a.conf"
    topic = TopicFactory(author=member, title="<b>Odd</b> words", body=body)
    assert found(text) == [opening_post(topic).pk]
    assert found("odd") == [opening_post(topic).pk]


def test_a_result_carries_its_topic_category_author_time_and_permalink(member):
    category = CategoryFactory(name="Storage", slug="storage")
    topic = TopicFactory(author=member, title="Pools", body="A zpool scrub.", category=category)
    (result,) = search("scrub").results
    post = opening_post(topic)
    assert (result.post_id, result.topic_id, result.topic_title) == (post.pk, topic.pk, "Pools")
    assert (result.category_name, result.category_slug) == ("Storage", "storage")
    assert result.author_username == "alice"
    assert result.created == post.created
    assert result.url == f"/p/{post.pk}/"
    assert "<mark>scrub</mark>" in result.snippet_html


def test_title_words_rank_above_body_words(member):
    in_body = TopicFactory(author=member, title="Something", body="About kernels and more words")
    in_title = TopicFactory(author=member, title="Kernels", body="Nothing to see here at all")
    assert found("kernels") == [opening_post(in_title).pk, opening_post(in_body).pk]


def test_newest_first(member):
    first = TopicFactory(author=member, title="Kernels kernels", body="kernel")
    second = TopicFactory(author=member, body="kernel once")
    assert found("kernel", sort=Sort.NEWEST) == [opening_post(second).pk, opening_post(first).pk]


def test_phrases_exclusions_and_filters(member, other_member):
    category = CategoryFactory(name="Net", slug="net")
    sub = CategoryFactory(name="Wifi", slug="wifi", parent=category)
    a = TopicFactory(author=member, body="the quick brown fox", category=sub)
    b = TopicFactory(author=other_member, body="brown quick fox")
    c = ReplyFactory(topic=b, author=member, body="quick brown dog")
    a_post, b_post = opening_post(a).pk, opening_post(b).pk
    assert sorted(found("quick brown")) == sorted([a_post, b_post, c.pk])
    assert sorted(found('"quick brown"')) == sorted([a_post, c.pk])
    assert found('"quick brown" -dog') == [a_post]
    assert found('quick -"brown dog" -"brown fox"') == [b_post]
    assert sorted(found("quick author:alice")) == sorted([a_post, c.pk])
    assert found("quick @bob") == [b_post]
    assert found("quick in:net") == [a_post]  # subcategories too
    assert found("quick in:wifi") == [a_post]
    assert sorted(found(f"quick topic:{b.pk}")) == sorted([b_post, c.pk])
    assert found("quick author:nobody") == []
    assert found("quick in:nowhere") == []


def test_an_edited_post_is_found_by_its_new_words_only(member):
    topic = TopicFactory(author=member, body="old wording")
    post = opening_post(topic)
    services.post_edit(post=post, editor=member, body="new phrasing")
    assert found("old") == []
    assert found("phrasing") == [post.pk]


def test_a_new_title_is_found_and_the_old_one_is_not(member, moderator):
    topic = TopicFactory(author=member, title="Alpha", body="text")
    ReplyFactory(topic=topic, author=member, body="reply text")
    services.topic_retitle(topic=topic, moderator=moderator, title="Omega")
    assert found("alpha") == []
    assert found("omega") == [opening_post(topic).pk]


def test_removed_and_deleted_posts_are_gone_and_come_back_when_restored(member, moderator):
    topic = TopicFactory(author=member, body="opening")
    removed = ReplyFactory(topic=topic, author=member, body="secret words")
    deleted = ReplyFactory(topic=topic, author=member, body="regretted words")
    services.post_remove(post=removed, moderator=moderator, reason="spam")
    services.post_delete(post=deleted, user=member)
    assert found("words") == []
    assert found("words", moderator) == []  # moderators find them in the admin, not here
    assert search("words").total == 0
    services.post_restore(post=removed, moderator=moderator)
    assert found("secret") == [removed.pk]


def test_a_removed_opening_post_takes_the_title_with_it(member, moderator):
    topic = TopicFactory(author=member, title="Unwanted", body="body")
    services.post_remove(post=opening_post(topic), moderator=moderator, reason="spam")
    assert found("unwanted") == []
    services.post_restore(post=opening_post(topic), moderator=moderator)
    assert found("unwanted") == [opening_post(topic).pk]


def test_a_deleted_topic_leaves_nothing_behind(member, moderator):
    topic = TopicFactory(author=member, body="doomed")
    ReplyFactory(topic=topic, author=member, body="doomed too")
    services.topic_delete(topic=topic, moderator=moderator)
    assert found("doomed") == []
    assert not PostSearch.objects.exists()


def test_moved_posts_and_topics_are_found_where_they_are(member, moderator):
    private = CategoryFactory(slug="staff", who_sees="members")
    topic = TopicFactory(author=member, body="wandering")
    other = TopicFactory(author=member, body="elsewhere")
    reply = ReplyFactory(topic=topic, author=member, body="moving reply")
    services.post_move(post=reply, moderator=moderator, new_parent=None, topic=other)
    assert search(f"moving topic:{other.pk}").results[0].topic_id == other.pk
    services.topic_move(topic=topic, moderator=moderator, category=private)
    assert found("wandering") == []
    assert found("wandering", member) == [opening_post(topic).pk]


def test_a_private_category_is_never_found_nor_counted(member, other_member):
    group = GroupFactory(name="Staff")
    staff = CategoryFactory(slug="staff", who_sees="groups", seer_groups=[group])
    members = CategoryFactory(slug="members", who_sees="members")
    TopicFactory(author=member, body="needle public")
    staff_topic = TopicFactory(author=in_groups(member, group), body="needle staff", category=staff)
    members_topic = TopicFactory(author=member, body="needle members", category=members)
    outsider = other_member
    assert search("needle").total == 1
    assert search("needle", outsider).total == 2
    assert opening_post(staff_topic).pk not in found("needle", outsider)
    assert found("staff", outsider) == []
    assert found("needle in:staff", outsider) == []
    assert found(f"needle topic:{staff_topic.pk}", outsider) == []
    assert search("needle", member).total == 3
    assert opening_post(members_topic).pk in found("needle", member)


def test_the_index_is_written_in_the_same_transaction_as_the_post(member):
    topic = TopicFactory(author=member, body="first")
    seen_inside = []

    def reply_then_fail():
        with transaction.atomic():
            ReplyFactory(topic=topic, author=member, body="never committed")
            seen_inside.extend(found("committed"))
            raise RuntimeError

    with pytest.raises(RuntimeError):
        reply_then_fail()
    assert seen_inside
    assert found("committed") == []


def test_imported_posts_are_found(member):
    text = "### Imported\n\n- @carol [2024-01-02T03:04:05Z]: hello from the archive\n"
    document = conversation.read(text.encode(), filename="x.md")
    services.conversation_import(documents=[document], moderator=importer())
    assert [r.author_username for r in search("archive").results] == ["carol"]


def test_reindex_writes_every_visible_post_again(member, moderator):
    topic = TopicFactory(author=member, title="Rebuilt", body="kept")
    removed = ReplyFactory(topic=topic, author=member, body="gone")
    services.post_remove(post=removed, moderator=moderator, reason="x")
    PostSearch.objects.all().delete()
    assert found("kept") == []
    assert services.search_reindex() == 1
    assert found("kept") == found("rebuilt") == [opening_post(topic).pk]
    assert found("gone") == []


def test_snippets_are_escaped_text_with_only_the_matches_marked(member):
    body = 'needle <script>alert(1)</script> `<img src=x onerror=alert(1)>` needle & "q"'
    TopicFactory(author=member, title="<b>needle</b> title", body=body)
    (result,) = search("needle").results
    assert "<script" not in result.snippet_html
    assert "<img" not in result.snippet_html
    assert "&lt;img src=x onerror=alert(1)&gt;" in result.snippet_html
    assert result.snippet_html.count("<mark>needle</mark>") == 2
    assert result.title_html == "&lt;b&gt;<mark>needle</mark>&lt;/b&gt; title"


def test_marks_that_do_not_pair_are_dropped():
    assert marked("\x02a\x03 \x03b\x02 <c>") == "<mark>a</mark> b &lt;c&gt;"
    assert marked("\x02\x02a\x03") == "<mark>a</mark>"


def test_pages_count_up_to_the_candidates(member, monkeypatch):
    monkeypatch.setattr(search_module, "CANDIDATES", 25)
    topic = TopicFactory(author=member, body="many")
    start = timezone.now()
    for n in range(30):
        ReplyFactory(
            topic=topic, author=member, body=f"many {n}", created=start + timedelta(seconds=n)
        )
    first = search("many", member)
    assert (first.total, first.more, first.pages, len(first.results)) == (25, True, 2, 20)
    second = search("many", member, page=2)
    assert (len(second.results), second.has_next, second.has_previous) == (5, False, True)
    assert {r.post_id for r in first.results}.isdisjoint(r.post_id for r in second.results)
    assert search("many", member, page=3).page == 2  # no page past the candidates
    past = search('"many 29"', member, page=2)
    assert (past.results, past.total, past.page) == ([], None, 2)


def test_an_old_post_is_found_past_newer_ones_that_do_not_match(member, monkeypatch):
    monkeypatch.setattr(search_module, "CANDIDATES", 3)
    topic = TopicFactory(author=member, body="rare word")
    for n in range(5):
        ReplyFactory(topic=topic, author=member, body=f"common {n}")
    assert found("rare") == [opening_post(topic).pk]
    assert found("rare", sort=Sort.NEWEST) == [opening_post(topic).pk]


@pytest.mark.parametrize("page", ["0", "-1", "x", "", None, "99999999999999999999"])
def test_any_page_number_is_a_page(member, page):
    TopicFactory(author=member, body="word")
    assert search("word", page=page).page >= 1


def test_a_search_is_two_queries_whatever_it_finds(member):
    topic = TopicFactory(author=member, body="common")
    for n in range(5):
        ReplyFactory(topic=topic, author=member, body=f"common {n}")
    for text in ("common", '"common 1" -zzz author:alice in:general', "absent"):
        with CaptureQueriesContext(connection) as queries:
            search(text, member)
        assert len(queries) == (1 if text == "absent" else 2), text


@pytest.mark.django_db(transaction=True)
def test_the_migration_indexes_the_posts_written_before_it(member, moderator):
    from django.db.migrations.executor import MigrationExecutor

    topic = TopicFactory(author=member, title="Written before", body="an older post")
    removed = ReplyFactory(topic=topic, author=member, body="an older removed post")
    services.post_remove(post=removed, moderator=moderator, reason="x")
    before, latest = [("threads", "0012_topic_description")], [("threads", "0013_search")]

    MigrationExecutor(connection).migrate(before)
    executor = MigrationExecutor(connection)  # the graph as it now is
    executor.migrate(latest)
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())  # the schema the models read

    assert found("older") == found("written") == [opening_post(topic).pk]
    entry = PostSearch.objects.get()
    assert (entry.topic_id, entry.category_id, entry.author_id) == (
        topic.pk,
        topic.category_id,
        member.pk,
    )
