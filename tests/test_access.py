"""threads.selectors.access, and the proof that nothing shows a reader what they may not see.

First the filter itself: who sees and who moderates which category, and the
rights it annotates on what it reads. Then the leak test (`test_no_page_shows_
a_reader_what_they_may_not_see`): a forum with public, members-only and
groups-only categories (one with subcategories, one under a public category),
topics with replies in each, and a private author who also posts in public.
Every role fetches every page of it through the test client, and no page, list,
count, permalink or download shows them a topic they may not see: its pages are
a 404 (as for a topic that never existed), and its title, text, ids and
category appear nowhere they look. The thread-page cache cannot leak either,
and the access filter costs every reader the same number of queries.
"""

import re
from dataclasses import dataclass

import pytest
from django.contrib.auth.models import AnonymousUser
from django.db import connection
from django.template.defaultfilters import urlencode
from django.test.utils import CaptureQueriesContext

from threads import permissions, selectors, services
from threads.models import Category, Post, Topic, User
from threads.selectors import access, lists

from .factories import CategoryFactory, GroupFactory, TopicFactory, UserFactory, in_groups
from .helpers import opening_post

pytestmark = pytest.mark.django_db

ANONYMOUS = AnonymousUser()


def _under(slug: str) -> Category:
    """A category as stored now, to put a subcategory under (django-mptt reads its tree fields)."""
    return Category.objects.get(slug=slug)


def _slugs(categories) -> set[str]:
    """The slugs of these categories, but for the default one (General), which every forum has."""
    return set(categories.values_list("slug", flat=True)) - {"general"}


# --- Who sees a category ------------------------------------------------------------------


def test_every_rule_on_the_path_must_let_the_reader_in(db):
    first, second = GroupFactory(name="First"), GroupFactory(name="Second")
    CategoryFactory(slug="outer", who_sees="groups", seer_groups=[first])
    CategoryFactory(slug="inner", parent=_under("outer"), who_sees="groups", seer_groups=[second])
    CategoryFactory(slug="innermost", parent=_under("inner"), who_sees="everyone")
    CategoryFactory(slug="members", who_sees="members")
    CategoryFactory(slug="members-inner", parent=_under("members"), who_sees="everyone")
    readers = {
        "anonymous": ANONYMOUS,
        "no group": UserFactory(),
        "first": in_groups(UserFactory(), first),
        "second": in_groups(UserFactory(), second),
        "both": in_groups(UserFactory(), first, second),
    }

    seen = {name: _slugs(access.visible_categories(user)) for name, user in readers.items()}

    members = {"members", "members-inner"}
    assert seen == {
        "anonymous": set(),
        "no group": members,
        "first": {"outer"} | members,
        "second": members,  # inner lets them in, outer does not
        "both": {"outer", "inner", "innermost"} | members,
    }


def test_a_banned_member_still_reads_what_members_read(banned, staff_group):
    CategoryFactory(slug="members", who_sees="members")
    CategoryFactory(slug="staff", who_sees="groups", seer_groups=[staff_group])
    in_groups(banned, staff_group)

    assert _slugs(access.visible_categories(banned)) == {"members", "staff"}
    assert permissions.posting_refusal(banned) == permissions.SUSPENDED


# --- Rules and moderation follow the path -------------------------------------------------


def test_the_nearest_rule_set_on_the_path_decides(member, moderator):
    CategoryFactory(slug="top", who_starts="moderators")
    CategoryFactory(slug="mid", parent=_under("top"), who_replies="moderators")
    CategoryFactory(slug="leaf", parent=_under("mid"), who_starts="members")
    CategoryFactory(slug="plain")
    rules = {
        category.slug: (category.start_rule, category.reply_rule)
        for category in access.visible_categories(member).exclude(slug="general")
    }
    topic = TopicFactory(author=moderator, category=_under("leaf"))

    assert rules == {
        "top": ("moderators", "members"),
        "mid": ("moderators", "moderators"),
        "leaf": ("members", "moderators"),
        "plain": ("members", "members"),
    }
    assert access.topics_with_rights(member).get(pk=topic.pk).reply_rule == "moderators"
    post = access.one_post(access.posts_with_rights(member), opening_post(topic).pk)
    assert post.topic.reply_rule == "moderators"


def test_category_moderators_moderate_their_category_and_all_under_it(
    category_moderator, helpers_group, member, moderator, staff_group
):
    CategoryFactory(slug="top")
    CategoryFactory(
        slug="mid",
        parent=_under("top"),
        who_sees="groups",
        seer_groups=[staff_group],  # the Helpers are not among them, and see it all the same
        moderator_groups=[helpers_group],
    )
    CategoryFactory(slug="leaf", parent=_under("mid"))
    CategoryFactory(slug="elsewhere")
    in_leaf = TopicFactory(author=moderator, category=_under("leaf"))
    TopicFactory(author=moderator, category=_under("elsewhere"))

    moderated = {
        c.slug: c.moderated
        for c in access.visible_categories(category_moderator).exclude(slug="general")
    }

    assert moderated == {"top": False, "mid": True, "leaf": True, "elsewhere": False}
    assert _slugs(access.moderated_categories(category_moderator)) == {"mid", "leaf"}
    assert list(access.moderated_topics(category_moderator)) == [in_leaf]
    assert _slugs(access.moderated_categories(moderator)) == {"top", "mid", "leaf", "elsewhere"}
    assert access.moderated_topics(moderator).count() == 2
    assert not access.moderated_categories(member).exists()
    assert not access.moderated_topics(member).exists()

    category_moderator.is_active = False  # banned: moderates nothing, and sees mid no more

    assert not access.moderated_categories(category_moderator).exists()
    assert _slugs(access.visible_categories(category_moderator)) == {"top", "elsewhere"}


def test_with_rights_marks_what_a_reader_may_not_see(member, outsider, staff_group, group_member):
    CategoryFactory(slug="staff", who_sees="groups", seer_groups=[staff_group])
    hidden = TopicFactory(author=group_member, category=_under("staff"))

    assert not access.with_rights(Topic.objects.filter(pk=hidden.pk), outsider).get().visible
    assert access.with_rights(Topic.objects.filter(pk=hidden.pk), group_member).get().visible
    assert not access.topics_with_rights(outsider).filter(pk=hidden.pk).exists()
    assert not access.posts_with_rights(outsider).filter(topic=hidden).exists()
    with pytest.raises(services.NotFound):  # what every write to a topic goes through
        services.locks.lock_topic(hidden.pk, viewer=outsider)


def test_one_post_carries_the_rights_of_its_topic(category_moderator, helpers_group, member):
    CategoryFactory(slug="help", who_replies="moderators", moderator_groups=[helpers_group])
    topic = TopicFactory(author=category_moderator, category=_under("help"))

    for reader in (category_moderator, member):
        post = access.one_post(access.posts_with_rights(reader), opening_post(topic).pk)
        read = access.topics_with_rights(reader).get(pk=topic.pk)
        assert (post.topic.visible, post.topic.moderated, post.topic.reply_rule) == (
            read.visible,
            read.moderated,
            read.reply_rule,
        )
    assert post.topic.moderated is False  # the member's
    assert read.moderated is False
    assert permissions.reply_refusal(member, post.topic, post) is not None
    assert permissions.reply_refusal(category_moderator, topic) is not None  # not read for them


# --- The leak test ----------------------------------------------------------------------------
#
#   Town Square        everyone             square1..3, paulapublic
#     Whisper Backroom groups (Staff)       whisper
#   Help Desk          everyone; moderated by the Helpers   helpdesk
#   Velvet Lounge      members              lounge
#   Obsidian Room      groups (Staff)       obsidian
#     Obsidian Archive "" (as its parent)   obsarchive
#     Obsidian Open    "everyone" (cannot widen its parent)   obsopen
#
# Every topic has a reply and a reply to that. Paula, of the Staff group, writes
# the private topics and also a public topic and public replies.

CATEGORIES = {
    # slug: (name, parent, rules)
    "square": ("Town Square", None, {}),
    "whisper": ("Whisper Backroom", "square", {"who_sees": "groups"}),
    "helpdesk": ("Help Desk", None, {}),
    "lounge": ("Velvet Lounge", None, {"who_sees": "members"}),
    "obsidian": ("Obsidian Room", None, {"who_sees": "groups"}),
    "obsidian-archive": ("Obsidian Archive", "obsidian", {}),
    "obsidian-open": ("Obsidian Open", "obsidian", {"who_sees": "everyone"}),
}
TOPICS = {
    # key: category slug
    "square1": "square",
    "square2": "square",
    "square3": "square",
    "paulapublic": "square",
    "helpdesk": "helpdesk",
    "lounge": "lounge",
    "obsidian": "obsidian",
    "obsarchive": "obsidian-archive",
    "obsopen": "obsidian-open",
    "whisper": "whisper",
}
PUBLIC = {"square", "helpdesk"}
PRIVATE = {"whisper", "obsidian", "obsidian-archive", "obsidian-open"}
ROLES = [
    "anonymous",
    "member",
    "group_member",
    "outsider",
    "category_moderator",  # of Help Desk
    "moderator",
    "members_only_anonymous",
]
SEES = {
    "anonymous": PUBLIC,
    "member": PUBLIC | {"lounge"},
    "group_member": set(CATEGORIES),
    "outsider": PUBLIC | {"lounge"},
    "category_moderator": PUBLIC | {"lounge"},
    "moderator": set(CATEGORIES),
    # what the access filter lets through; every page sends them to log in first
    "members_only_anonymous": PUBLIC,
}
TOPICS_PER_PAGE = 2  # so that the lists have pages
GHOST = 999_999  # an id nothing has


def _markers(key: str) -> list[str]:
    """Strings that only this topic's pages show: its title, its posts' text (lower case)."""
    return [f"zq{key}title", f"zq{key}body", f"zq{key}reply", f"zq{key}deep"]


@dataclass
class Forum:
    topics: dict[str, Topic]
    posts: dict[str, list[Post]]  # each topic's posts, the opening post first
    users: dict[str, User | AnonymousUser]
    paula: User

    @staticmethod
    def outside(sees: set[str]) -> list[str]:
        """The topics in categories other than these."""
        return [key for key, slug in TOPICS.items() if slug not in sees]

    @staticmethod
    def inside(sees: set[str]) -> list[str]:
        return [key for key, slug in TOPICS.items() if slug in sees]


@pytest.fixture
def forum(
    monkeypatch,
    member,
    other_member,
    group_member,
    outsider,
    category_moderator,
    moderator,
    staff_group,
    helpers_group,
) -> Forum:
    monkeypatch.setattr(lists, "TOPICS_PER_PAGE", TOPICS_PER_PAGE)
    for slug, (name, parent, rules) in CATEGORIES.items():
        CategoryFactory(
            slug=slug,
            name=name,
            parent=_under(parent) if parent else None,
            seer_groups=[staff_group] if rules.get("who_sees") == "groups" else [],
            moderator_groups=[helpers_group] if slug == "helpdesk" else [],
            **rules,
        )
    paula = in_groups(UserFactory(username="paula"), staff_group)
    topics, posts = {}, {}
    for key, slug in TOPICS.items():
        private = slug not in PUBLIC | {"lounge"}
        author = paula if private or key == "paulapublic" else other_member
        replier = group_member if private else member
        topic = TopicFactory(
            author=author,
            category=_under(slug),
            title=f"Topic zq{key}title",
            body=f"Opening zq{key}body.",
        )
        reply = services.post_reply(author=replier, topic=topic, body=f"Reply zq{key}reply.")
        deep = services.post_reply(
            author=paula, topic=topic, parent=reply, body=f"Deep zq{key}deep"
        )
        # In the moderation log, with the topic's title.
        services.topic_set_pinned(topic=topic, moderator=moderator, pinned=True)
        topics[key] = Topic.objects.get(pk=topic.pk)
        posts[key] = [opening_post(topic), reply, deep]
    users = {
        "anonymous": AnonymousUser(),
        "member": other_member,
        "group_member": group_member,
        "outsider": outsider,
        "category_moderator": category_moderator,
        "moderator": moderator,
        "members_only_anonymous": AnonymousUser(),
    }
    return Forum(topics=topics, posts=posts, users=users, paula=paula)


def _log_in(client, settings, forum: Forum, role: str) -> None:
    if role == "members_only_anonymous":
        settings.FORUM_LOGIN_REQUIRED = True
    elif role != "anonymous":
        client.force_login(forum.users[role])


def _topic_urls(topic_id: int, slug: str) -> list[str]:
    return [
        f"/t/{topic_id}-{slug}/",
        f"/t/{topic_id}/",
        f"/t/{topic_id}/download.md",
        f"/t/{topic_id}/reply/",
    ]


def _post_urls(post_id: int) -> list[str]:
    return [
        f"/p/{post_id}/",
        f"/p/{post_id}/thread/",
        f"/p/{post_id}/reply/",
        f"/p/{post_id}/edit/",
        f"/p/{post_id}/delete/",
    ]


def _category_urls(slug: str) -> list[str]:
    return [f"/c/{slug}/", f"/c/{slug}/?page=2", f"/c/{slug}/?page=99"]


def _pages_about(forum: Forum, key: str) -> list[tuple[str, str]]:
    """The pages of one topic and its posts, each with the same page of nothing that exists."""
    topic = forum.topics[key]
    pages = list(zip(_topic_urls(topic.pk, topic.slug), _topic_urls(GHOST, "ghost"), strict=True))
    for post in forum.posts[key]:
        pages += zip(_post_urls(post.pk), _post_urls(GHOST), strict=True)
    return pages


def _general_pages(forum: Forum) -> list[str]:
    """Every page that is not one topic's: lists, profiles and their cursors, the new-topic form."""
    pages = ["/", "/?page=nonsense", "/?page=99", "/t/new/"]
    pages += [f"/?page={number}" for number in range(1, len(TOPICS) // TOPICS_PER_PAGE + 2)]
    pages += [f"/t/new/?category={slug}" for slug in CATEGORIES]
    for username in ("alice", "bob", "erin", "frank", "carol", "mod", "paula"):
        pages.append(f"/u/{username}/")
    for posts in forum.posts.values():
        for post in posts:
            if post.author_id == forum.paula.pk:  # paging from each of her posts, seen or not
                pages += [f"/u/paula/?before={post.pk}", f"/u/paula/?after={post.pk}"]
    # Searches: for what every topic has, each one's posts, and paula's.
    pages += ["/search/?q=opening", "/search/?q=topic&sort=newest", "/search/?q=deep+@paula"]
    pages += ["/search/?q=reply+-deep&page=2", "/search/?q=zq"]
    pages += [f"/search/?q=opening&topic={topic.pk}" for topic in forum.topics.values()]
    # The moderation log, which names every topic (each was pinned).
    pages += ["/moderation/", "/moderation/?page=2"]
    return pages


def _html(response, url: str) -> str:
    """A page as text, without its echoes of the address that was asked for.

    The login link's `next`, and the form (or link) that sends typed text again to where
    it was sent.
    """
    text = response.content.decode()
    text = text.replace(f'<form method="post" action="{url}"', '<form method="post" action=""')
    text = text.replace(f'<a href="{url}">Open the form again', '<a href="">Open the form again')
    return text.replace(f"next={urlencode(url)}", "next=").lower()


def _traces(forum: Forum, key: str) -> list[str]:
    """What would show a topic: its strings, its category's name, links to it and its posts."""
    topic = forum.topics[key]
    traces = [*_markers(key), CATEGORIES[TOPICS[key]][0].lower()]
    traces += [f"/t/{topic.pk}-", f"/t/{topic.pk}/"]
    for post in forum.posts[key]:
        traces += [f"/p/{post.pk}/", f'#p{post.pk}"', f'id="p{post.pk}"']
        traces += [f"before={post.pk}", f"after={post.pk}"]
    return traces


def _leaks(html: str, forum: Forum, hidden: list[str]) -> list[str]:
    return [trace for key in hidden for trace in _traces(forum, key) if trace in html]


def _state():
    """Everything a page could write, to check that nothing was."""
    return (
        list(Topic.objects.order_by("pk").values_list()),
        list(Post.objects.order_by("pk").values_list()),
        list(Category.objects.order_by("pk").values_list()),
    )


def _visible_categories_of(response) -> list[str]:
    return [category.slug for category in response.context["categories"]]


@pytest.mark.parametrize("role", ROLES)
def test_no_page_shows_a_reader_what_they_may_not_see(client, settings, forum, role):
    _log_in(client, settings, forum, role)
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "searches_per_address": None}
    members_only = role == "members_only_anonymous"
    sees = set() if members_only else SEES[role]  # a members-only forum shows visitors nothing
    hidden, shown = forum.outside(sees), forum.inside(sees)
    seen: dict[str, str] = {}  # every page the reader got, by address

    def fetch(url: str):
        response = client.get(url)
        assert response.status_code < 500, url
        if members_only:
            assert response.status_code == 302, url
            assert response["Location"].startswith("/accounts/login/?next="), url
        seen[url] = _html(response, url)
        return response

    # The pages of a topic one may not see answer as for a topic that does not exist: a 404,
    # or, for a visitor, the way to log in that every form (and a members-only forum) shows.
    for key in hidden:
        for url, ghost in _pages_about(forum, key):
            response, nothing = fetch(url), client.get(ghost)
            assert response.status_code == nothing.status_code, url
            if response.status_code == 302:
                assert not client.session.get("_auth_user_id"), url
                assert response["Location"].startswith("/accounts/login/?next="), url
            else:
                assert response.status_code == 404, url
    for slug in set(CATEGORIES) - sees:
        for url, ghost in zip(_category_urls(slug), _category_urls("ghost"), strict=True):
            assert (
                fetch(url).status_code
                == client.get(ghost).status_code
                == (302 if members_only else 404)
            ), url

    # Those one may see are there, whole.
    for key in shown:
        for url, _ghost in _pages_about(forum, key):
            assert fetch(url).status_code != 404, url
    for slug in sees:
        for url in _category_urls(slug):
            assert fetch(url).status_code == 200, url
    general = {url: fetch(url) for url in _general_pages(forum)}

    for url, html in seen.items():
        assert _leaks(html, forum, hidden) == [], url
    if members_only:
        return

    for key in shown:
        topic = forum.topics[key]
        page = seen[f"/t/{topic.pk}-{topic.slug}/"]
        assert all(marker in page for marker in _markers(key)), key
        assert all(marker in seen[f"/t/{topic.pk}/download.md"] for marker in _markers(key)), key
    for slug in sees:
        listed = "".join(seen[url] for url in _category_urls(slug))
        assert all(f"zq{key}title" in listed for key in forum.inside({slug})), slug
    index_pages = [url for url in general if url.startswith("/?page=")]
    listed = "".join(seen[url] for url in index_pages)
    assert all(f"zq{key}title" in listed for key in shown)
    found = general["/search/?q=opening"].context["found"]
    assert found.total == len(shown)
    assert all(f"zq{key}body" in seen["/search/?q=opening"] for key in shown)
    front = general["/"]
    assert front.context["page"].paginator.count == len(shown)
    assert set(_visible_categories_of(front)) == SEES[role] | {"general"}
    for category in front.context["categories"]:  # stored counts: its own topics only
        assert category.topic_count == sum(1 for slug in TOPICS.values() if slug == category.slug)
    square = client.get("/c/square/")
    assert square.context["page"].paginator.count == 4
    assert [c.slug for c in square.context["subcategories"]] == (
        ["whisper"] if "whisper" in SEES[role] else []
    )
    profile = "".join(html for url, html in seen.items() if url.startswith("/u/paula/"))
    for key in shown:
        if forum.topics[key].author_id == forum.paula.pk:
            assert f"zq{key}title" in profile, key
        assert f"zq{key}deep" in profile, key  # paula wrote every deepest reply


@pytest.mark.parametrize("role", ROLES)
def test_the_new_topic_form_offers_no_category_one_may_not_see(client, settings, forum, role):
    _log_in(client, settings, forum, role)
    if role in {"anonymous", "members_only_anonymous"}:
        assert client.get("/t/new/").status_code == 302
    for slug in CATEGORIES:
        response = client.get(f"/t/new/?category={slug}")
        html = _html(response, f"/t/new/?category={slug}")
        offered = set(re.findall(r'<option value="([^"]*)"', html))
        visitor = role in {"anonymous", "members_only_anonymous"}
        assert offered == (set() if visitor else SEES[role] | {"general"}), slug
        assert [hidden for hidden in set(CATEGORIES) - SEES[role] if hidden in html] == [], slug


@pytest.mark.parametrize("role", ROLES)
def test_the_place_of_a_write_is_found_only_where_the_reader_sees(forum, role):
    """access.place_of, the one query of a reply sent, agrees with the filter."""
    viewer = forum.users[role]
    seen = forum.inside(SEES[role])
    for key in TOPICS:
        topic = forum.topics[key]
        if key in seen:
            assert access.place_of(viewer, topic_id=topic.pk) == topic.pk
        else:
            with pytest.raises(Topic.DoesNotExist):
                access.place_of(viewer, topic_id=topic.pk)
        for post in forum.posts[key]:
            if key in seen:
                assert access.place_of(viewer, post_id=post.pk) == topic.pk
            else:
                with pytest.raises(Post.DoesNotExist):
                    access.place_of(viewer, post_id=post.pk)
        assert (key in seen) == access.visible_topics(viewer).filter(pk=topic.pk).exists()
    for ghost in (GHOST, 2**63, -(2**63) - 1, 2**70):
        with pytest.raises(Post.DoesNotExist):
            access.place_of(viewer, post_id=ghost)
        with pytest.raises(Topic.DoesNotExist):
            access.place_of(viewer, topic_id=ghost)


@pytest.mark.parametrize("role", ROLES)
def test_no_form_writes_where_a_reader_may_not_see(client, settings, forum, role):
    """Replies, edits, deletions and new topics, sent straight to what one may not see."""
    _log_in(client, settings, forum, role)
    # What the access filter hides. (A visitor of a members-only forum who posts a form to a
    # topic the filter would show them: test_a_members_only_forum_shows_no_topic_to_a_visitor_...)
    hidden = forum.outside(SEES[role])
    before = _state()
    # A visitor of a members-only forum gets their text back to send after logging in,
    # whatever the address: the same answer for what exists and what does not.
    refused = 403 if role == "members_only_anonymous" else 404

    for key in hidden:
        topic = forum.topics[key]
        sent = [(f"/t/{topic.pk}/reply/", {"body": "probe zqprobe"})]
        for post in forum.posts[key]:
            sent += [
                (f"/p/{post.pk}/reply/", {"body": "probe zqprobe"}),
                (f"/p/{post.pk}/edit/", {"body": "probe zqprobe", "title": "zqprobe"}),
                (f"/p/{post.pk}/delete/", {}),
            ]
        for url, data in sent:
            response = client.post(url, data)
            assert response.status_code == refused, url
            assert _leaks(_html(response, url), forum, hidden) == [], url
    for slug in set(CATEGORIES) - SEES[role]:
        data = {"category": slug, "title": "New zqprobe", "body": "probe zqprobe"}
        response = client.post("/t/new/", data)
        if role == "members_only_anonymous":
            assert response.status_code == 403, slug
            assert "You are not logged in" in response.content.decode()
        else:
            assert response.status_code == 400, slug
            assert "Choose one of the categories listed." in response.content.decode()
        assert _leaks(_html(response, "/t/new/"), forum, hidden) == [], slug

    assert _state() == before


def test_a_members_only_forum_shows_no_topic_to_a_visitor_who_posts(client, members_only, forum):
    topic, post = forum.topics["square1"], forum.posts["square1"][1]
    pages = {
        f"/t/{topic.pk}/reply/": {"body": "typed"},
        f"/p/{post.pk}/reply/": {"body": "typed"},
        f"/p/{post.pk}/edit/": {"body": "typed"},
    }

    responses = {url: client.post(url, data) for url, data in pages.items()}
    shown = {
        url: [m for m in _markers("square1") if m in _html(response, url)]
        for url, response in responses.items()
    }

    assert shown == {url: [] for url in pages}
    for url, response in responses.items():
        assert response.status_code == 403
        assert "You are not logged in" in response.content.decode()
        assert '<textarea name="body" id="id_body" rows="8" maxlength="50000" required>typed' in (
            response.content.decode()
        ), url


def test_what_a_member_of_the_group_writes_there_stays_among_them(client, forum):
    erin, frank = forum.users["group_member"], forum.users["outsider"]
    topic = forum.topics["obsarchive"]
    client.force_login(erin)

    replied = client.post(f"/t/{topic.pk}/reply/", {"body": "Reply zqerinreply"})
    started = client.post(
        "/t/new/", {"category": "obsidian-open", "title": "zqerintitle", "body": "zqerinbody"}
    )

    assert replied.status_code == started.status_code == 302
    new = Topic.objects.get(title="zqerintitle")
    assert new.category.slug == "obsidian-open"
    client.force_login(frank)
    for url in ["/", "/u/erin/", "/c/square/", *_topic_urls(new.pk, new.slug)]:
        html = client.get(url).content.decode()
        assert "zqerin" not in html, url
        assert f"/t/{new.pk}-" not in html, url
        assert f"/t/{new.pk}/" not in html, url
    assert client.get(f"/t/{new.pk}/").status_code == 404


def test_the_shared_cache_cannot_show_a_page_to_a_reader_who_may_not_see_it(
    client, forum, django_assert_num_queries
):
    topic, deep = forum.topics["obsidian"], forum.posts["obsidian"][2]
    url = topic.get_absolute_url()
    client.force_login(forum.users["group_member"])
    assert client.get(url).status_code == 200  # builds the page and caches it
    with django_assert_num_queries(3):  # session, member, topic row: the posts are cached
        assert "zqobsidiandeep" in client.get(url).content.decode()

    for role in ("outsider", "member", "category_moderator"):
        client.force_login(forum.users[role])
        for page in (url, f"/t/{topic.pk}/", f"/p/{deep.pk}/", f"/p/{deep.pk}/thread/"):
            response = client.get(page)
            assert response.status_code == 404, (role, page)
            assert "zqobsidian" not in response.content.decode(), (role, page)
    client.logout()
    assert client.get(url).status_code == 404


# --- The access filter costs every reader the same ---------------------------------------------

COUNTED_ROLES = ["anonymous", "member", "group_member", "outsider", "category_moderator"]


@pytest.mark.parametrize("role", [*COUNTED_ROLES, "moderator"])
def test_lists_cost_every_reader_the_same_queries(forum, role, django_assert_num_queries):
    viewer = forum.users[role]
    permissions.is_moderator(viewer)  # Django reads a member's permissions once per request

    with django_assert_num_queries(2):  # the categories, a page of topics
        selectors.category_index(viewer=viewer, page=2)
    with django_assert_num_queries(2):  # the category with its subcategories, a page of topics
        selectors.category_page(viewer=viewer, slug="square", page=2)


# What Django reads for a logged-in request, whatever the page: the session, the member,
# and (for staff) their permissions.
_AUTH_TABLES = {"django_session", "threads_user", "auth_permission", "auth_group"}


def _page_queries(client, url: str) -> list[str]:
    """The queries of a page, but for the session and the member: the forum's own."""
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url).status_code == 200
    return [
        query["sql"]
        for query in queries
        if re.search(r'\bFROM "(\w+)"', query["sql"]).group(1) not in _AUTH_TABLES
    ]


@pytest.mark.parametrize("url", ["/", "/?page=3", "/c/square/", "/c/square/?page=2"])
def test_pages_cost_every_reader_the_same_queries(client, forum, url):
    counts = {}
    for role in [*COUNTED_ROLES, "moderator"]:
        client.logout()
        if role != "anonymous":
            client.force_login(forum.users[role])
        counts[role] = len(_page_queries(client, url))

    assert len(set(counts.values())) == 1, counts
