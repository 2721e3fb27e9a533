"""What a person sees, in a real browser: Debian's Chromium driven by Playwright."""

import time
from datetime import timedelta
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.utils import timezone

from threads import services
from threads.models import Post, Topic, User

from .factories import CategoryFactory, ReplyFactory, TopicFactory, UserFactory, in_groups
from .helpers import opening_post
from .vectors import VECTORS

pytestmark = pytest.mark.django_db(transaction=True)

# Record instead of showing: a call to any of these means script ran.
DIALOG_HOOKS = """
window.__fired = [];
for (const name of ["alert", "confirm", "prompt", "print"]) {
  window[name] = (...args) => { window.__fired.push(name + "(" + String(args[0]) + ")"); };
}
"""


@pytest.mark.parametrize("bypass_csp", [False, True], ids=["with-csp", "sanitizer-alone"])
def test_injection_vectors_never_run(open_page, log_in, bypass_csp):
    """A sample of the corpus, posted through the real forms, then read back.

    Once as served, and once with the browser ignoring the Content-Security-Policy,
    so that the sanitizer is shown to hold on its own.
    """
    page = open_page(bypass_csp=bypass_csp)
    fired: list[str] = []
    page.on("dialog", lambda dialog: (fired.append(dialog.message), dialog.dismiss()))
    page.add_init_script(DIALOG_HOOKS)
    member = UserFactory(date_joined=timezone.now() - timedelta(days=30))
    log_in(page, member)
    sample = VECTORS[::12]

    for vector in sample[:4]:  # titles and opening posts
        page.goto("/t/new/")
        page.fill("#id_title", vector.text.replace("\n", " ")[:200])
        page.fill("#id_body", vector.text)
        page.click("button:has-text('Start topic')")
        fired += page.evaluate("window.__fired")
    topic = Topic.objects.order_by("pk").last()
    page.goto(topic.get_absolute_url())
    for vector in sample:  # replies: each lands on the topic page, which shows them all
        page.fill("#id_body", vector.text)
        page.click("button:has-text('Post reply')")
        fired += page.evaluate("window.__fired")
    last = Post.objects.order_by("pk").last()
    for path in ["/", topic.get_absolute_url(), f"/p/{last.pk}/thread/", f"/u/{member.username}/"]:
        page.goto(path)
        page.wait_for_load_state("load")
        fired += page.evaluate("window.__fired")

    assert Post.objects.filter(topic=topic).count() == 1 + len(sample)
    assert fired == []
    page.evaluate("alert('control')")  # the hooks do catch a call when one happens
    assert page.evaluate("window.__fired") == ["alert(control)"]


# --- Journeys ----------------------------------------------------------------------------

SCREENSHOTS = Path(__file__).resolve().parents[1] / "test-artifacts" / "screenshots"
AXE = (Path(__file__).parent / "vendor" / "axe-core" / "axe.min.js").read_text()


def regular_member(**fields):
    return UserFactory(date_joined=timezone.now() - timedelta(days=30), **fields)


def post_depths(page) -> list[int]:
    """The depth of every post on the page, from how its list items nest."""
    return page.eval_on_selector_all(
        "li.post",
        "items => items.map(item => { let depth = 0, list = item.parentElement;"
        " while ((list = list.parentElement.closest('li.post'))) depth++; return depth; })",
    )


def test_a_newcomer_signs_up_starts_a_topic_and_replies_six_deep(page):
    page.goto("/")
    page.click("text=Sign up")
    page.fill("#id_username", "newcomer")
    page.fill("#id_email", "newcomer@example.org")
    page.fill("#id_password1", "a long and unusual passphrase")
    page.fill("#id_password2", "a long and unusual passphrase")
    page.click("button:has-text('Create account')")
    assert page.locator(".site-nav").get_by_text("@newcomer").is_visible()

    page.click(".page-heading >> text=Start a topic")
    page.fill("#id_title", "My first topic")
    page.fill("#id_body", "Hello **everyone**")
    page.click("button:has-text('Preview')")
    assert page.inner_html(".preview .post-body") == "<p>Hello <strong>everyone</strong></p>"
    assert page.input_value("#id_body") == "Hello **everyone**"
    page.click("button:has-text('Start topic')")
    assert page.inner_text("h1") == "My first topic"

    for depth in range(1, 7):  # each reply answers the one before, in its inline form
        page.locator("a.reply-link").last.click()
        form = page.locator("form.inline-reply")
        form.locator("textarea").fill(f"Reply at depth {depth}")
        form.locator("button:has-text('Post reply')").click()
        newest = Post.objects.order_by("pk").last()
        assert page.url.endswith(f"#p{newest.pk}")
        assert page.locator(f"#p{newest.pk}").is_visible()
    assert post_depths(page) == [0, 1, 2, 3, 4, 5, 6]


def test_replying_works_without_javascript(open_page, log_in):
    page = open_page(java_script_enabled=False)
    topic = TopicFactory(author=regular_member(), title="No script here")
    log_in(page, regular_member())
    page.goto(topic.get_absolute_url())

    page.click("a.reply-link")
    assert page.url.endswith(f"/p/{opening_post(topic).pk}/reply/")
    assert "Opening post" in page.inner_text(".replying-to")
    page.fill("#id_body", "Plain forms work")
    page.click("button:has-text('Post reply')")

    reply = Post.objects.order_by("pk").last()
    assert page.url.endswith(f"#p{reply.pk}")
    assert post_depths(page) == [0, 1]


@pytest.mark.parametrize("javascript", [True, False], ids=["js-on", "js-off"])
def test_a_subtree_collapses_and_expands(open_page, javascript):
    page = open_page(java_script_enabled=javascript)
    topic = TopicFactory(author=UserFactory(username="ann"), body="Opening post")
    child = ReplyFactory(parent=opening_post(topic), author=UserFactory(username="bo"))
    ReplyFactory(parent=child, author=UserFactory(username="cy"), body="A grandchild")
    page.goto(topic.get_absolute_url())
    summary = page.locator(f"#p{child.pk} > details > summary")

    label = summary.locator(".fold-label")
    assert not label.is_visible()

    summary.click()
    assert not page.get_by_text("A grandchild").is_visible()
    assert label.is_visible()
    assert label.inner_text().strip() == "· folded, with 1 reply"
    assert expanded_states(page) == {"@ann": True, "@bo": False}  # cy is folded away
    summary.click()
    assert page.get_by_text("A grandchild").is_visible()
    assert not label.is_visible()
    assert expanded_states(page) == {"@ann": True, "@bo": True, "@cy": True}


def expanded_states(page) -> dict[str, bool]:
    """What Chromium tells assistive technology about each visible post's fold, by author."""
    tree = page.context.new_cdp_session(page).send("Accessibility.getFullAXTree")
    states = {}
    for node in tree["nodes"]:
        if node.get("role", {}).get("value") == "DisclosureTriangle":
            properties = {p["name"]: p["value"].get("value") for p in node.get("properties", [])}
            states[node["name"]["value"].split()[0]] = properties.get("expanded")
    return states


def test_the_tree_is_announced_as_nested_lists(page):
    topic = TopicFactory(body="Opening post")
    ReplyFactory(parent=opening_post(topic), body="A child")
    page.goto(topic.get_absolute_url())

    snapshot = page.locator("ol.thread").aria_snapshot()

    assert snapshot.startswith("- list:\n  - listitem:\n    - group:")
    assert "\n      - list:\n        - listitem:\n          - group:" in snapshot
    # The fold mark (a minus sign or a plus) is decoration, not part of any name.
    assert "\u2212" not in snapshot
    assert "+ " not in snapshot


def test_permalinks_and_parent_links(page):
    topic = TopicFactory(body="Opening post")
    parent = ReplyFactory(parent=opening_post(topic), body="The parent")
    child = ReplyFactory(parent=parent, body="The child")
    for number in range(30):  # enough posts to scroll
        ReplyFactory(topic=topic, body=f"Filler {number}")
    page.goto(f"/p/{child.pk}/")

    assert page.url.endswith(f"{topic.get_absolute_url()}#p{child.pk}")
    page.locator(f"#p{child.pk} .post-links a", has_text="Parent").click()
    assert page.url.endswith(f"#p{parent.pk}")
    assert page.locator(f"#p{parent.pk}").is_visible()
    page.locator(f"#p{parent.pk} .post-links a", has_text="Link").first.click()
    assert page.url.endswith(f"#p{parent.pk}")


def test_members_edit_and_delete_their_posts(page, log_in):
    author = regular_member()
    topic = TopicFactory(author=author, body="Opening post")
    reply = ReplyFactory(parent=opening_post(topic), author=author, body="Frist!")
    ReplyFactory(parent=reply, body="An answer")
    log_in(page, author)
    page.goto(topic.get_absolute_url())

    page.locator(f"#p{reply.pk} .post-tools a", has_text="Edit").click()
    page.fill("#id_body", "First!")
    page.click("button:has-text('Preview')")
    assert page.inner_text(".preview").endswith("First!")
    page.click("button:has-text('Save changes')")
    assert "First!" in page.inner_text(f"#p{reply.pk} > details > .post-body")
    assert page.locator(f"#p{reply.pk} .edited").is_visible()

    page.locator(f"#p{reply.pk} .post-tools a", has_text="Delete").click()
    page.click("button:has-text('Delete')")
    assert "[deleted by its author]" in page.inner_text(f"#p{reply.pk}")
    assert "An answer" in page.inner_text(f"#p{reply.pk}")


def test_a_moderator_locks_a_topic_and_removes_a_post_in_the_admin(page, moderator):
    topic = TopicFactory(title="Heated", body="Opening post")
    rude = ReplyFactory(parent=opening_post(topic), body="Something rude")
    page.goto("/admin/")
    page.fill("#id_username", "mod")
    page.fill("#id_password", "correct horse battery staple")
    page.click("input[type=submit]")

    page.goto("/admin/threads/topic/")
    page.check(f"input[name=_selected_action][value='{topic.pk}']")
    page.select_option("select[name=action]", "lock")
    page.click("button[name=index]")
    assert "Locked 1 topic." in page.inner_text(".messagelist")

    page.goto(f"/admin/threads/post/?topic__id__exact={topic.pk}")
    page.check(f"input[name=_selected_action][value='{rude.pk}']")
    page.select_option("select[name=action]", "remove")
    page.click("button[name=index]")
    page.fill("#id_reason", "Personal attack")
    page.click("input[value=Remove]")

    page.goto(topic.get_absolute_url())
    assert "This topic is locked" in page.inner_text("main")
    assert "[removed by a moderator]" in page.inner_text(f"#p{rude.pk}")
    assert "Something rude" not in page.inner_text("main")


def test_times_read_relative_and_keep_the_exact_time(page):
    topic = TopicFactory(created=timezone.now() - timedelta(hours=3))
    page.goto(topic.get_absolute_url())

    time = page.locator(f"#p{opening_post(topic).pk} time")

    assert time.inner_text() == "3 hours ago"
    assert time.get_attribute("title").endswith("UTC")
    assert time.get_attribute("datetime").endswith("Z")


def test_n_goes_to_the_next_new_post_and_the_link_to_the_first(page, log_in):
    reader = regular_member(username="eve")
    topic = TopicFactory(author=UserFactory(username="ann"), body="Opening post")
    log_in(page, reader)
    page.goto(topic.get_absolute_url())  # everything seen
    first = ReplyFactory(parent=opening_post(topic), author=UserFactory(username="bo"))
    ReplyFactory(parent=first, author=reader)  # her own: never new
    second = ReplyFactory(topic=topic, author=UserFactory(username="di"))
    page.goto(topic.get_absolute_url())

    def focused() -> str:
        return page.evaluate("document.activeElement.closest('li.post').id")

    assert page.locator("li.post.new").count() == 2
    page.keyboard.press("n")
    assert focused() == f"p{first.pk}"
    page.keyboard.press("n")
    assert focused() == f"p{second.pk}"
    page.keyboard.press("n")  # no more: stays
    assert focused() == f"p{second.pk}"
    page.click(".new-posts a")
    assert page.evaluate("location.hash") == f"#p{first.pk}"
    page.reload()
    assert page.locator("li.post.new").count() == 0


def test_keys_move_between_posts_and_fold_them(page):
    topic = TopicFactory(author=UserFactory(username="ann"), body="Opening post")
    first = ReplyFactory(parent=opening_post(topic), author=UserFactory(username="bo"))
    ReplyFactory(parent=first, author=UserFactory(username="cy"))
    second = ReplyFactory(topic=topic, author=UserFactory(username="di"))
    page.goto(topic.get_absolute_url())

    def focused() -> str:
        return page.evaluate("document.activeElement.closest('li.post').id")

    page.keyboard.press("j")
    assert focused() == f"p{opening_post(topic).pk}"
    page.keyboard.press("j")
    assert focused() == f"p{first.pk}"
    page.keyboard.press("Enter")  # folds the first reply and its answer
    page.keyboard.press("j")
    assert focused() == f"p{second.pk}"
    page.keyboard.press("k")
    assert focused() == f"p{first.pk}"
    assert expanded_states(page) == {"@ann": True, "@bo": False, "@di": True}
    assert page.locator(".keys-hint").is_visible()
    page.goto("/")  # no posts, so no keys to tell about
    assert not page.locator(".keys-hint").is_visible()


def test_every_control_on_a_topic_page_is_reachable_by_keyboard(page, log_in):
    member = regular_member()
    topic = TopicFactory(author=member, body="Opening post")
    ReplyFactory(parent=opening_post(topic), author=member, body="Mine")
    log_in(page, member)
    page.goto(topic.get_absolute_url())
    position = (
        "Array.from(document.querySelectorAll("
        "'a[href], button, input:not([type=hidden]), textarea, summary'))"
        ".filter(e => e.checkVisibility())"
    )
    controls = page.evaluate(position + ".length")

    reached = set()
    for _ in range(controls + 3):
        page.keyboard.press("Tab")
        reached.add(page.evaluate(position + ".indexOf(document.activeElement)"))

    assert reached >= set(range(controls))
    page.goto(topic.get_absolute_url())
    page.keyboard.press("Tab")
    assert page.evaluate("document.activeElement.textContent") == "Skip to content"


def test_everything_is_served_by_the_forum_itself(page, live_server):
    topic = TopicFactory(body="See https://example.org and ![an image](https://example.org/x.png)")
    requests: list[str] = []
    page.on("request", lambda request: requests.append(request.url))

    for path in ["/", topic.get_absolute_url(), "/accounts/login/"]:
        page.goto(path)

    assert requests
    assert all(url.startswith(live_server.url) for url in requests), requests


# --- Screenshots and accessibility -------------------------------------------------------


@pytest.fixture
def pages(moderator):
    """The pages shown in the screenshots: a topic list, a deep topic, a form, an error."""
    alice, bob = regular_member(username="alice"), regular_member(username="bob")
    services.profile_update(user=bob, display_name="Bob Ferreira", bio="I keep **backups**.")
    for number in range(6):
        TopicFactory(author=bob, title=f"Backups, part {number}", body="Let us talk backups.")
    deep = TopicFactory(
        author=alice,
        title="How deep can a friendly argument go?",
        body="Some threads go **very** deep. Here is one, with `code` and a list:\n\n"
        "- tabs or spaces\n- vim or emacs",
    )
    services.topic_set_pinned(topic=deep, moderator=moderator, pinned=True)
    parent = opening_post(deep)
    for depth in range(1, 15):
        parent = ReplyFactory(
            parent=parent,
            author=alice if depth % 2 else bob,
            body=f"Reply at depth {depth}. I see your point, but consider the other side.",
        )
    ReplyFactory(topic=deep, author=bob, body="A second top-level reply, short.")
    TopicFactory(author=bob, title="Who keeps tapes?", body="@alice, you do, don't you?")
    return {"deep": deep, "member": alice}


PAGES = {
    "topic-list": lambda d, page: page.goto("/"),
    "deep-topic": lambda d, page: page.goto(d["deep"].get_absolute_url()),
    "reply-form": lambda d, page: page.goto(f"/p/{opening_post(d['deep']).pk}/reply/"),
    "settings": lambda d, page: page.goto("/settings/"),
    "avatar-settings": lambda d, page: page.goto("/settings/avatar/"),
    "email-settings": lambda d, page: page.goto("/settings/email/"),
    "notification-settings": lambda d, page: page.goto("/settings/notifications/"),
    "notifications": lambda d, page: page.goto("/notifications/"),
    "profile": lambda d, page: page.goto("/u/bob/"),
    "search": lambda d, page: page.goto("/search/?q=backups"),
    "form-error": lambda d, page: (
        page.goto(f"/p/{opening_post(d['deep']).pk}/reply/"),
        page.fill("#id_body", "   "),  # passes the browser's check, not the forum's
        page.click("button:has-text('Post reply')"),
    ),
}


@pytest.mark.parametrize("width", [1280, 375])
@pytest.mark.parametrize("name", list(PAGES))
def test_screenshots_and_accessibility(open_page, log_in, pages, name, width):
    page = open_page(width=width)
    log_in(page, pages["member"])
    PAGES[name](pages, page)
    page.wait_for_load_state("load")
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / f"{name}-{width}.png", full_page=True)

    page.evaluate(AXE)
    violations = page.evaluate(
        "axe.run(document).then(result => result.violations"
        ".filter(v => v.impact === 'serious' || v.impact === 'critical')"
        ".map(v => v.id + ': ' + v.nodes.map(n => n.target.join(' ')).join(', ')))"
    )
    assert violations == []
    if name == "form-error":
        assert "The message is empty" in page.inner_text(".errorlist")


def test_dark_mode(open_page, pages):
    page = open_page(color_scheme="dark")
    page.goto(pages["deep"].get_absolute_url())
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=SCREENSHOTS / "deep-topic-1280-dark.png")

    background = page.evaluate("getComputedStyle(document.body).backgroundColor")
    assert background == "rgb(21, 23, 26)"
    page.evaluate(AXE)
    contrast = page.evaluate(
        "axe.run(document, {runOnly: ['color-contrast']}).then(r => r.violations.length)"
    )
    assert contrast == 0


def test_a_reply_ten_deep_keeps_most_of_a_phone_screen(open_page, pages):
    page = open_page(width=375)
    page.goto(pages["deep"].get_absolute_url())
    deep = Post.objects.get(body__startswith="Reply at depth 10.")

    body = page.locator(f"#p{deep.pk} > details > .post-body").bounding_box()

    assert body["width"] >= 0.6 * 375
    assert body["x"] + body["width"] <= 375


def test_lists_in_posts_keep_their_numbers_and_bullets(page):
    topic = TopicFactory(body="Steps:\n\n1. one\n2. two\n\nThings:\n\n- a\n- b")
    ReplyFactory(parent=opening_post(topic), body="1. first\n2. second")
    page.goto(topic.get_absolute_url())

    styles = page.eval_on_selector_all(
        ".post-body ol, .post-body ul", "lists => lists.map(l => getComputedStyle(l).listStyleType)"
    )

    assert styles == ["decimal", "disc", "decimal"]


def test_a_visitor_types_into_the_header_box_and_lands_on_the_post(open_page):
    bob = regular_member(username="bob")
    insiders = Group.objects.create(name="insiders")
    back_room = CategoryFactory(name="Back room", who_sees="groups", seer_groups=[insiders])
    topic = TopicFactory(author=bob, title="Tape drives", body="Which tape drive do you use?")
    for number in range(40):  # enough to put the reply on the topic's second page
        ReplyFactory(topic=topic, author=bob, body=f"Filler reply {number}.")
    reply = ReplyFactory(topic=topic, author=bob, body="An LTO-8 drive, with **barcode** labels.")
    insider = in_groups(regular_member(username="insider"), insiders)
    TopicFactory(author=insider, title="Secret", body="Barcode labels.", category=back_room)
    page = open_page()

    page.goto("/")
    page.fill("#site-search-q", "barcode labels")
    page.press("#site-search-q", "Enter")
    assert page.inner_text(".search-count") == "1 post matches."
    assert page.inner_text(".search-result mark") == "barcode"
    assert "Back room" not in page.content()
    page.click(".search-result h2 a")

    assert page.url.endswith(f"#p{reply.pk}")
    assert page.inner_text("h1") == "Tape drives"
    assert page.locator(f"#p{reply.pk}").is_visible()
    page.fill("#topic-search-q", "filler 7")
    page.click("button:has-text('Search in this topic')")
    assert page.input_value("#search-q") == f"topic:{topic.pk} filler 7"
    assert page.inner_text(".search-count") == "1 post matches."


def test_a_member_starts_a_topic_in_a_category_and_finds_it_there(open_page, log_in):
    help_desk = CategoryFactory(name="Help", description="Ask here.")
    insiders = Group.objects.create(name="insiders")
    CategoryFactory(name="Back room", who_sees="groups", seer_groups=[insiders])
    member = regular_member(username="walker")
    page = open_page()
    log_in(page, member)

    page.goto("/")
    assert page.locator(".category-list").get_by_text("Ask here.").is_visible()
    assert "Back room" not in page.content()
    page.click(".category-list >> text=Help")
    page.click(".page-heading >> text=Start a topic")
    assert page.input_value("#id_category") == "help"
    assert "Back room" not in page.inner_text("#id_category")
    page.fill("#id_title", "Where do I start?")
    page.fill("#id_body", "Looking for the first step.")
    page.click("button:has-text('Start topic')")

    assert page.inner_text("h1") == "Where do I start?"
    assert page.inner_text(".breadcrumbs") == "Forum \u203a Help"
    page.click(".breadcrumbs >> text=Help")
    assert page.locator(".topic-list").get_by_text("Where do I start?").is_visible()
    page.goto("/")
    assert "1 topic · 1 post" in page.inner_text(".category-list")
    assert Topic.objects.get(title="Where do I start?").category == help_desk


def test_a_new_member_confirms_their_address_and_shows_a_name_and_avatar_on_every_post(
    open_page, start_worker, smtp_server, tmp_path
):
    """Through the pages, with a real worker sending mail to a real SMTP server."""
    from urllib.parse import urlsplit

    from . import images

    worker = start_worker(**smtp_server.environment)
    page = open_page()
    page.goto("/accounts/signup/")
    page.fill("#id_username", "wren")
    page.fill("#id_email", "wren@example.org")
    page.fill("#id_password1", "a long and unusual password")
    page.fill("#id_password2", "a long and unusual password")
    page.click("button:has-text('Create account')")
    wren = User.objects.get(username="wren")
    topic = TopicFactory(author=wren, title="Birds at dawn", body="Who hears them?")
    ReplyFactory(parent=opening_post(topic), author=regular_member(), body="I do.")
    ReplyFactory(topic=topic, author=wren, body="The robin starts first.")

    page.click(".site-nav >> text=Settings")
    page.fill("#id_display_name", "Wren Hollis")
    page.click("button:has-text('Save')")
    assert "Saved." in page.inner_text(".messages")
    page.click(".settings-nav >> text=Avatar")
    picture = tmp_path / "me.jpg"
    picture.write_bytes(images.jpeg_with_metadata())
    page.set_input_files("#id_image", str(picture))
    page.click("button:has-text('Upload')")
    assert "Your new avatar is saved" in page.inner_text(".messages")

    page.goto(topic.get_absolute_url())
    bylines = page.locator(".byline:has(.handle:text('@wren'))")
    deadline = time.monotonic() + 30
    while bylines.count() < 2 and time.monotonic() < deadline:  # the worker rewrites them
        time.sleep(0.2)
        page.reload()
    assert bylines.count() == 2, worker.log_text()
    for byline in bylines.all():
        assert byline.locator(".display-name").inner_text() == "Wren Hollis"
        assert (
            byline.locator("img.avatar").evaluate("img => img.complete && img.naturalWidth") == 64
        )
    page.goto("/")
    author = page.locator(".topic-row:has-text('Birds at dawn') .topic-author")
    assert author.locator(".display-name").inner_text() == "Wren Hollis"
    assert author.locator("img.avatar").count() == 1

    ((_, recipients, mail),) = smtp_server.wait_for(1)
    assert recipients == ["wren@example.org"]
    link = next(line for line in mail.get_content().splitlines() if "/confirm/" in line)
    page.goto(urlsplit(link.strip()).path)
    assert not User.objects.get(pk=wren.pk).email_confirmed  # opening the link is not enough
    page.click("button:has-text('Confirm')")
    assert User.objects.get(pk=wren.pk).email_confirmed


# --- Notifications ------------------------------------------------------------------------


def _reply_through_the_page(page, post: Post, text: str) -> None:
    page.goto(f"/p/{post.pk}/reply/")
    page.fill("#id_body", text)
    page.click("button:has-text('Post reply')")


def test_bob_answers_alice_and_mentions_carol_and_both_learn_of_it_as_they_chose(
    open_page, log_in, start_worker, smtp_server, settings
):
    """The issue's walk through the pages: bob replies to alice and mentions carol; both see
    the count, the inbox entry and the new marks, and get the mail they chose (alice soon
    after, carol the digest) through the worker and the SMTP server; dana, who muted the
    topic, and erin, who watches a private category she may not see, learn nothing."""
    from django_tasks_db.models import DBTaskResult

    # Long enough for bob's three replies to be one batch for alice.
    settings.FORUM_NOTIFICATION_MAIL_DELAY = timedelta(seconds=5)
    confirmed = {"email_confirmed": True}
    alice = regular_member(username="alice", **confirmed)
    bob = regular_member(username="bob", **confirmed)
    carol = regular_member(username="carol", mailing=User.Mailing.DIGEST, **confirmed)
    dana = regular_member(username="dana", **confirmed)
    erin = regular_member(username="erin", **confirmed)
    staff = Group.objects.create(name="Staff")
    alice.groups.add(staff)
    bob.groups.add(staff)
    room = CategoryFactory(name="Staff room", who_sees="groups", seer_groups=[staff])
    topic = TopicFactory(author=alice, title="Backups at home", body="How do you back up?")
    secret = TopicFactory(author=alice, title="Secret plans", category=room, body="Shh.")
    danas = ReplyFactory(parent=opening_post(topic), author=dana, body="A disk in a drawer.")
    services.watch_set(member=dana, topic=topic, level="muted")
    services.watch_set(member=erin, category=room, level="watching")
    services.notifications_all_read(member=alice)  # she had heard of dana's answer
    start_worker(**smtp_server.environment, FORUM_NOTIFICATION_MAIL_DELAY="5")

    page = open_page()
    log_in(page, bob)
    _reply_through_the_page(page, opening_post(topic), "restic, and @carol uses tapes")
    reply = Post.objects.order_by("pk").last()
    assert page.locator(f"#p{reply.pk} a.mention").inner_text() == "@carol"
    _reply_through_the_page(page, danas, "Drawers flood, @dana.")
    _reply_through_the_page(page, opening_post(secret), "The plan: @erin must not know.")

    smtp_server.wait_for(2)  # alice's (one per topic), the delay after
    digests = DBTaskResult.objects.filter(status="READY", task_path__endswith="digest_mails_task")
    digests.update(run_after=timezone.now())  # the digest's hour comes
    smtp_server.wait_for(3)
    time.sleep(2)  # nothing else comes
    mails = sorted(
        ((to, message["Subject"], message) for _, (to,), message in smtp_server.messages),
        key=lambda mail: mail[:2],
    )
    assert [(to, subject) for to, subject, _ in mails] == [
        ("alice@example.org", "New replies in Backups at home"),
        ("alice@example.org", "New replies in Secret plans"),
        ("carol@example.org", "Your forum digest: 1 new post in 1 topic"),
    ]
    text = mails[0][2].get_body(preferencelist=("plain",)).get_content()
    assert "@bob replied to you" in text
    assert "restic, and @carol uses tapes" in text
    assert "Drawers flood, @dana." in text  # she watches the topic she started

    # alice watches the topic she started: bob's answer to dana is news to her too.
    for member, said, unread, left in (
        (alice, "@bob replied to you", 3, 1),  # left: the reply in Secret plans
        (carol, "@bob mentioned you", 1, 0),
    ):
        page = open_page()
        log_in(page, member)
        page.goto("/")
        inbox = page.locator(".site-nav .inbox-link")
        assert inbox.get_attribute("aria-label") == f"Notifications: {unread} unread"
        assert inbox.locator(".inbox-count").inner_text() == str(unread)
        inbox.click()
        entry = page.locator("li.notification.unread", has_text=f"{said} in Backups at home")
        entry.locator(".notification-link").click()
        assert page.evaluate("location.hash") == f"#p{reply.pk}"
        assert page.locator(f"li.post.new#p{reply.pk}").count() == 1
        page.goto("/notifications/")  # reading the topic read its entries
        assert page.locator("li.notification.unread").count() == left
        assert page.locator(".site-nav .inbox-count").count() == (1 if left else 0)
    for member in (dana, erin):
        page = open_page()
        log_in(page, member)
        page.goto("/notifications/")
        assert page.locator(".site-nav .inbox-count").count() == 0
        assert page.locator("li.notification").count() == 0


def test_a_member_chooses_their_mail_and_mutes_a_topic(open_page, log_in):
    alice = regular_member(username="alice")
    topic = TopicFactory(author=regular_member(username="bob"), title="Loud topic")
    page = open_page()
    log_in(page, alice)

    page.goto("/settings/")
    page.click(".settings-nav >> text=Notifications")
    page.check("input[name=mailing][value=digest]")
    page.uncheck("#id_watch_own_topics")
    page.click("button:has-text('Save')")
    assert "Saved." in page.inner_text(".messages")
    assert page.is_checked("input[name=mailing][value=digest]")
    alice.refresh_from_db()
    assert (alice.mailing, alice.watch_own_topics) == ("digest", False)

    page.goto(topic.get_absolute_url())
    page.select_option("#watch-level", "muted")
    page.click(".watch-form button")
    assert "You muted this topic" in page.inner_text(".messages")
    assert page.input_value("#watch-level") == "muted"
    ReplyFactory(parent=opening_post(topic), author=regular_member(), body="@alice!")
    page.reload()
    assert page.locator(".site-nav .inbox-count").count() == 0


def test_a_member_reports_a_post_a_moderator_removes_it_and_the_log_says_why(
    open_page, log_in, member, moderator
):
    topic = TopicFactory(title="Garden tools", body="Which spade do you use?")
    spam = ReplyFactory(parent=opening_post(topic), body="Cheap watches at example.invalid")
    alice = open_page()
    log_in(alice, member)

    alice.goto(topic.get_absolute_url())
    alice.click(f"#p{spam.pk} a.report-link")
    alice.check("input[name=why][value=spam]")
    alice.fill("textarea[name=note]", "An advert for watches")
    alice.click("#report-form button[type=submit]")
    assert "Thank you: the moderators will look at the post." in alice.inner_text("main")

    mod = open_page()
    mod.goto("/admin/")
    mod.fill("#id_username", "mod")
    mod.fill("#id_password", "correct horse battery staple")
    mod.click("input[type=submit]")
    mod.goto("/admin/threads/report/")
    queue = mod.inner_text("#result_list")
    assert "Cheap watches" in queue
    assert "An advert for watches" in queue
    mod.check("input[name=_selected_action]")
    mod.select_option("select[name=action]", "remove")
    mod.click("button[name=index]")
    mod.fill("#id_reason", "Spam: an advert")
    mod.click("input[type=submit]")
    assert "Removed 1" in mod.inner_text(".messagelist")
    assert "Cheap watches" not in mod.inner_text("#content")

    alice.goto("/moderation/")
    entry = alice.inner_text("ol.moderation-log li:first-child")
    assert "@mod removed a post by @" in entry
    assert "Garden tools" in entry
    assert "Reason: Spam: an advert" in entry
    alice.click("ol.moderation-log li:first-child a:has-text('the post')")
    assert "[removed by a moderator]" in alice.inner_text(f"#p{spam.pk}")
    assert "Cheap watches" not in alice.inner_text("main")
    alice.goto(f"/p/{spam.pk}/report/")
    assert "Outcome: the post was removed" in alice.inner_text("main")
