import os
import subprocess
import sys
from datetime import UTC, datetime
from html import escape
from io import StringIO
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.core.management import CommandError, call_command
from django.db.models import F

from threads import conversation, rendering, selectors, services
from threads.models import Category, Post, Topic, User

from .factories import ReplyFactory, TopicFactory, UserFactory, importer
from .helpers import opening_post, tree_shape

pytestmark = pytest.mark.django_db


ROOT = Path(__file__).resolve().parents[1]
GOOD = """\
### One
- @ann [2025-02-12T01:14:44Z]: hello
  - @bob [2025-02-12T01:15:00Z]: hi
"""
OTHER = """\
### Two
- @cy [2025-02-12T02:00:00Z]: another
"""


def run(*args) -> tuple[str, str]:
    if args[0] == "import_conversation":
        importer()  # the moderator the tests import as
    out, err = StringIO(), StringIO()
    call_command(*args, stdout=out, stderr=err)
    return out.getvalue(), err.getvalue()


@pytest.fixture
def files(tmp_path):
    def write(name: str, text: str | bytes) -> str:
        path = tmp_path / name
        path.write_bytes(text.encode() if isinstance(text, str) else text)
        return str(path)

    return write


def test_import_reports_what_it_imported(files):
    out, _ = run(
        "import_conversation", "--moderator", "importer", files("a.md", GOOD), files("b.md", OTHER)
    )

    assert out == (
        "Imported 2 topic(s), 3 post(s), 3 new account(s) (ann, bob, cy) into General.\n"
        "New accounts cannot log in until a moderator activates them in the admin.\n"
    )
    assert [t.title for t in Topic.objects.order_by("pk")] == ["One", "Two"]
    assert tree_shape(Topic.objects.get(title="One")) == "ann: hello\n  bob: hi"


def test_the_summary_names_ten_new_accounts_then_counts_the_rest(files):
    messages = "".join(f"  - @user{n:02} [2025-02-12T01:{n:02}:00Z]: hi\n" for n in range(13))
    many = files("many.md", "### Many\n- @ann [2025-02-12T01:00:00Z]: hello\n" + messages)

    out, _ = run("import_conversation", "--moderator", "importer", many)

    assert out.startswith(
        "Imported 1 topic(s), 14 post(s), 14 new account(s) (ann, user00, user01, user02, "
        "user03, user04, user05, user06, user07, user08 and 4 more) into General.\n"
    )


def test_import_dry_run_writes_nothing(files):
    out, _ = run("import_conversation", "--moderator", "importer", "--dry-run", files("a.md", GOOD))

    assert out.startswith("Dry run: the files are valid and would import 1 topic(s), 2 post(s)")
    assert not Topic.objects.exists()
    assert not User.objects.exclude(username="importer").exists()


def test_a_bad_file_anywhere_imports_nothing(files):
    bad = files("bad.md", "### Bad\n- @ann [2025-02-12T01:14:44Z]: x\n   - @bob [2025]: y\n")

    with pytest.raises(CommandError, match=r"bad\.md:3: odd indentation \(3 spaces\)"):
        run("import_conversation", "--moderator", "importer", files("a.md", GOOD), bad)
    assert not Topic.objects.exists()


def test_a_message_too_complex_to_format_is_named_with_its_line(files):
    """Deeply nested lists used to end the command in a RecursionError traceback."""
    deep = files("deep.md", "### Deep\n- @ann [2025-01-01T00:00:00Z]: " + "- " * 500 + "x\n")

    with pytest.raises(CommandError, match=r"deep\.md:2: This post is too complex to format"):
        run("import_conversation", "--moderator", "importer", deep)
    assert not Topic.objects.exists()


def test_import_needs_a_moderator(files, member):
    with pytest.raises(CommandError, match="@alice is not a moderator"):
        run("import_conversation", "--moderator", "alice", files("a.md", GOOD))
    with pytest.raises(CommandError, match="@nobody is not a moderator"):
        run("import_conversation", "--moderator", "nobody", files("a.md", GOOD))
    assert not Topic.objects.exists()


def test_import_of_staff_messages_needs_the_option(files, moderator):
    staff = files("staff.md", "### Notice\n- @mod [2025-01-01T00:00:00Z]: from the team\n")

    with pytest.raises(CommandError, match=r"staff\.md:2: @mod is a staff account"):
        run("import_conversation", "--moderator", "mod", staff)
    run("import_conversation", "--moderator", "mod", "--allow-staff-handles", staff)

    assert tree_shape(Topic.objects.get()) == "mod: from the team"


def test_a_missing_file_is_named(tmp_path):
    with pytest.raises(CommandError, match=r"nothere\.md: No such file"):
        run("import_conversation", "--moderator", "importer", str(tmp_path / "nothere.md"))


def test_import_exits_non_zero_with_file_and_line(files, tmp_path):
    bad = files("bad.md", "### Bad\n- @ann [soon]: x\n")
    env = {**os.environ, "DJANGO_SETTINGS_MODULE": "tests.settings"}
    env["DATABASE_URL"] = f"sqlite:///{tmp_path / 'cli.sqlite3'}"

    result = subprocess.run(
        [sys.executable, "manage.py", "import_conversation", "--moderator", "importer", bad],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )

    assert result.returncode == 1
    assert f"{bad}:2: unreadable timestamp [soon]" in result.stderr


def test_export_writes_the_canonical_form_to_stdout(files):
    run("import_conversation", "--moderator", "importer", files("a.md", GOOD), files("b.md", OTHER))

    out, _ = run("export_conversation")

    assert out == GOOD + "\n" + OTHER


def test_export_chosen_topics_to_a_file(files, tmp_path):
    run("import_conversation", "--moderator", "importer", files("a.md", GOOD), files("b.md", OTHER))
    two = Topic.objects.get(title="Two")
    target = tmp_path / "out.md"

    run("export_conversation", "--topic", str(two.pk), "--output", str(target))

    assert target.read_text() == OTHER


def test_export_refuses_unknown_topics():
    with pytest.raises(CommandError, match="No topic with id 41, 42"):
        run("export_conversation", "--topic", "42", "--topic", "41")


def test_rerender_posts(topic, monkeypatch):
    ReplyFactory(topic=topic, author=topic.author)
    Post.objects.update(body_html="stale")
    monkeypatch.setattr(rendering, "RENDER_VERSION", rendering.RENDER_VERSION + 1)

    out, _ = run("rerender_posts")

    assert out == "Rendered 2 post(s).\n"
    assert opening_post(topic).body_html == "<p>Hello, <strong>forum</strong>.</p>"
    assert run("rerender_posts")[0] == "Rendered 0 post(s).\n"
    assert run("rerender_posts", "--all")[0] == "Rendered 2 post(s).\n"


def test_exported_forum_reimports_identically(files):
    run("import_conversation", "--moderator", "importer", files("a.md", GOOD + "\n" + OTHER))
    first = selectors.conversation_export()
    Topic.objects.all().delete()

    run("import_conversation", "--moderator", "importer", files("again.md", first))

    assert selectors.conversation_export() == first


# --- Categories: import into one, export one --------------------------------------------


@pytest.fixture
def help_desk(db):
    """A category "Help", moderated by the group Help desk, whose member is @helper."""
    group = Group.objects.create(name="Help desk")
    helper = UserFactory(username="helper", is_staff=True)  # moderators are staff
    helper.groups.add(group)
    return services.category_create(moderator=None, name="Help", moderator_groups=[group])


def _counts(category: Category) -> tuple:
    category.refresh_from_db()
    return (
        category.topic_count,
        category.post_count,
        category.last_topic and category.last_topic.title,
        category.last_activity,
    )


def test_import_goes_into_the_default_category(files, help_desk):
    run("import_conversation", "--moderator", "importer", files("a.md", GOOD))

    general = services.default_category()
    assert Topic.objects.get().category == general
    assert _counts(general) == (1, 2, "One", datetime(2025, 2, 12, 1, 15, tzinfo=UTC))
    assert _counts(help_desk) == (0, 0, None, None)


def test_import_into_a_category_keeps_its_counts(files, help_desk, member):
    older = TopicFactory(
        author=member, title="Older", category=help_desk, created=datetime(2025, 1, 1, tzinfo=UTC)
    )
    ReplyFactory(topic=older, author=member)

    out, _ = run(
        "import_conversation",
        "--moderator",
        "importer",
        "--category",
        "help",
        files("a.md", GOOD),
        files("b.md", OTHER),
    )

    assert out.startswith(
        "Imported 2 topic(s), 3 post(s), 3 new account(s) (ann, bob, cy) into Help."
    )
    assert sorted(Topic.objects.filter(category=help_desk).values_list("title", flat=True)) == [
        "Older",
        "One",
        "Two",
    ]
    # Its own topic has the latest activity (the reply, just now), not the imported ones.
    assert _counts(help_desk) == (3, 5, "Older", Topic.objects.get(title="Older").last_activity)
    assert _counts(services.default_category()) == (0, 0, None, None)


def test_a_dry_run_into_a_category_names_it(files, help_desk):
    out, _ = run(
        "import_conversation",
        "--moderator",
        "importer",
        "--category",
        "help",
        "--dry-run",
        files("a.md", GOOD),
    )

    assert out == (
        "Dry run: the files are valid and would import 1 topic(s), 2 post(s), "
        "2 new account(s) (ann, bob) into Help.\n"
    )
    assert not Topic.objects.exists()
    assert _counts(help_desk) == (0, 0, None, None)


def test_an_unknown_category_is_named_with_the_ones_there_are(files, help_desk):
    with pytest.raises(CommandError) as caught:
        run(
            "import_conversation",
            "--moderator",
            "importer",
            "--category",
            "hlep",
            files("a.md", GOOD),
        )

    assert str(caught.value) == (
        "--category: no category has the slug 'hlep'; the categories are: general, help."
    )
    assert not Topic.objects.exists()


def test_a_category_moderator_imports_into_their_category_only(files, help_desk):
    with pytest.raises(CommandError, match=r"@helper is not a moderator of General \(general\)\."):
        run("import_conversation", "--moderator", "helper", files("a.md", GOOD))
    assert not Topic.objects.exists()

    run("import_conversation", "--moderator", "helper", "--category", "help", files("a.md", GOOD))

    assert Topic.objects.get().category == help_desk
    assert _counts(help_desk)[:2] == (1, 2)


def test_import_into_a_private_category_needs_its_moderator(files, help_desk, member):
    private = services.category_create(
        moderator=None, name="Staff", who_sees=Category.Seers.GROUPS, parent=help_desk
    )
    member.groups.add(*help_desk.moderator_groups.all())  # alice moderates Help and below
    User.objects.filter(pk=member.pk).update(is_staff=True)

    run("import_conversation", "--moderator", "alice", "--category", "staff", files("a.md", GOOD))
    with pytest.raises(CommandError, match=r"@bob is not a moderator of Staff \(staff\)"):
        run(
            "import_conversation", "--moderator", "bob", "--category", "staff", files("b.md", OTHER)
        )

    assert Topic.objects.get().category == private


def test_the_import_service_checks_the_category(help_desk):
    """It used to ask only whether the importer moderates the whole forum."""
    helper = User.objects.get(username="helper")
    document = conversation.read(GOOD.encode(), filename="a.md")

    with pytest.raises(services.Refused, match=r"^Only moderators can do that\.$"):
        services.conversation_import(documents=[document], moderator=helper)
    with pytest.raises(services.Refused, match=r"^Only moderators can do that\.$"):
        services.conversation_import(
            documents=[document], moderator=helper, category=services.default_category()
        )
    private = services.category_create(
        moderator=None, name="Hidden", who_sees=Category.Seers.GROUPS
    )
    with pytest.raises(services.Refused, match=r"^Only moderators can do that\.$"):
        services.conversation_import(documents=[document], moderator=helper, category=private)
    assert not Topic.objects.exists()

    # The category as read by anyone, without the helper's rights annotated on it.
    summary = services.conversation_import(
        documents=[document], moderator=helper, category=Category.objects.get(slug="help")
    )

    assert summary.topics == 1
    assert Topic.objects.get().category == help_desk


def test_export_a_category(files, help_desk):
    run("import_conversation", "--moderator", "importer", "--category", "help", files("a.md", GOOD))
    run("import_conversation", "--moderator", "importer", files("b.md", OTHER))

    assert run("export_conversation", "--category", "help")[0] == GOOD
    assert run("export_conversation", "--category", "general")[0] == OTHER
    assert run("export_conversation")[0] == GOOD + "\n" + OTHER


def test_export_chosen_topics_of_a_category(files, help_desk, tmp_path):
    run(
        "import_conversation",
        "--moderator",
        "importer",
        "--category",
        "help",
        files("a.md", GOOD + "\n" + OTHER),
    )
    run("import_conversation", "--moderator", "importer", files("b.md", OTHER))
    two_in_help = Topic.objects.get(title="Two", category=help_desk)
    target = tmp_path / "out.md"

    run(
        "export_conversation",
        "--category",
        "help",
        "--topic",
        str(two_in_help.pk),
        "-o",
        str(target),
    )

    assert target.read_text() == OTHER
    elsewhere = Topic.objects.get(category__slug="general")
    with pytest.raises(CommandError, match=rf"^Topic {elsewhere.pk} is not in Help \(help\)\.$"):
        run("export_conversation", "--category", "help", "--topic", str(elsewhere.pk))
    with pytest.raises(CommandError, match=r"^Topics \d+, \d+ are not in General \(general\)\.$"):
        run(
            "export_conversation",
            "--category",
            "general",
            "--topic",
            str(two_in_help.pk),
            "--topic",
            str(two_in_help.pk - 1),
        )


def test_export_refuses_an_unknown_category(help_desk):
    with pytest.raises(CommandError, match=r"no category has the slug 'nope'; .*: general, help\."):
        run("export_conversation", "--category", "nope")


def test_a_category_round_trips_to_the_same_bytes(files, help_desk):
    canonical = GOOD + "\n" + OTHER
    run(
        "import_conversation",
        "--moderator",
        "importer",
        "--category",
        "help",
        files("a.md", canonical),
    )
    run("import_conversation", "--moderator", "importer", files("b.md", GOOD))
    exported = run("export_conversation", "--category", "help")[0]
    assert exported == canonical
    Topic.objects.filter(category=help_desk).delete()

    run(
        "import_conversation",
        "--moderator",
        "importer",
        "--category",
        "help",
        files("c.md", exported),
    )

    assert run("export_conversation", "--category", "help")[0].encode() == canonical.encode()
    assert run("export_conversation", "--category", "general")[0] == GOOD


# --- check_trees -----------------------------------------------------------------------


@pytest.fixture
def forum(topic, other_member):
    """Two topics with a few levels of replies."""
    op = opening_post(topic)
    first = ReplyFactory(parent=op, author=other_member, body="first")
    ReplyFactory(parent=first, author=topic.author, body="first child")
    ReplyFactory(topic=topic, author=other_member, body="top level")
    second = TopicFactory(author=other_member, title="Second", body="second opening")
    ReplyFactory(parent=opening_post(second), author=topic.author, body="second reply")
    return topic, second


def shapes(*topics) -> list[str]:
    return [tree_shape(topic) for topic in topics]


def test_check_trees_passes_a_healthy_forum(forum):
    assert run("check_trees")[0] == "All trees and reply counts are consistent.\n"


@pytest.mark.parametrize(
    ("corrupt", "expected"),
    [
        (
            lambda first: Post.objects.filter(pk=first.pk).update(lft=F("lft") + 7),
            "is not inside its parent's",
        ),
        (
            lambda first: Post.objects.filter(pk=first.pk).update(rght=F("lft")),
            "is not below right",
        ),
        (lambda first: Post.objects.filter(pk=first.pk).update(level=5), "level 5"),
        (
            lambda first: Post.objects.filter(pk=first.parent_id).update(rght=F("rght") + 2),
            "numbered unlike a walk of the tree",
        ),
        (
            lambda first: Post.objects.filter(parent=first).update(topic_id=F("topic_id") + 1),
            "but its root in topic",
        ),
        (
            lambda first: Topic.objects.filter(pk=first.topic_id).update(reply_count=9),
            "stores 9 replies but has 3",
        ),
        (
            lambda first: Post.objects.filter(tree_id=first.tree_id + 2).update(
                tree_id=first.tree_id
            ),
            "has 2 roots",
        ),
    ],
)
def test_check_trees_names_the_breakage_and_fix_repairs_only_that(forum, corrupt, expected):
    before = shapes(*forum)
    first = Post.objects.get(body="first")
    corrupt(first)

    err = StringIO()
    with pytest.raises(CommandError, match="run with --fix"):
        call_command("check_trees", stderr=err)
    assert expected in err.getvalue()

    out, _ = run("check_trees", "--fix")

    assert out.startswith("Repaired")
    assert run("check_trees")[0] == "All trees and reply counts are consistent.\n"
    assert shapes(*forum) == before
    assert Topic.objects.get(pk=forum[0].pk).reply_count == 3
    roots = Post.objects.filter(level=0)
    assert roots.values("tree_id").distinct().count() == roots.count()


def test_fix_leaves_healthy_trees_alone(forum):
    first = Post.objects.get(body="first")
    Post.objects.filter(pk=first.pk).update(level=9)
    healthy = list(
        Post.objects.filter(topic=forum[1]).order_by("pk").values_list("tree_id", "lft", "rght")
    )

    with pytest.raises(CommandError):
        run("check_trees")
    run("check_trees", "--fix")

    assert (
        list(
            Post.objects.filter(topic=forum[1]).order_by("pk").values_list("tree_id", "lft", "rght")
        )
        == healthy
    )


class Terminal(StringIO):
    def isatty(self) -> bool:
        return True


def test_import_shows_progress_on_a_terminal(files):
    importer()
    err = Terminal()

    call_command(
        "import_conversation",
        "--moderator",
        "importer",
        files("a.md", GOOD),
        stdout=StringIO(),
        stderr=err,
    )

    assert err.getvalue() == "\rRendering Markdown: 2/2\n\rWriting posts: 1/2\rWriting posts: 2/2\n"


def test_import_is_quiet_when_not_on_a_terminal(files):
    _, err = run("import_conversation", "--moderator", "importer", files("a.md", GOOD))

    assert err == ""


# --- load_demo ---------------------------------------------------------------------------


def test_load_demo_needs_debug(settings):
    settings.DEBUG = False

    with pytest.raises(CommandError, match="DJANGO_DEBUG=1"):
        run("load_demo")
    assert not Topic.objects.exists()


DEMO_DIR = ROOT / "threads" / "demo"
PRIVATE_TOPICS = [
    "Moderation notes: how we use the tools here",
    'Emeka\'s "rule 6": add it to the house rules?',
]


@pytest.fixture
def demo(settings):
    settings.DEBUG = True
    return run("load_demo")[0]


def test_load_demo_fills_an_empty_forum_once(demo):
    assert demo.startswith("Loaded 9 demo topics with 93 posts in 4 categories.")
    moderator = User.objects.get(username="moderator")
    assert moderator.check_password("forum-demo")
    assert moderator.has_perm("threads.moderate")
    assert User.objects.get(username="alice").check_password("forum-demo")
    assert [t.title for t in Topic.objects.filter(is_pinned=True)] == [
        "Welcome to Homelab Commons: how this forum works (and the house rules)"
    ]
    first_post = Post.objects.order_by("created").first().created
    assert not User.objects.filter(date_joined__gte=first_post).exists()
    assert selectors.tree_problems() == []
    assert run("load_demo")[0] == "The forum already has topics; demo content not loaded.\n"
    assert Topic.objects.count() == 9
    assert Post.objects.count() == 93


def test_the_demo_spreads_its_topics_over_categories_with_right_counts(demo):
    categories = list(Category.objects.order_by("tree_id", "lft"))

    assert [(c.name, c.slug, c.is_default) for c in categories] == [
        ("Announcements", "announcements", False),
        ("General", "general", True),
        ("Help", "help", False),
        ("Moderators' room", "moderators-room", False),
    ]
    assert [(c.topic_count, c.post_count) for c in categories] == [(1, 7), (4, 65), (2, 15), (2, 6)]
    for category in categories:
        topics = Topic.objects.filter(category=category)
        latest = topics.order_by("-last_activity", "-id").first()
        assert category.topic_count == topics.count()
        assert category.post_count == Post.objects.filter(topic__category=category).count()
        assert (category.last_topic, category.last_activity) == (latest, latest.last_activity)
    announcements, _, _, room = categories
    assert announcements.who_starts == Category.Posters.MODERATORS
    assert room.who_sees == Category.Seers.GROUPS
    assert [g.name for g in room.seer_groups.all()] == ["Demo staff"]
    assert [g.name for g in room.moderator_groups.all()] == ["Demo staff"]
    staff = Group.objects.get(name="Demo staff").user_set.order_by("username")
    assert [u.username for u in staff] == ["chidi", "moderator"]
    assert [t.title for t in Topic.objects.filter(category=room).order_by("pk")] == PRIVATE_TOPICS


@pytest.mark.parametrize(
    ("who", "sees_it"),
    [(None, False), ("alice", False), ("emeka", False), ("moderator", True), ("chidi", True)],
)
def test_the_demo_moderators_room_is_seen_only_by_demo_staff(demo, client, who, sees_it):
    if who:
        client.force_login(User.objects.get(username=who))
    room = Topic.objects.filter(category__slug="moderators-room").order_by("pk").first()

    index = client.get("/")
    html = index.content.decode()

    assert index.status_code == 200
    for name in ["Announcements", "General", "Help", "Welcome to Homelab Commons"]:
        assert name in html
    assert (escape("Moderators' room") in html) is sees_it
    for title in PRIVATE_TOPICS:
        assert (escape(title) in html) is sees_it
    assert client.get("/c/moderators-room/").status_code == (200 if sees_it else 404)
    assert client.get(room.get_absolute_url()).status_code == (200 if sees_it else 404)
    profile = client.get("/u/moderator/").content.decode()
    assert (escape(PRIVATE_TOPICS[0]) in profile) is sees_it


def test_demo_members_start_topics_in_general_and_help_only(demo):
    alice = User.objects.get(username="alice")

    names = [c.name for c in selectors.startable_categories(viewer=alice)]

    assert names == ["General", "Help"]


def test_each_demo_category_exports_as_its_demo_file(demo):
    for slug, name in [
        ("announcements", "announcements.md"),
        ("general", "general.md"),
        ("help", "help.md"),
        ("moderators-room", "moderators-room.md"),
    ]:
        exported = run("export_conversation", "--category", slug)[0]
        assert exported.encode() == (DEMO_DIR / name).read_bytes(), slug


def test_load_demo_leaves_a_forum_with_categories_alone(settings):
    settings.DEBUG = True
    services.category_create(moderator=None, name="Help")

    out, _ = run("load_demo")

    assert out == "The forum already has categories; demo content not loaded.\n"
    assert not User.objects.filter(username="moderator").exists()
