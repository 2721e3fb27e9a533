"""The sitemap (its index, the categories, pages of topics) and robots.txt."""

import math
import xml.etree.ElementTree as ET

import pytest

from threads import services
from threads.views import sitemaps

from .factories import CategoryFactory, TopicFactory
from .helpers import opening_post

pytestmark = pytest.mark.django_db

SITE = "https://forum.example.org"
MAP = "{http://www.sitemaps.org/schemas/sitemap/0.9}"


@pytest.fixture(autouse=True)
def site(settings):
    settings.FORUM_SITE_URL = SITE


@pytest.fixture(autouse=True)
def one_page(monkeypatch):
    """Every topic on the first page, whatever ids the database gives (PostgreSQL's
    sequences are not rolled back between tests); the tests of pages set their own."""
    monkeypatch.setattr(sitemaps.TopicSitemap, "limit", 10**12)


def _locations(response) -> list[str]:
    assert response.status_code == 200
    assert response["Content-Type"] == "application/xml"
    return [loc.text for loc in ET.fromstring(response.content).iter(f"{MAP}loc")]


def _urls(response) -> dict[str, str | None]:
    """Each URL of a section with its lastmod."""
    assert response.status_code == 200
    return {
        url.findtext(f"{MAP}loc"): url.findtext(f"{MAP}lastmod")
        for url in ET.fromstring(response.content).iter(f"{MAP}url")
    }


def test_the_index_names_each_section_on_the_site_url_whatever_the_host(client, topic, settings):
    settings.ALLOWED_HOSTS = ["*"]

    response = client.get("/sitemap.xml", headers={"host": "attacker.example"})

    assert _locations(response) == [f"{SITE}/sitemap-categories.xml", f"{SITE}/sitemap-topics.xml"]
    assert response["X-Robots-Tag"] == "noindex, noodp, noarchive"
    assert response["Last-Modified"]


def test_the_sections_list_categories_and_topics_with_their_last_activity(
    client, topic, member, settings
):
    settings.ALLOWED_HOSTS = ["*"]
    hardware = CategoryFactory(name="Hardware")
    CategoryFactory(name="Empty")
    other = TopicFactory(author=member, title="Disks & more", category=hardware)

    categories = _urls(client.get("/sitemap-categories.xml", headers={"host": "attacker.example"}))
    topics = _urls(client.get("/sitemap-topics.xml"))

    assert categories == {
        f"{SITE}/c/general/": topic.last_activity.isoformat(),
        f"{SITE}/c/hardware/": other.last_activity.isoformat(),
        f"{SITE}/c/empty/": None,
    }
    assert topics == {
        f"{SITE}/t/{topic.pk}-a-first-topic/": topic.last_activity.isoformat(),
        f"{SITE}/t/{other.pk}-disks-more/": other.last_activity.isoformat(),
    }


def test_private_categories_and_topics_are_in_no_sitemap(client, member, group_member, staff_group):
    lounge = CategoryFactory(name="Lounge", who_sees="members")
    backroom = CategoryFactory(name="Backroom", who_sees="groups", seer_groups=[staff_group])
    inner = CategoryFactory(name="Inner", parent=backroom, who_sees="everyone")
    public = TopicFactory(author=member, title="Public")
    for category in (lounge, backroom, inner):
        TopicFactory(author=group_member, category=category)
    client.force_login(group_member)  # whoever asks

    assert list(_urls(client.get("/sitemap-categories.xml"))) == [f"{SITE}/c/general/"]
    assert list(_urls(client.get("/sitemap-topics.xml"))) == [f"{SITE}/t/{public.pk}-public/"]


def test_a_page_is_a_range_of_ids_whatever_is_missing_from_it(
    client, member, group_member, moderator, staff_group, monkeypatch
):
    """Deleted and private topics leave holes: a page may hold fewer, or none."""
    monkeypatch.setattr(sitemaps.TopicSitemap, "limit", 2)
    backroom = CategoryFactory(name="Backroom", who_sees="groups", seer_groups=[staff_group])
    shown = [TopicFactory(author=member) for _ in range(2)]
    for _ in range(3):  # so that at least one range of two ids holds only hidden ones
        TopicFactory(author=group_member, category=backroom)
    shown.append(TopicFactory(author=member))
    services.topic_delete(topic=TopicFactory(author=member), moderator=moderator)
    last = math.ceil(shown[-1].pk / 2)

    pages = [
        list(_urls(client.get(f"/sitemap-topics.xml?p={page}"))) for page in range(1, last + 1)
    ]

    assert pages == [
        [f"{SITE}{t.get_absolute_url()}" for t in shown if math.ceil(t.pk / 2) == page]
        for page in range(1, last + 1)
    ]
    assert [] in pages
    assert client.get(f"/sitemap-topics.xml?p={last + 1}").status_code == 404
    assert len(_locations(client.get("/sitemap.xml"))) == 1 + last


@pytest.mark.parametrize(
    "query",
    [
        "?p=2",
        "?p=0",
        "?p=-1",
        "?p=abc",
        "?p=",
        "?p=1.5",
        "?p=1e3",
        "?p=99999999999999999999999999999",
        "?p=" + "9" * 5000,
    ],
)
def test_a_page_there_is_not_is_a_404(client, topic, query):
    assert client.get("/sitemap-topics.xml" + query).status_code == 404


@pytest.mark.parametrize("path", ["/sitemap-posts.xml", "/sitemap-.xml", "/sitemap-Topics.xml"])
def test_a_section_there_is_not_is_a_404(client, topic, path):
    assert client.get(path).status_code == 404


def test_an_empty_forum_has_an_empty_first_page(client, db):
    assert _urls(client.get("/sitemap-topics.xml")) == {}
    assert client.get("/sitemap-topics.xml?p=2").status_code == 404


@pytest.mark.parametrize("topics", [1, 12])
def test_sitemaps_take_the_same_queries_whatever_their_size(
    client, member, topics, django_assert_num_queries
):
    """The public categories and the highest topic id (so no COUNT), or a page of topics."""
    for _ in range(topics):
        TopicFactory(author=member)

    with django_assert_num_queries(2):
        client.get("/sitemap.xml")
    with django_assert_num_queries(1):
        client.get("/sitemap-categories.xml")
    with django_assert_num_queries(2):
        assert len(_urls(client.get("/sitemap-topics.xml"))) == topics


def test_a_members_only_forum_has_no_sitemap(client, member, topic, members_only):
    client.force_login(member)
    for url in ["/sitemap.xml", "/sitemap-topics.xml", "/sitemap-categories.xml"]:
        assert client.get(url).status_code == 404, url
    client.logout()
    assert client.get("/sitemap.xml").status_code == 404  # not a redirect to the login page


def test_robots_txt_names_the_sitemap_and_keeps_crawlers_out_of_accounts(client, db):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response["Content-Type"] == "text/plain; charset=utf-8"
    lines = response.content.decode().splitlines()
    assert lines[0] == "User-agent: *"
    for path in [
        "/admin/",
        "/accounts/login/",
        "/accounts/signup/",
        "/settings/",
        "/notifications/",
    ]:
        assert f"Disallow: {path}" in lines
    assert "Disallow: /" not in lines
    assert lines[-1] == f"Sitemap: {SITE}/sitemap.xml"


def test_robots_txt_of_a_members_only_forum_keeps_every_crawler_out(client, db, members_only):
    response = client.get("/robots.txt")

    assert response.status_code == 200
    assert response.content.decode() == "User-agent: *\nDisallow: /\n"


def test_a_removed_opening_post_leaves_its_topic_in_the_sitemap(client, topic, moderator):
    """The topic page is still there, with its replies."""
    services.post_remove(post=opening_post(topic), moderator=moderator, reason="spam")

    assert list(_urls(client.get("/sitemap-topics.xml"))) == [f"{SITE}{topic.get_absolute_url()}"]
