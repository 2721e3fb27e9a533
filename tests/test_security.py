"""Injection vectors in every place a member's text goes, checked on the server.

Each vector of tests/data/xss-vectors.txt becomes a topic's title and opening post, a
reply, an imported ConversationJS file (title, a message, a multi-line message) and a
username on the sign-up form. The stored HTML (a post's `body_html` and `fragment`, a
topic's `row_html`) and the pages served from it are parsed and checked:

* a post's HTML has only allowlisted tags, with only the attributes
  `rendering._allowed_attribute` accepts (and the rel="nofollow ugc" of links);
* nothing anywhere has an `on*` attribute, a URL whose scheme is not http, https or
  mailto, a script other than the site's own, a frame, object, embed, base or refresh;
* titles and usernames are shown as text: no tag is ever made from them;
* "Download as Markdown" is served as text/markdown, never as HTML.

Only the server is checked here; browser tests with the same corpus come later.
"""

import functools
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import urlencode

import pytest
from django.core.exceptions import ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from threads import conversation, rendering, services
from threads.forms import SignupForm
from threads.models import TITLE_MAX_LENGTH, Post, Topic

from .factories import PASSWORD, importer
from .helpers import opening_post
from .vectors import GROUPS, VECTORS, Vector, unescape_vector

# --- The corpus -----------------------------------------------------------------------

each_vector = pytest.mark.parametrize("vector", VECTORS, ids=lambda vector: vector.id)


# --- Reading HTML as a browser would ------------------------------------------------------

ALLOWED_SCHEMES = rendering.ALLOWED_PROTOCOLS  # and no scheme at all: a relative URL

# Attributes whose value a browser loads, follows or runs as a URL.
URL_ATTRIBUTES = frozenset(
    {
        "action", "archive", "background", "cite", "classid", "code", "codebase", "data",
        "dynsrc", "formaction", "href", "icon", "itemtype", "longdesc", "lowsrc", "manifest",
        "ping", "poster", "profile", "src", "srcset", "usemap", "xlink:href", "xml:base",
        "from", "to", "values", "by",  # SVG animation of an href
    }
)  # fmt: skip

# Never in a page of the forum, wherever they would come from.
FORBIDDEN_TAGS = frozenset(
    {"applet", "base", "embed", "frame", "frameset", "iframe", "object", "portal"}
)

VOID_TAGS = frozenset(
    {
        "area", "base", "basefont", "bgsound", "br", "col", "embed", "frame", "hr", "image",
        "img", "input", "isindex", "keygen", "link", "meta", "param", "source", "track", "wbr",
    }
)  # fmt: skip


def _site_tags() -> frozenset[str]:
    """Every tag the forum's own templates and thread builder write."""
    templates = Path(__file__).resolve().parent.parent / "templates"
    names = set()
    for template in templates.rglob("*.html"):
        names |= set(re.findall(r"<([a-z][a-z0-9]*)", template.read_text(encoding="utf-8")))
    # fragments.thread_html; the marks of search snippets (selectors.search.marked)
    return frozenset(names | {"ol", "li", "details", "mark"})


SITE_TAGS = _site_tags()

# What the WHATWG URL parser strips before reading a scheme: C0 controls and spaces at
# either end, tabs and newlines anywhere. Stricter here: every C0 control, space and DEL,
# anywhere, so "java\x01script:" counts as javascript.
_URL_NOISE = re.compile(r"[\x00-\x20\x7f]+")
_SCHEME = re.compile(r"([A-Za-z][A-Za-z0-9+.\-]*):")


def url_scheme(value: str) -> str | None:
    """The scheme a browser would see in an attribute value (entities already decoded)."""
    match = _SCHEME.match(_URL_NOISE.sub("", value))
    return match[1].lower() if match else None


def _urls(name: str, value: str) -> list[str]:
    if name == "srcset":  # "url 1x, url 2x"
        return [candidate.split()[0] for candidate in value.split(",") if candidate.split()]
    if name == "values":  # SVG <animate values="a;b">
        return value.split(";")
    return [value]


def bad_urls(name: str, value: str) -> list[str]:
    """The URLs of an attribute whose scheme is neither allowed nor absent."""
    if name not in URL_ATTRIBUTES:
        return []
    return [url for url in _urls(name, value) if url_scheme(url) not in {None, *ALLOWED_SCHEMES}]


@dataclass(eq=False)
class Element:
    tag: str
    attrs: list[tuple[str, str]]  # names lower-cased, values with entities decoded
    in_post_body: bool
    within: tuple["Element", ...]  # the elements it is in, outermost first
    text: list[str] = field(default_factory=list)  # all text inside, in pieces
    inner_tags: list[str] = field(default_factory=list)  # every tag started inside
    classes: list[str] = field(init=False)

    def __post_init__(self) -> None:
        self.classes = (self.get("class") or "").split()

    def get(self, name: str) -> str | None:
        return next((value for key, value in self.attrs if key == name), None)

    @property
    def starts_post_body(self) -> bool:
        return "post-body" in self.classes

    def __str__(self) -> str:
        attrs = "".join(f" {name}={value!r}" for name, value in self.attrs)
        return f"<{self.tag}{attrs}>"


class _Scanner(HTMLParser):
    """Every element of a document, knowing whether it is inside a post's body."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.elements: list[Element] = []
        self.markup: list[tuple[str, bool]] = []  # comments, declarations: (text, in a body)
        self._open: list[Element] = []

    def _in_post_body(self) -> bool:
        parent = self._open[-1] if self._open else None
        return parent is not None and (parent.in_post_body or parent.starts_post_body)

    def _start(self, tag: str, attrs: list, *, closed: bool) -> None:
        element = Element(
            tag,
            [(name, value or "") for name, value in attrs],
            self._in_post_body(),
            tuple(self._open),
        )
        for outer in self._open:
            outer.inner_tags.append(tag)
        self.elements.append(element)
        if not closed and tag not in VOID_TAGS:
            self._open.append(element)

    def handle_starttag(self, tag, attrs):
        self._start(tag, attrs, closed=False)

    def handle_startendtag(self, tag, attrs):
        self._start(tag, attrs, closed=True)

    def handle_endtag(self, tag):
        if any(element.tag == tag for element in self._open):
            while self._open.pop().tag != tag:
                pass

    def handle_data(self, data):
        for element in self._open:
            element.text.append(data)

    def handle_comment(self, data):
        self.markup.append((f"<!--{data}-->", self._in_post_body()))

    def handle_decl(self, decl):
        self.markup.append((f"<!{decl}>", self._in_post_body()))

    def unknown_decl(self, data):
        self.markup.append((f"<![{data}]>", self._in_post_body()))

    def handle_pi(self, data):
        self.markup.append((f"<?{data}>", self._in_post_body()))


@functools.lru_cache(maxsize=32)  # a page is scanned once for all its checks
def scan(document: str) -> _Scanner:
    scanner = _Scanner()
    scanner.feed(document)
    scanner.close()
    return scanner


def _body_attribute_allowed(tag: str, name: str, value: str) -> bool:
    if tag == "a" and name == "rel":
        return value == "nofollow ugc"  # added by the linkify filter, after the allowlist
    if tag == "a" and name == "class":
        return value == "mention"  # added by the mentions filter, after the allowlist
    return rendering._allowed_attribute(tag, name, value)


def _element_problems(element: Element) -> list[str]:
    problems = []
    tag = element.tag
    if tag not in SITE_TAGS | rendering.ALLOWED_TAGS:
        problems.append(f"a tag neither the site nor the allowlist has: {element}")
    if element.in_post_body and tag not in rendering.ALLOWED_TAGS:
        problems.append(f"a tag outside the allowlist in a post body: {element}")
    if tag in FORBIDDEN_TAGS:
        problems.append(f"a forbidden tag: {element}")
    if tag == "meta" and (element.get("http-equiv") or "").strip().lower() == "refresh":
        problems.append(f"a refresh: {element}")
    if tag == "script" and (
        not (element.get("src") or "").startswith("/static/") or "".join(element.text).strip()
    ):
        problems.append(f"a script that is not the site's own: {element} {element.text}")
    for name, value in element.attrs:
        if name.startswith("on"):
            problems.append(f"an event handler: {element}")
        if element.in_post_body and name == "style":
            problems.append(f"a style attribute in a post body: {element}")
        if element.in_post_body and not _body_attribute_allowed(tag, name, value):
            problems.append(f"an attribute outside the allowlist in a post body: {element}")
        for url in bad_urls(name, value):
            problems.append(f"a URL with the scheme {url_scheme(url)!r}: {element}")
    return problems


def html_problems(document: str) -> list[str]:
    """What is wrong with a fragment, a row or a whole page, wherever it is."""
    scanner = scan(document)
    problems = []
    for element in scanner.elements:
        problems += _element_problems(element)
    for text, in_post_body in scanner.markup:
        if in_post_body:
            problems.append(f"markup that is not an element in a post body: {text!r}")
        elif text.lower() != "<!doctype html>":
            problems.append(f"unexpected markup: {text!r}")
    return problems


_RAW_TAG = re.compile(r"<(/?)([A-Za-z][A-Za-z0-9]*)(?=[\s/>])")


def body_html_problems(body_html: str) -> list[str]:
    """What is wrong with a post's stored HTML: only the allowlist, nothing else."""
    # Read as text first, without a parser: every "<" must open an allowlisted tag.
    problems = []
    for match in re.finditer("<", body_html):
        raw = _RAW_TAG.match(body_html, match.start())
        if raw is None or raw[2] not in rendering.ALLOWED_TAGS:
            snippet = body_html[match.start() : match.start() + 40]
            problems.append(f"a '<' that opens no allowlisted tag: {snippet!r}")
    scanner = scan(f'<div class="post-body">{body_html}</div>')
    for element in scanner.elements[1:]:
        problems += _element_problems(element)
    problems += [f"markup that is not an element: {text!r}" for text, _ in scanner.markup]
    return problems


def text_problems(document: str, select, expected: str, what: str) -> list[str]:
    """The elements `select` picks hold `expected` as text only, and at least one exists."""
    chosen = [element for element in scan(document).elements if select(element)]
    if not chosen:
        return [f"{what}: not found"]
    problems = []
    for element in chosen:
        if element.inner_tags:
            problems.append(f"{what}: tags made from text: {element.inner_tags}")
        if "".join(element.text) != expected:
            problems.append(f"{what}: shows {''.join(element.text)!r}, not {expected!r}")
    return problems


def _is(tag: str, css: str | None = None, *, within: str | None = None):
    """Selects the site's elements (not a post's) by tag, class and an enclosing class."""

    def select(element: Element) -> bool:
        return (
            element.tag == tag
            and not element.in_post_body
            and (css is None or css in element.classes)
            and (within is None or any(within in outer.classes for outer in element.within))
        )

    return select


# --- The checks catch what they are meant to catch -----------------------------------------


@pytest.mark.parametrize(
    ("value", "scheme"),
    [
        ("javascript:alert(1)", "javascript"),
        ("  JavaScript:alert(1)", "javascript"),
        ("\x01java\tscr\nipt:alert(1)", "javascript"),
        ("https://example.org/", "https"),
        ("mailto:someone@example.org", "mailto"),
        ("/t/1-x/", None),
        ("//example.org/", None),
        ("#p1", None),
        ("javascript&colon;alert(1)", None),  # entities are decoded once, by the parser
        ("java\u200bscript:alert(1)", None),  # not a scheme to a browser either
        ("%6Aavascript:alert(1)", None),
    ],
)
def test_url_scheme_reads_urls_as_a_browser_does(value, scheme):
    assert url_scheme(value) == scheme


def test_entities_in_attributes_are_decoded_before_the_scheme_is_read():
    assert html_problems('<a href="&#106;ava&Tab;script&colon;alert(1)">x</a>') != []
    assert html_problems('<a href="javascript&amp;colon;alert(1)">x</a>') == []


@pytest.mark.parametrize(
    "snippet",
    [
        '<div class="post-body"><img src="x"></div>',
        '<div class="post-body"><p style="color:red">x</p></div>',
        '<div class="post-body"><a href="/" target="_blank">x</a></div>',
        '<div class="post-body"><form></form></div>',
        '<div class="post-body"><!-- x --></div>',
        '<p onclick="alert(1)">x</p>',
        '<a href=" javascript:alert(1)">x</a>',
        '<a href="data:text/html,x">x</a>',
        '<form action="vbscript:x"></form>',
        '<img srcset="/a.png 1x, javascript:alert(1) 2x">',
        "<script>alert(1)</script>",
        '<script src="https://evil.example/x.js"></script>',
        '<script src="/static/forum.js">alert(1)</script>',
        "<iframe></iframe>",
        '<meta http-equiv="Refresh" content="0;url=/">',
        "<marquee>x</marquee>",
    ],
)
def test_the_page_checks_catch_dangerous_html(snippet):
    assert html_problems(snippet) != []


@pytest.mark.parametrize(
    "body_html",
    [
        "<p>&lt;script&gt;</p><script>alert(1)</script>",
        '<p><a href="https://example.org/" rel="me">x</a></p>',
        '<p><b title="x">x</b></p>',
        '<p><code class="x">x</code></p>',
        "<p><!-- x --></p>",
        "<p><svg></svg></p>",
        "<p>x</p><x-y>z</x-y>",
    ],
)
def test_the_body_checks_catch_anything_outside_the_allowlist(body_html):
    assert body_html_problems(body_html) != []


def test_the_text_checks_catch_tags_made_from_text():
    page = "<h1>A <img src=x> title</h1>"

    assert text_problems(page, _is("h1"), "A  title", "h1") != []
    assert text_problems(page, _is("h2"), "A  title", "h2") == ["h2: not found"]
    assert text_problems("<h1>A &lt;b&gt; title</h1>", _is("h1"), "A <b> title", "h1") == []


def test_the_checks_pass_the_forums_own_html(member, client):
    topic = services.topic_create(
        author=member,
        title="Plain <title>",
        body="**Bold**, [a link](https://example.org/) and\n\n```python\nx = 1\n```",
    )
    post = opening_post(topic)
    client.force_login(member)
    page = client.get(topic.get_absolute_url()).content.decode()

    assert body_html_problems(post.body_html) == []
    assert html_problems(post.fragment) == []
    assert html_problems(page) == []
    assert text_problems(page, _is("h1"), "Plain <title>", "h1") == []


# --- The corpus itself ------------------------------------------------------------------


def test_the_corpus_has_at_least_300_distinct_vectors_in_every_group():
    texts = [vector.text for vector in VECTORS]
    duplicates = [text for text, count in Counter(texts).items() if count > 1]
    groups = Counter(vector.group for vector in VECTORS)

    assert duplicates == []
    assert len(set(texts)) >= 300
    assert set(groups) == set(GROUPS)
    assert min(groups.values()) >= 15, groups
    assert not [vector for vector in VECTORS if "\x00" in vector.text]


def test_the_corpus_escapes_are_decoded():
    assert unescape_vector(r"a\nb\tc{U+000B}d\:e") == "a\nb\tc\x0bd\\:e"


# --- Every vector, everywhere -------------------------------------------------------------

T0 = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)
T1 = datetime(2025, 3, 4, 6, 0, 0, tzinfo=UTC)
_CONTROL = re.compile(r"[\x00-\x1f\x7f]+")


def _topic(author, vector: Vector) -> Topic:
    """A topic whose title and opening post are the vector.

    A title is one line: when the service refuses the vector's control characters,
    the same title with spaces in their place is used.
    """
    title = vector.text[:TITLE_MAX_LENGTH]
    try:
        return services.topic_create(author=author, title=title, body=vector.text)
    except ValidationError as error:
        refusal = error
    # A clean refusal, for a reason the vector really has.
    assert refusal.code == "control_characters", refusal
    assert _CONTROL.search(title.strip())
    return services.topic_create(
        author=author, title=_CONTROL.sub(" ", title).strip(), body=vector.text
    )


def _imported(vector: Vector, title: str, handle: str) -> Topic | None:
    """The vector as a ConversationJS title, message and multi-line reply, imported.

    None when the file format or the forum's limits refuse it, as they may.
    """
    multi_line = f"Quoting the opening post:\n\n{vector.text}\n\nWhat do you think?"
    text = conversation.write(
        [
            conversation.Conversation(
                title,
                [
                    conversation.Message(0, handle, T0, vector.text),
                    conversation.Message(1, handle, T1, multi_line),
                ],
            )
        ]
    )
    filename = f"{vector.id}.md"
    try:
        documents = [conversation.read(text.encode(), filename=filename)]
        services.conversation_import(moderator=importer(), documents=documents)
    except conversation.ConversationError as error:
        refusal = error
    else:
        imported = Topic.objects.latest("pk")
        assert imported.title == title
        return imported
    assert refusal.filename == filename  # a clean refusal, saying where and why
    assert refusal.reason
    return None


def _stored_problems(topic: Topic, posts: list[Post]) -> list[str]:
    problems = [f"row_html: {problem}" for problem in html_problems(topic.row_html)]
    problems += text_problems(topic.row_html, _is("a", "topic-title"), topic.title, "row title")
    for post in posts:
        problems += [f"post {post.pk} body_html: {p}" for p in body_html_problems(post.body_html)]
        problems += [f"post {post.pk} fragment: {p}" for p in html_problems(post.fragment)]
        if f'<div class="post-body">{post.body_html}</div>' not in post.fragment:
            problems.append(f"post {post.pk} fragment: the body is not the stored body_html")
    return problems


def _page(client, url: str) -> str:
    response = client.get(url)
    assert response.status_code == 200, url
    assert response["Content-Type"] == "text/html; charset=utf-8", url
    return response.content.decode()


def _topic_page_problems(client, topic: Topic) -> list[str]:
    url = topic.get_absolute_url()
    page = _page(client, url)
    problems = [f"topic page {url}: {problem}" for problem in html_problems(page)]
    problems += text_problems(page, _is("h1"), topic.title, f"{url} h1")
    problems += text_problems(page, _is("title"), f"{topic.title} · Forum", f"{url} title")
    return problems


def _thread_page_problems(client, topic: Topic, post: Post) -> list[str]:
    url = reverse("threads:post_thread", args=[post.pk])
    page = _page(client, url)
    problems = [f"thread page {url}: {problem}" for problem in html_problems(page)]
    problems += text_problems(page, _is("h1"), f"A thread in “{topic.title}”", f"{url} h1")
    problems += text_problems(page, _is("a", within="breadcrumb"), topic.title, f"{url} link")
    problems += text_problems(page, _is("title"), f"Thread in {topic.title} · Forum", url)
    return problems


def _check_download(client, topic: Topic, posts: list[Post]) -> None:
    """The Markdown source, as an attachment that no browser shows as a page."""
    response = client.get(reverse("threads:topic_download", args=[topic.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "text/markdown; charset=utf-8"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"].startswith("attachment;")
    (downloaded,) = conversation.read(response.content, filename="download.md").conversations
    assert downloaded.title == topic.title
    assert len(downloaded.messages) == len(posts)


def _search_page_problems(client, topic: Topic) -> list[str]:
    """The topic's own words searched for: the results are text, the matches only marked."""
    words = sorted(set(re.findall(r"[^\W_]+", topic.title)), key=lambda word: (-len(word), word))
    if not words:
        return []
    url = "/search/?" + urlencode({"q": " ".join(words[:2])})
    page = _page(client, url)
    problems = [f"search {url}: {problem}" for problem in html_problems(page)]
    titles = [
        element
        for element in scan(page).elements
        if element.tag == "h2" and any("search-result" in outer.classes for outer in element.within)
    ]
    if not titles:
        problems.append(f"search {url}: the topic is not found")
    for element in titles:
        if set(element.inner_tags) - {"a", "mark"}:
            problems.append(f"search {url}: tags made from text: {element.inner_tags}")
        if "".join(element.text) != topic.title:
            problems.append(f"search {url}: shows {''.join(element.text)!r}, not {topic.title!r}")
    return problems


@each_vector
def test_vector_posted_and_imported_stays_text(vector, member, client):
    """The vector as a topic (title and body), a reply and an imported file, then served."""
    topic = _topic(member, vector)
    opening = opening_post(topic)
    reply = services.post_reply(author=member, topic=topic, parent=opening, body=vector.text)
    imported = _imported(vector, topic.title, member.username)

    posts = list(Post.objects.filter(topic=topic).order_by("tree_id", "lft"))
    assert posts == [opening, reply]
    topic.refresh_from_db()
    problems = _stored_problems(topic, posts)
    problems += _topic_page_problems(client, topic)
    problems += _thread_page_problems(client, topic, reply)
    _check_download(client, topic, posts)
    problems += _search_page_problems(client, topic)
    if imported:
        imported_posts = list(Post.objects.filter(topic=imported).order_by("tree_id", "lft"))
        problems += [
            f"imported: {problem}" for problem in _stored_problems(imported, imported_posts)
        ]
        problems += [f"imported: {problem}" for problem in _topic_page_problems(client, imported)]
    topic_list = _page(client, reverse("threads:index"))
    problems += [f"topic list: {problem}" for problem in html_problems(topic_list)]
    problems += text_problems(topic_list, _is("a", "topic-title"), topic.title, "list title")
    profile = _page(client, reverse("threads:profile", args=[member.username]))
    problems += [f"profile: {problem}" for problem in html_problems(profile)]
    problems += text_problems(
        profile, _is("a", within="profile-topics"), topic.title, "profile topic"
    )
    problems += text_problems(
        profile, _is("a", within="byline"), f"In “{topic.title}”", "profile post"
    )

    assert not problems, f"{vector}\n" + "\n".join(problems)


@each_vector
@pytest.mark.django_db
def test_vector_is_refused_as_a_username(vector):
    form = SignupForm(
        data={
            "username": vector.text,
            "email": "newcomer@example.org",
            "password1": PASSWORD,
            "password2": PASSWORD,
        }
    )

    assert not form.is_valid()
    assert set(form.errors) == {"username"}, form.errors
    if len(vector.text.strip()) <= 150:
        assert form.has_error("username", code="invalid_handle"), form.errors
    # Nor can it be a handle in an imported file.
    assert not re.fullmatch(r"[A-Za-z0-9_.+-]+", vector.text)


# --- Requests the database or the parser cannot take ---------------------------------------
#
# forum/request_checks.py: a NUL character cannot reach PostgreSQL, and a body in a
# charset Python cannot read text in cannot reach Django's parsers. Each kind of URL,
# on both databases: a clear 4xx, never a 500.

NUL_IN_PATH = [
    "/u/%00/",
    "/u/a%00b/?page=2",
    "/t/{topic}-a%00/",
    "/accounts/reset/%00/set-password/",
    "/admin/threads/topic/%00/change/",
    "/admin/threads/post/%00/change/",
    "/admin/threads/user/%00/change/",
    "/admin/threads/user/%00/password/",
]

NUL_IN_QUERY = [
    "/?page=%00",
    "/?%00=1",
    "/t/{topic}/?page=%00",
    "/u/alice/?page=%00",
    "/accounts/login/?next=/%00",
    "/accounts/password_reset/?%00",
    "/admin/threads/topic/?q=%00",
    "/admin/threads/post/?q=a%00b",
    "/admin/threads/user/?q=%00",
    "/admin/threads/post/?removal__exact=%00",
    "/admin/threads/topic/?created__year=%00",
    "/admin/threads/topic/{topic}/change/?_changelist_filters=%00",
    "/admin/axes/accessattempt/?q=%00",
]


@pytest.fixture
def superuser_client(client, topic):
    from threads.models import User

    client.force_login(User.objects.create_superuser("root", "root@example.org", "pw"))
    return client


def _url(template: str, topic: Topic) -> str:
    return template.format(topic=topic.pk)


@pytest.mark.parametrize("url", NUL_IN_PATH)
@pytest.mark.parametrize("who", ["anonymous", "superuser"])
def test_a_nul_in_the_path_is_not_found(client, superuser_client, topic, url, who):
    if who == "anonymous":
        client.logout()

    response = client.get(_url(url, topic))

    assert response.status_code == 404
    assert "<h1>Not found</h1>" in response.content.decode()


@pytest.mark.parametrize("url", NUL_IN_QUERY)
def test_a_nul_in_the_query_string_is_a_bad_request(superuser_client, topic, url):
    response = superuser_client.get(_url(url, topic))

    assert response.status_code == 400
    assert "That request could not be understood" in response.content.decode()


def test_a_nul_in_a_header_is_a_bad_request(client, member):
    response = client.post(
        "/accounts/login/",
        {"username": "alice", "password": "wrong"},
        HTTP_USER_AGENT="Mozilla/5.0\x00",
    )

    assert response.status_code == 400


NUL_IN_FORMS = [
    # url, typed, the field that says so
    ("/accounts/login/", {"username": "al\x00ice", "password": "x"}, "username"),
    ("/accounts/password_reset/", {"email": "alice@example.org\x00"}, "email"),
    (
        "/accounts/signup/",
        {"username": "c\x00rol", "email": "carol@example.org", "password1": "p", "password2": "p"},
        "username",
    ),
    ("/t/new/", {"title": "A \x00 title", "body": "Some text"}, "title"),
    ("/t/{topic}/reply/", {"body": "A \x00 reply"}, "body"),
    ("/admin/login/", {"username": "root\x00", "password": "x"}, "username"),
]


@pytest.mark.parametrize(("url", "typed", "field"), NUL_IN_FORMS)
def test_a_nul_in_a_form_is_refused_by_the_form(client, member, topic, url, typed, field):
    """Forms refuse NUL themselves, saying so, and keep the rest of what was typed."""
    from .helpers import form_values

    if url.startswith("/t/"):
        client.force_login(member)

    response = client.post(_url(url, topic), typed)

    assert response.status_code in {200, 400}
    assert "Null characters are not allowed." in response.content.decode()
    kept = {name: value for name, value in typed.items() if "password" not in name}
    assert {name: form_values(response).get(name) for name in kept} == kept


FORM_URLS = [
    "/t/new/",
    "/t/{topic}/reply/",
    "/p/{post}/edit/",
    "/p/{post}/delete/",
    "/accounts/signup/",
    "/accounts/login/",
    "/accounts/logout/",
    "/accounts/password_change/",
    "/accounts/password_reset/",
    "/admin/threads/topic/",
    "/admin/threads/topic/{topic}/change/",
    "/admin/threads/topic/import/",
]
UNREADABLE = ["latin-1", "utf-16", "cp1252", "rot13", "base64", "idna", "undefined"]
FORM_BODY = b"title=caf%E9&body=h%C3%A9llo&email=a%40example.org&action=lock"


def _form_url(template: str, topic: Topic) -> str:
    return template.format(topic=topic.pk, post=opening_post(topic).pk)


@pytest.mark.parametrize("url", FORM_URLS)
@pytest.mark.parametrize("charset", UNREADABLE)
@pytest.mark.parametrize("mode", ["plain", "csrf", "csrf-cookie", "debug"])
def test_a_form_in_a_charset_other_than_utf8_is_a_bad_request(
    superuser_client, topic, settings, url, charset, mode
):
    """Django refuses such forms on every read of request.POST, so nothing may read it.

    Not even the error page: with a CSRF cookie, Django's own 400 view reads
    request.POST to look for the token (a 500 found by an attack on the forum).
    """
    from django.test import Client

    client = superuser_client
    if mode.startswith("csrf"):
        client = Client(enforce_csrf_checks=True)
        client.force_login(topic.author)
    if mode == "csrf-cookie":
        client.cookies["csrftoken"] = "abcdefghijklmnopqrstuvwxyz123456"
    settings.DEBUG = mode == "debug"  # DEBUG's error page reads request.POST again
    content_type = f"application/x-www-form-urlencoded; charset={charset}"

    response = client.generic("POST", _form_url(url, topic), FORM_BODY, content_type=content_type)

    assert response.status_code == 400
    assert Topic.objects.count() == 1


NO_TEXT = ["rot13", "base64", "idna", "undefined", "punycode"]
MULTIPART = b'--B\r\nContent-Disposition: form-data; name="title"\r\n\r\ncaf\xc3\xa9\r\n--B--\r\n'


@pytest.mark.parametrize("url", FORM_URLS)
@pytest.mark.parametrize("charset", NO_TEXT)
@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_charset_that_reads_no_text_is_a_bad_request(
    superuser_client, topic, url, charset, method
):
    content_type = f"multipart/form-data; boundary=B; charset={charset}"

    response = superuser_client.generic(
        method, _form_url(url, topic), MULTIPART, content_type=content_type
    )

    assert response.status_code == 400


def _environ(method: str, path: str, query: str, content_type: str, body: bytes) -> dict:
    import io
    import sys

    return {
        "REQUEST_METHOD": method,
        "PATH_INFO": path,
        "QUERY_STRING": query,
        "CONTENT_TYPE": content_type,
        "CONTENT_LENGTH": str(len(body)),
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.url_scheme": "http",
        "wsgi.version": (1, 0),
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def _wsgi(method: str, path: str, query: str = "", content_type: str = "", body: bytes = b""):
    """A request to forum.wsgi, as gunicorn makes it (keeping the test's connection open)."""
    from django.core.signals import request_finished, request_started
    from django.db import close_old_connections

    from forum.wsgi import application

    started = []
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    try:
        chunks = application(
            _environ(method, path, query, content_type, body),
            lambda status, headers, exc_info=None: started.append(status),
        )
        content = b"".join(chunks)
        getattr(chunks, "close", lambda: None)()
    finally:
        request_started.connect(close_old_connections)
        request_finished.connect(close_old_connections)
    return started[0], content


def _asgi(method: str, path: str, query: str, content_type: str, body: bytes):
    import asyncio
    from concurrent.futures import ThreadPoolExecutor

    from forum.asgi import application

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "query_string": query.encode(),
        "headers": [(b"content-type", content_type.encode())],
    }
    sent = []

    async def receive():
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message):
        sent.append(message)

    # In a thread of its own: the browser tests keep an event loop running in this one.
    with ThreadPoolExecutor(1) as thread:
        thread.submit(asyncio.run, application(scope, receive, send)).result()
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.mark.parametrize("charset", NO_TEXT)
@pytest.mark.parametrize("method", ["GET", "POST"])
@pytest.mark.parametrize("serve", [_wsgi, _asgi], ids=["wsgi", "asgi"])
def test_with_a_query_string_the_entry_points_refuse_such_a_charset(charset, method, serve):
    """Django would fail building the request: reading the query string in that charset."""
    content_type = f"multipart/form-data; boundary=B; charset={charset}"

    status, body = serve(method, "/accounts/login/", "next=%2Ft%2F1%2F", content_type, MULTIPART)

    assert str(status).startswith("400")
    assert b"is not a character set text can be read in" in body


@pytest.mark.django_db
def test_the_wsgi_entry_point_serves_other_requests():
    status, body = _wsgi("GET", "/help/formatting/", "x=%C3%A9", "text/plain; charset=latin-1")

    assert status == "200 OK"
    assert b"<h1>" in body


@pytest.mark.parametrize(
    ("content_type", "body", "title"),
    [
        ("application/x-www-form-urlencoded; charset=UTF8", b"title=caf%C3%A9&body=x", "café"),
        ("application/x-www-form-urlencoded; charset=x-unknown", b"title=caf%C3%A9&body=x", "café"),
        (
            "multipart/form-data; boundary=B; charset=latin-1",
            b'--B\r\nContent-Disposition: form-data; name="title"\r\n\r\ncaf\xe9\r\n'
            b'--B\r\nContent-Disposition: form-data; name="body"\r\n\r\nx\r\n--B--\r\n',
            "café",
        ),
    ],
    ids=["utf-8-alias", "unknown-charset-read-as-utf-8", "multipart-latin-1"],
)
def test_a_form_in_a_charset_that_can_be_read_is_read(member_client, content_type, body, title):
    response = member_client.generic("POST", "/t/new/", body, content_type=content_type)

    assert response.status_code == 302
    assert Topic.objects.get().title == title


# --- Bodies too big for any form ----------------------------------------------------------


@pytest.mark.parametrize("url", ["/accounts/login/", "/settings/", "/admin/threads/topic/import/"])
def test_a_body_bigger_than_any_form_is_refused_before_it_is_read(client, member, url, settings):
    """Django keeps an uploaded file of any size on disk before a view could refuse it."""
    client.force_login(member)
    huge = SimpleUploadedFile("huge.bin", b"x" * (settings.FORUM_MAX_REQUEST_BYTES + 1))

    response = client.post(url, {"f": huge, "csrfmiddlewaretoken": "x"})

    assert response.status_code == 413
    assert "too big to send" in response.content.decode()


def test_a_body_as_big_as_an_import_is_read(client, moderator, settings):
    client.force_login(moderator)
    body = b"x" * (settings.FORUM_LIMITS["import_max_bytes"] - 1000)

    response = client.post("/accounts/login/", {"f": SimpleUploadedFile("a.bin", body)})

    assert response.status_code != 413
