import re

import pytest
from django.contrib.auth.models import Group
from django.contrib.messages import get_messages
from django.urls import reverse

from threads import services
from threads.models import Category, Mail, Post, Topic, User

from .factories import ModeratorFactory, ReplyFactory, TopicFactory, UserFactory
from .helpers import form_data, opening_post, tree_shape

pytestmark = pytest.mark.django_db


@pytest.fixture(params=["moderator", "superuser"])
def staff(request, client, moderator):
    """A client logged in as a moderator, then as a superuser; `staff.user` is who."""
    if request.param == "moderator":
        user = moderator
    else:
        user = User.objects.create_superuser("root", "root@example.org", "pw")
    client.force_login(user)
    client.user = user
    return client


def _messages(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def _changelist(model: str) -> str:
    return reverse(f"admin:threads_{model}_changelist")


def _results(response) -> list:
    return list(response.context["cl"].result_list)


# --- Access --------------------------------------------------------------------------


@pytest.mark.parametrize(
    "url",
    [
        "/admin/",
        "/admin/threads/topic/",
        "/admin/threads/post/",
        "/admin/threads/topic/1/lock/",
        "/admin/threads/post/1/remove/",
    ],
)
def test_members_are_sent_to_the_admin_login(member_client, topic, url):
    response = member_client.get(url)

    assert response.status_code == 302
    assert response["Location"].startswith("/admin/login/?next=")


def test_staff_without_the_moderate_permission_cannot_moderate(client, topic):
    client.force_login(UserFactory(is_staff=True))
    op = opening_post(topic)

    lock = client.post(reverse("admin:threads_topic_lock", args=[topic.pk]))
    remove = client.post(reverse("admin:threads_post_remove", args=[op.pk]), {"reason": "x"})

    assert (lock.status_code, remove.status_code) == (403, 403)
    assert not Topic.objects.get(pk=topic.pk).is_locked
    assert not Post.objects.get(pk=op.pk).is_removed


# --- Topics ----------------------------------------------------------------------------


@pytest.fixture
def topics(topic, other_member):
    """Three topics: alice's, bob's about cats, bob's locked one about dogs."""
    cats = TopicFactory(author=other_member, title="All about cats")
    dogs = TopicFactory(author=other_member, title="All about dogs")
    Topic.objects.filter(pk=dogs.pk).update(is_locked=True)
    return topic, cats, dogs


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("", [0, 1, 2]),
        ("?q=cats", [1]),
        ("?q=bob", [1, 2]),
        ("?is_locked__exact=1", [2]),
        ("?is_locked__exact=0&q=about", [1]),
        ("?is_pinned__exact=1", []),
    ],
)
def test_topic_changelist_searches_and_filters(staff, topics, query, expected):
    response = staff.get(_changelist("topic") + query)

    assert response.status_code == 200
    assert sorted(t.pk for t in _results(response)) == sorted(topics[i].pk for i in expected)


def test_topic_changelist_links_to_each_topics_post_tree(staff, topic):
    response = staff.get(_changelist("topic"))

    assert f'href="/admin/threads/post/?topic__id__exact={topic.pk}">posts</a>' in (
        response.content.decode()
    )


@pytest.mark.parametrize("model", ["topic", "post"])
def test_long_names_are_cut_short_in_the_lists(staff, model):
    """At 1280 px the titles and the tree of posts need the room: names keep to one short line."""
    author = UserFactory(username="a_very_long_username_indeed_" + "x" * 100)
    category = services.category_create(moderator=None, name="A category with a long name")
    TopicFactory(author=author, category=category)

    html = staff.get(_changelist(model)).content.decode()

    assert "a_very_long_usernam…" in html
    assert author.username not in html
    if model == "topic":
        assert "A category with a l…" in html
    assert "white-space: nowrap" in html


def test_topics_cannot_be_added_in_the_admin(staff):
    assert staff.get(reverse("admin:threads_topic_add")).status_code == 403


@pytest.mark.parametrize(
    ("action", "field", "value", "done"),
    [
        ("lock", "is_locked", True, "Locked"),
        ("unlock", "is_locked", False, "Unlocked"),
        ("pin", "is_pinned", True, "Pinned"),
        ("unpin", "is_pinned", False, "Unpinned"),
    ],
)
def test_topic_flag_actions(staff, topics, action, field, value, done):
    Topic.objects.update(**{field: not value})
    chosen = topics[:2]

    response = staff.post(
        _changelist("topic"),
        {"action": action, "_selected_action": [t.pk for t in chosen]},
    )

    assert response.status_code == 302
    flags = dict(Topic.objects.values_list("pk", field))
    assert flags == {chosen[0].pk: value, chosen[1].pk: value, topics[2].pk: not value}
    assert Topic.objects.get(pk=chosen[0].pk).revision != chosen[0].revision
    assert f"{done} 2 topics." in _messages(response)


@pytest.mark.parametrize(
    ("action", "field", "value", "says"),
    [
        ("lock", "is_locked", True, "Nobody but moderators will be able to reply"),
        ("unlock", "is_locked", False, "Members will be able to reply"),
        ("pin", "is_pinned", True, "will stay at the top of the topic list"),
        ("unpin", "is_pinned", False, "will take its place in the topic list"),
    ],
)
def test_topic_flag_confirm_views(staff, topic, action, field, value, says):
    Topic.objects.update(**{field: not value})
    url = reverse(f"admin:threads_topic_{action}", args=[topic.pk])

    page = staff.get(url)
    assert page.status_code == 200
    assert says in page.content.decode()
    assert getattr(Topic.objects.get(pk=topic.pk), field) is not value

    response = staff.post(url)

    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    assert getattr(Topic.objects.get(pk=topic.pk), field) is value


def test_topic_flag_view_of_a_missing_topic_is_404(staff):
    assert staff.get(reverse("admin:threads_topic_lock", args=[999])).status_code == 404


def test_retitle_a_topic_in_the_admin(staff, topic):
    url = reverse("admin:threads_topic_change", args=[topic.pk])
    data = form_data(staff.get(url), "topic_form")
    assert data["title"] == ["A first topic"]

    revision = topic.revision
    response = staff.post(url, {**data, "title": "  Renamed by the moderators "})

    topic.refresh_from_db()
    assert response.status_code == 302
    assert (topic.title, topic.slug) == ("Renamed by the moderators", "renamed-by-the-moderators")
    assert topic.revision != revision


def test_the_admin_refuses_an_empty_title(staff, topic):
    url = reverse("admin:threads_topic_change", args=[topic.pk])

    response = staff.post(url, {**form_data(staff.get(url), "topic_form"), "title": "  "})

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert Topic.objects.get(pk=topic.pk).title == "A first topic"


def test_delete_a_topic_in_the_admin(staff, topic, other_member):
    ReplyFactory(parent=opening_post(topic), author=other_member)
    kept = TopicFactory(author=other_member)
    url = reverse("admin:threads_topic_delete", args=[topic.pk])

    page = staff.get(url)
    response = staff.post(url, {"post": "yes"})

    assert page.status_code == 200
    assert "Are you sure" in page.content.decode()
    assert response.status_code == 302
    assert list(Topic.objects.all()) == [kept]
    assert list(Post.objects.values_list("topic_id", flat=True)) == [kept.pk]


# --- Posts -----------------------------------------------------------------------------


@pytest.fixture
def thread(topic, other_member):
    """alice's opening post, bob's answer with alice's reply under it, and bob's top-level post."""
    op = opening_post(topic)
    answer = ReplyFactory(parent=op, author=other_member, body="an answer about bananas")
    deeper = ReplyFactory(parent=answer, author=topic.author, body="a reply to the answer")
    top = ReplyFactory(topic=topic, author=other_member, body="a top-level post")
    return {"op": op, "answer": answer, "deeper": deeper, "top": top}


def test_post_changelist_of_a_topic_shows_its_tree(staff, thread, other_member):
    TopicFactory(author=other_member, body="in another topic")
    topic = thread["op"].topic

    response = staff.get(_changelist("post") + f"?topic__id__exact={topic.pk}")

    assert response.status_code == 200
    assert [p.pk for p in _results(response)] == [
        thread[name].pk for name in ("op", "answer", "deeper", "top")
    ]
    indents = re.findall(r'style="padding-left:(\d+)px"', response.content.decode())
    assert [int(px) for px in indents] == [8, 24, 40, 8]


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        ("?q=bob", ["answer", "top"]),
        ("?q=bananas", ["answer"]),
        ("?q=reply", ["deeper"]),
        ("?removal__exact=moderator", []),
    ],
)
def test_post_search_by_author_and_text(staff, thread, query, expected):
    response = staff.get(_changelist("post") + query)

    assert response.status_code == 200
    assert sorted(p.pk for p in _results(response)) == sorted(thread[n].pk for n in expected)


def test_posts_cannot_be_added_or_deleted_in_the_admin(staff, thread):
    post = thread["answer"]

    add = staff.get(reverse("admin:threads_post_add"))
    delete = staff.post(reverse("admin:threads_post_delete", args=[post.pk]), {"post": "yes"})
    changelist = staff.get(_changelist("post"))

    assert (add.status_code, delete.status_code) == (403, 403)
    assert 'value="delete_selected"' not in changelist.content.decode()
    assert 'value="remove"' in changelist.content.decode()
    assert Post.objects.count() == 4


def test_remove_action_asks_for_a_reason_then_removes(staff, thread):
    chosen = [thread["answer"].pk, thread["top"].pk]

    page = staff.post(_changelist("post"), {"action": "remove", "_selected_action": chosen})

    assert page.status_code == 200
    html = page.content.decode()
    assert 'name="reason"' in html
    assert "an answer about bananas" in html
    assert not Post.objects.filter(pk__in=chosen).exclude(removal="").exists()

    response = staff.post(
        _changelist("post"),
        {"action": "remove", "_selected_action": chosen, "reason": "off-topic"},
    )

    assert response.status_code == 302
    removed = Post.objects.filter(removal=Post.Removal.MODERATOR)
    assert sorted(removed.values_list("pk", "removal_reason")) == [
        (pk, "off-topic") for pk in sorted(chosen)
    ]
    assert "Removed 2 posts." in _messages(response)
    assert "bananas" not in Post.objects.get(pk=thread["answer"].pk).fragment


def test_remove_action_without_a_reason_asks_again(staff, thread):
    chosen = [thread["answer"].pk]

    response = staff.post(
        _changelist("post"), {"action": "remove", "_selected_action": chosen, "reason": ""}
    )

    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Post.objects.get(pk=chosen[0]).is_removed


def test_restore_action(staff, thread, moderator):
    services.post_remove(post=thread["answer"], moderator=moderator, reason="spam")

    response = staff.post(
        _changelist("post"), {"action": "restore", "_selected_action": [thread["answer"].pk]}
    )

    post = Post.objects.get(pk=thread["answer"].pk)
    assert response.status_code == 302
    assert (post.removal, post.removal_reason) == ("", "")
    assert "bananas" in post.fragment


def test_remove_view(staff, thread):
    post = thread["answer"]
    url = reverse("admin:threads_post_remove", args=[post.pk])

    page = staff.get(url)
    assert page.status_code == 200
    assert "an answer about bananas" in page.content.decode()
    assert not Post.objects.get(pk=post.pk).is_removed

    response = staff.post(url, {"reason": "  rude  "})

    post.refresh_from_db()
    assert response.status_code == 302
    assert response["Location"] == f"/p/{post.pk}/"
    assert (post.removal, post.removal_reason) == (Post.Removal.MODERATOR, "rude")


def test_remove_view_of_a_missing_post_is_404(staff):
    assert staff.get(reverse("admin:threads_post_remove", args=[999])).status_code == 404


def test_restore_view(staff, thread, moderator):
    post = thread["answer"]
    services.post_remove(post=post, moderator=moderator, reason="too spicy")
    url = reverse("admin:threads_post_restore", args=[post.pk])

    page = staff.get(url)
    assert page.status_code == 200
    assert "too spicy" in page.content.decode()
    assert Post.objects.get(pk=post.pk).is_removed

    response = staff.post(url)

    post.refresh_from_db()
    assert response["Location"] == f"/p/{post.pk}/"
    assert (post.removal, post.removal_reason) == ("", "")


def test_move_view_under_a_new_parent(staff, thread):
    url = reverse("admin:threads_post_move", args=[thread["answer"].pk])

    page = staff.get(url)
    response = staff.post(url, {"new_parent": thread["top"].pk, "topic": ""})

    assert page.status_code == 200
    assert response.status_code == 302
    assert response["Location"] == f"/p/{thread['answer'].pk}/"
    assert tree_shape(thread["op"].topic) == "\n".join(
        [
            "alice: Hello, **forum**.",
            "bob: a top-level post",
            "  bob: an answer about bananas",
            "    alice: a reply to the answer",
        ]
    )


def test_move_view_to_the_top_level(staff, thread):
    url = reverse("admin:threads_post_move", args=[thread["deeper"].pk])

    response = staff.post(url, {"new_parent": "", "topic": ""})

    assert response.status_code == 302
    assert tree_shape(thread["op"].topic) == "\n".join(
        [
            "alice: Hello, **forum**.",
            "  bob: an answer about bananas",
            "bob: a top-level post",
            "alice: a reply to the answer",
        ]
    )


def test_move_view_to_another_topic(staff, thread, other_member):
    elsewhere = TopicFactory(author=other_member, body="elsewhere")
    url = reverse("admin:threads_post_move", args=[thread["top"].pk])

    response = staff.post(url, {"new_parent": "", "topic": elsewhere.pk})

    assert response.status_code == 302
    assert tree_shape(elsewhere) == "bob: elsewhere\nbob: a top-level post"
    assert Topic.objects.get(pk=elsewhere.pk).reply_count == 1


@pytest.mark.parametrize(
    ("post", "data", "message"),
    [
        ("answer", {"new_parent": "999"}, "There is no post with that id."),
        ("answer", {"topic": "999"}, "There is no topic with that id."),
        ("answer", {"new_parent": "0"}, "Ensure this value is greater than or equal to 1."),
        ("answer", {"new_parent": "deeper"}, "A post cannot move under itself"),
        ("op", {"new_parent": "top"}, "The opening post cannot be moved."),
    ],
)
def test_move_view_refuses_bad_targets(staff, thread, post, data, message):
    data = {
        name: str(thread[value].pk) if value in thread else value for name, value in data.items()
    }
    before = tree_shape(thread["op"].topic)

    response = staff.post(reverse("admin:threads_post_move", args=[thread[post].pk]), data)

    assert response.status_code == 200
    assert message in response.content.decode()
    assert tree_shape(thread["op"].topic) == before


def test_editing_a_post_in_the_admin_goes_through_the_services(staff, thread):
    post = thread["answer"]
    revision = Topic.objects.get(pk=post.topic_id).revision
    url = reverse("admin:threads_post_change", args=[post.pk])
    data = form_data(staff.get(url), "post_form")
    assert data["body"] == ["an answer about bananas"]

    response = staff.post(url, {**data, "body": "an answer about *apples*\r\n\r\n"})

    post.refresh_from_db()
    assert response.status_code == 302
    assert post.body == "an answer about *apples*"
    assert post.body_html == "<p>an answer about <em>apples</em></p>"
    assert post.edited is not None
    assert "<em>apples</em>" in post.fragment
    assert "edited" in post.fragment
    assert Topic.objects.get(pk=post.topic_id).revision != revision


def test_saving_a_post_unchanged_in_the_admin_changes_nothing(staff, thread):
    post = thread["answer"]
    url = reverse("admin:threads_post_change", args=[post.pk])

    staff.post(url, form_data(staff.get(url), "post_form"))

    assert Post.objects.get(pk=post.pk).edited is None


def test_the_admin_refuses_an_empty_post_body(staff, thread):
    post = thread["answer"]
    url = reverse("admin:threads_post_change", args=[post.pk])

    response = staff.post(url, {**form_data(staff.get(url), "post_form"), "body": ""})

    assert response.status_code == 200
    assert Post.objects.get(pk=post.pk).body == "an answer about bananas"


# --- Members ----------------------------------------------------------------------------


def test_ban_and_unban_actions(staff, other_member, member):
    url = reverse("admin:threads_user_changelist")

    banned = staff.post(url, {"action": "ban", "_selected_action": [other_member.pk, member.pk]})

    assert banned.status_code == 302
    assert not User.objects.get(pk=other_member.pk).is_active
    assert not User.objects.get(pk=member.pk).is_active
    assert "Banned 2 users." in _messages(banned)

    staff.post(url, {"action": "unban", "_selected_action": [other_member.pk]})

    assert User.objects.get(pk=other_member.pk).is_active
    assert not User.objects.get(pk=member.pk).is_active


def test_moderators_take_down_a_members_name_bio_and_avatar(staff, member, settings, tmp_path):
    from django_tasks_db.models import DBTaskResult

    from . import images

    settings.MEDIA_ROOT = tmp_path
    services.profile_update(user=member, display_name="Rude Name", bio="Rude bio")
    services.avatar_set(user=member, upload=images.upload(images.png()))
    queued = DBTaskResult.objects.count()

    response = staff.post(
        reverse("admin:threads_user_changelist"),
        {"action": "reset_profile", "_selected_action": [member.pk]},
    )

    assert "Took down the profile of 1 user." in _messages(response)
    member.refresh_from_db()
    assert (member.display_name, member.bio, member.bio_html, member.avatar) == ("", "", "", "")
    assert DBTaskResult.objects.count() > queued  # the bylines are rebuilt


def test_only_moderators_take_down_profiles(member, other_member):
    services.profile_update(user=other_member, display_name="Bob", bio="")

    with pytest.raises(services.Refused):
        services.profile_reset(user=other_member, moderator=member)
    with pytest.raises(services.Refused):
        services.avatar_remove(user=other_member, moderator=member)
    other_member.refresh_from_db()
    assert other_member.display_name == "Bob"


def test_moderators_cannot_ban_themselves(staff):
    response = staff.post(
        reverse("admin:threads_user_changelist"),
        {"action": "ban", "_selected_action": [staff.user.pk]},
    )

    assert User.objects.get(pk=staff.user.pk).is_active
    assert any("You cannot ban yourself." in m for m in _messages(response))


def test_username_is_read_only_in_the_admin(staff, other_member):
    url = reverse("admin:threads_user_change", args=[other_member.pk])
    page = staff.get(url)
    data = form_data(page, "user_form")

    assert "username" not in data
    assert '<div class="readonly">bob</div>' in page.content.decode()

    response = staff.post(url, {**data, "username": "renamed", "email": "bob@example.net"})

    other_member.refresh_from_db()
    assert response.status_code == 302
    # Only administrators change e-mail addresses (a moderator could take the account over).
    email = "bob@example.net" if staff.user.is_superuser else "bob@example.org"
    assert (other_member.username, other_member.email) == ("bob", email)


def test_the_confirmation_of_an_address_is_shown_read_only(staff, other_member):
    User.objects.filter(pk=other_member.pk).update(email_confirmed=True)
    listing = staff.get(reverse("admin:threads_user_changelist")).content.decode()
    url = reverse("admin:threads_user_change", args=[other_member.pk])
    page = staff.get(url)
    data = form_data(page, "user_form")

    assert "column-email_confirmed" in listing
    assert "E-mail address confirmed" in page.content.decode()
    assert "email_confirmed" not in data
    assert "pending_email" not in data
    staff.post(url, {**data, "email_confirmed": ""})
    assert User.objects.get(pk=other_member.pk).email_confirmed


def test_moderators_see_only_what_banning_needs(moderator_client, other_member):
    url = reverse("admin:threads_user_change", args=[other_member.pk])
    data = form_data(moderator_client.get(url), "user_form")

    password_page = reverse("admin:auth_user_password_change", args=[other_member.pk])
    notes = {name for name in data if name.startswith("moderator_notes-")}
    assert set(data) - {"csrfmiddlewaretoken"} - notes == {"is_active"}
    assert moderator_client.get(password_page).status_code == 403


def test_moderators_cannot_change_or_ban_staff(moderator_client, moderator):
    admin_user = User.objects.create_superuser("root", "root@example.org", "pw")
    url = reverse("admin:threads_user_change", args=[admin_user.pk])
    changelist = reverse("admin:threads_user_changelist")

    page = moderator_client.get(url)
    moderator_client.post(changelist, {"action": "ban", "_selected_action": [admin_user.pk]})

    assert "is_active" not in form_data(page, "user_form")
    assert User.objects.get(pk=admin_user.pk).is_active


def test_moderators_cannot_make_themselves_superusers(moderator_client, moderator):
    """Changing members is for banning them; it must not hand out powers."""
    url = reverse("admin:threads_user_change", args=[moderator.pk])
    data = form_data(moderator_client.get(url), "user_form")

    moderator_client.post(url, {**data, "is_superuser": "on"})

    assert not User.objects.get(pk=moderator.pk).is_superuser


# --- Import ----------------------------------------------------------------------------------

IMPORT_FILE = b"""### From the old forum
- @ann [2025-02-12T01:14:44Z]: Hello there
  - @bob [2025-02-12T01:15:00Z]: Hi!
"""


def _upload(staff, data: bytes, **fields):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return staff.post(
        reverse("admin:threads_topic_import"),
        {"file": SimpleUploadedFile("old.md", data), **fields},
    )


def test_the_topic_list_links_to_the_import(staff):
    page = staff.get(_changelist("topic"))

    assert f'href="{reverse("admin:threads_topic_import")}">Import conversations' in (
        page.content.decode()
    )
    assert staff.get(reverse("admin:threads_topic_import")).status_code == 200


def test_a_dry_run_shows_what_would_be_imported(staff):
    response = _upload(staff, IMPORT_FILE, dry_run="on")

    assert response.status_code == 200
    assert "would add 1 topic(s) and 2 post(s)" in response.content.decode()
    assert "ann, bob" in response.content.decode()
    assert not Topic.objects.exists()


def test_a_bad_file_is_refused_with_its_line(staff):
    response = _upload(staff, IMPORT_FILE + b"      - @cy [2025-02-12T01:16:00Z]: too deep\n")

    assert response.status_code == 400
    assert "old.md:4: a reply at depth 3 with no message at depth 2" in response.content.decode()
    assert not Topic.objects.exists()


def test_an_upload_imports_every_topic(staff):
    response = _upload(staff, IMPORT_FILE)

    assert response.status_code == 302
    assert _messages(response) == [
        "Imported 1 topic(s) and 2 post(s); 2 new account(s), inactive until activated."
    ]
    topic = Topic.objects.get()
    assert tree_shape(topic) == "ann: Hello there\n  bob: Hi!"
    assert not User.objects.get(username="ann").is_active


def test_a_posts_admin_page_offers_remove_and_move(staff, topic):
    post = opening_post(topic)

    page = staff.get(reverse("admin:threads_post_change", args=[post.pk])).content.decode()

    assert f'href="{reverse("admin:threads_post_remove", args=[post.pk])}">Remove' in page
    assert f'href="{reverse("admin:threads_post_move", args=[post.pk])}">Move' in page


def test_staff_without_moderation_rights_are_told_why(client, topic):
    client.force_login(UserFactory(is_staff=True))

    response = client.get(reverse("admin:threads_topic_lock", args=[topic.pk]))

    assert response.status_code == 403
    assert "Only moderators can do that." in response.content.decode()


# --- Hostile input -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("model", "action"), [("topic", "lock"), ("post", "restore"), ("user", "ban")]
)
@pytest.mark.parametrize("selected", ["abc", "1\x00", str(2**70), "-1e3"])
def test_a_selection_that_names_no_ids_is_a_bad_request(staff, topic, model, action, selected):
    before = (
        list(Topic.objects.values_list("is_locked")),
        list(User.objects.values_list("is_active")),
    )

    response = staff.post(_changelist(model), {"action": action, "_selected_action": [selected]})

    assert response.status_code == 400
    assert before == (
        list(Topic.objects.values_list("is_locked")),
        list(User.objects.values_list("is_active")),
    )


# --- Refusals on the admin's forms ---------------------------------------------------------


@pytest.fixture
def clerk(client, db):
    """Staff who may change and delete topics, posts and members, but not moderate."""
    from django.contrib.auth.models import Permission

    user = UserFactory(username="clerk", is_staff=True)
    codenames = ["view_topic", "change_topic", "delete_topic", "view_post", "change_post"]
    user.user_permissions.add(
        *Permission.objects.filter(codename__in=[*codenames, "view_user", "change_user"])
    )
    client.force_login(user)
    return client


def _assert_refused_on_the_form(response, message: str, typed: dict) -> None:
    from django.utils.html import escape

    from .helpers import form_values

    assert response.status_code == 200
    assert escape(message) in response.content.decode()
    assert 'class="errornote"' in response.content.decode()
    values = form_values(response)
    assert {name: values.get(name) for name in typed} == typed


def test_a_title_the_service_refuses_is_shown_on_the_form(staff, topic):
    url = reverse("admin:threads_topic_change", args=[topic.pk])

    response = staff.post(url, {**form_data(staff.get(url), "topic_form"), "title": "bad\x07title"})

    _assert_refused_on_the_form(
        response,
        "A title is one line of text, without control characters.",
        {"title": "bad\x07title"},
    )
    assert Topic.objects.get(pk=topic.pk).title == "A first topic"


def test_staff_who_may_not_moderate_cannot_retitle_and_are_told_why(clerk, topic):
    url = reverse("admin:threads_topic_change", args=[topic.pk])

    response = clerk.post(url, {**form_data(clerk.get(url), "topic_form"), "title": "Renamed"})

    _assert_refused_on_the_form(response, "Only moderators can do that.", {"title": "Renamed"})
    assert Topic.objects.get(pk=topic.pk).title == "A first topic"


def test_staff_who_may_not_moderate_cannot_edit_others_posts_and_are_told_why(clerk, thread):
    post = thread["answer"]
    url = reverse("admin:threads_post_change", args=[post.pk])

    response = clerk.post(url, {**form_data(clerk.get(url), "post_form"), "body": "rewritten"})

    _assert_refused_on_the_form(
        response, "You can only change your own posts.", {"body": "rewritten"}
    )
    assert Post.objects.get(pk=post.pk).body == "an answer about bananas"


def test_staff_who_may_not_moderate_cannot_ban_on_the_member_form(clerk, other_member):
    url = reverse("admin:threads_user_change", args=[other_member.pk])
    data = form_data(clerk.get(url), "user_form")
    del data["is_active"]  # unticked

    response = clerk.post(url, data)

    _assert_refused_on_the_form(response, "Only moderators can do that.", {})
    assert 'name="is_active"' in response.content.decode()
    assert 'name="is_active" id="id_is_active" checked' not in response.content.decode()
    assert User.objects.get(pk=other_member.pk).is_active


def test_staff_who_may_not_moderate_cannot_delete_a_topic_and_are_told_why(clerk, topic):
    from django.contrib.admin.models import LogEntry

    url = reverse("admin:threads_topic_delete", args=[topic.pk])

    response = clerk.post(url, {"post": "yes"})

    assert response.status_code == 302
    assert response["Location"] == url
    assert "Only moderators can do that." in _messages(response)
    assert Topic.objects.filter(pk=topic.pk).exists()
    assert not LogEntry.objects.exists()


def test_staff_who_may_not_moderate_cannot_delete_selected_topics_and_are_told_why(clerk, topic):
    from django.contrib.admin.models import LogEntry

    response = clerk.post(
        _changelist("topic"),
        {"action": "delete_selected", "_selected_action": [topic.pk], "post": "yes"},
    )

    assert response.status_code == 302
    assert "Only moderators can do that." in _messages(response)
    assert Topic.objects.filter(pk=topic.pk).exists()
    assert not LogEntry.objects.exists()


# --- The import refuses big files ------------------------------------------------------------


def test_an_upload_over_the_size_limit_is_refused_before_it_is_read(staff, monkeypatch):
    from threads import conversation

    def never(*args, **kwargs):
        raise AssertionError("the file was read")

    monkeypatch.setattr(conversation, "read", never)
    big = IMPORT_FILE + b"x" * (5 * 1024 * 1024 - len(IMPORT_FILE) + 1)  # 5 MB and a byte

    response = _upload(staff, big, dry_run="on")

    html = response.content.decode()
    assert response.status_code == 400
    assert "old.md is 5.0\xa0MB: the import takes files of at most 5.0\xa0MB." in html
    assert 'name="dry_run" id="id_dry_run" checked' in html
    assert not Topic.objects.exists()


def test_the_size_limit_is_a_setting(staff, settings):
    settings.FORUM_LIMITS = {**settings.FORUM_LIMITS, "import_max_bytes": len(IMPORT_FILE)}

    assert _upload(staff, IMPORT_FILE).status_code == 302
    assert _upload(staff, IMPORT_FILE + b"\n").status_code == 400


# --- The import's category (tests/test_commands.py has the command's) ----------------------


@pytest.fixture
def categories(db):
    """General (the default), Help, and Hidden, which only a group sees."""
    from threads.models import Category

    help_ = services.category_create(moderator=None, name="Help", position=1)
    hidden = services.category_create(
        moderator=None, name="Hidden", position=2, who_sees=Category.Seers.GROUPS
    )
    return services.default_category(), help_, hidden


def _counts(category) -> tuple[int, int]:
    category.refresh_from_db()
    return category.topic_count, category.post_count


def test_the_import_offers_the_categories_a_moderator_moderates_the_default_chosen(
    staff, categories
):
    general, help_, hidden = categories

    html = staff.get(reverse("admin:threads_topic_import")).content.decode()

    select = re.search(r'<select name="category"[^>]*>(.*?)</select>', html, re.S)
    assert select is not None
    options = re.findall(r'<option value="(\d+)"( selected)?>([^<]*)</option>', select.group(1))
    assert options == [
        (str(general.pk), " selected", "General"),
        (str(help_.pk), "", "Help"),
        (str(hidden.pk), "", "Hidden"),  # moderators moderate, and see, every category
    ]


def test_an_upload_goes_into_the_chosen_category(staff, categories):
    general, help_, _ = categories

    response = _upload(staff, IMPORT_FILE, category=help_.pk)

    assert response.status_code == 302
    assert Topic.objects.get().category == help_
    assert _counts(help_) == (1, 2)
    assert _counts(general) == (0, 0)


def test_a_dry_run_names_the_chosen_category(staff, categories):
    _, help_, _ = categories

    response = _upload(staff, IMPORT_FILE, category=help_.pk, dry_run="on")

    assert response.status_code == 200
    assert "Importing it into Help would add 1 topic(s) and 2 post(s)" in response.content.decode()
    assert not Topic.objects.exists()


def test_an_upload_without_a_category_goes_into_the_default_one(staff, categories):
    general = categories[0]

    assert _upload(staff, IMPORT_FILE).status_code == 302

    assert Topic.objects.get().category == general
    assert _counts(general) == (1, 2)


def test_a_category_that_is_not_offered_is_refused(staff, categories):
    response = _upload(staff, IMPORT_FILE, category=max(c.pk for c in categories) + 1)

    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    assert not Topic.objects.exists()


# --- Categories ------------------------------------------------------------------------------


def _category(name: str, **fields) -> Category:
    return services.category_create(moderator=None, name=name, **fields)


def _category_data(**fields) -> dict:
    """What the category form sends for a new top-level category named Cats."""
    return {
        "name": "Cats",
        "slug": "cats",
        "description": "",
        "parent": "",
        "position": "0",
        "who_sees": "",
        "who_starts": "",
        "who_replies": "",
        **fields,
    }


def test_the_category_list_is_the_tree_indented(staff):
    cats = _category("Cats")
    _category("Kittens", parent=cats)

    response = staff.get(_changelist("category"))

    assert response.status_code == 200
    assert [c.name for c in _results(response)] == ["Cats", "Kittens", "General"]
    indents = re.findall(r'style="padding-left:(\d+)px"', response.content.decode())
    assert [int(px) for px in indents] == [8, 28, 8]


def test_the_category_list_costs_the_same_with_more_categories(staff):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    moderators = Group.objects.create(name="Cat keepers")

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert staff.get(_changelist("category")).status_code == 200
        return len(captured)

    _category("Cats", moderator_groups=[moderators])
    few = queries()
    for name in ["Dogs", "Birds", "Fish"]:
        _category(name, moderator_groups=[moderators])

    assert queries() == few


def test_add_a_category_in_the_admin(staff):
    readers = Group.objects.create(name="Readers")
    keepers = Group.objects.create(name="Cat keepers")
    parent = _category("Animals")
    page = staff.get(reverse("admin:threads_category_add"))
    assert page.status_code == 200
    assert 'data-prepopulated-fields="' in page.content.decode()

    response = staff.post(
        reverse("admin:threads_category_add"),
        _category_data(
            name=" Cats ",
            description="Purring",
            parent=str(parent.pk),
            who_sees="groups",
            seer_groups=[str(readers.pk)],
            who_starts="moderators",
            moderator_groups=[str(keepers.pk)],
        ),
    )

    assert response.status_code == 302
    cats = Category.objects.get(slug="cats")
    assert (cats.name, cats.description, cats.parent, cats.who_sees, cats.who_starts) == (
        "Cats",
        "Purring",
        parent,
        "groups",
        "moderators",
    )
    assert list(cats.seer_groups.all()) == [readers]
    assert list(cats.moderator_groups.all()) == [keepers]
    assert response["Location"] == _changelist("category")


def test_change_a_category_in_the_admin(staff):
    cats, dogs = _category("Cats"), _category("Dogs")
    url = reverse("admin:threads_category_change", args=[dogs.pk])
    data = form_data(staff.get(url), "category_form")

    response = staff.post(url, {**data, "parent": str(cats.pk), "who_replies": "moderators"})

    dogs.refresh_from_db()
    assert response.status_code == 302
    assert (dogs.parent, dogs.who_replies, dogs.level) == (cats, "moderators", 1)


def test_the_category_form_shows_its_counts(staff, topic):
    url = reverse("admin:threads_category_change", args=[topic.category_id])

    html = staff.get(url).content.decode()

    assert re.search(r'<div class="readonly">1</div>', html)  # one topic, one post


def test_renaming_a_category_rebuilds_its_topic_rows(staff, topic, client):
    url = reverse("admin:threads_category_change", args=[topic.category_id])
    data = form_data(staff.get(url), "category_form")

    response = staff.post(url, {**data, "name": "Town square", "slug": "town-square"})

    assert response.status_code == 302
    client.logout()
    index = client.get("/").content.decode()
    assert 'class="category-tag" href="/c/town-square/">Town square</a>' in index
    assert "/c/general/" not in index


def test_a_duplicate_slug_is_a_form_error(staff):
    _category("Cats")

    response = staff.post(
        reverse("admin:threads_category_add"), _category_data(name="More cats", slug="cats")
    )

    assert response.status_code == 200
    assert "Another category has this slug: choose another one." in response.content.decode()
    assert Category.objects.filter(slug="cats").count() == 1


def test_a_second_default_category_is_a_form_error(staff):
    general = services.default_category()
    cats = _category("Cats")
    url = reverse("admin:threads_category_change", args=[cats.pk])

    added = staff.post(
        reverse("admin:threads_category_add"), _category_data(slug="kittens", is_default="on")
    )
    changed = staff.post(url, {**form_data(staff.get(url), "category_form"), "is_default": "on"})

    for response in (added, changed):
        assert response.status_code == 200
        assert "“General” is the default category, and there is only one" in (
            response.content.decode()
        )
    assert list(Category.objects.filter(is_default=True)) == [general]


@pytest.mark.parametrize("change", [False, True], ids=["add", "change"])
def test_a_default_chosen_meanwhile_is_a_form_error(staff, monkeypatch, change):
    """The form checks the one default, but another moderator may get there first."""
    from threads.admin.categories import CategoryForm

    monkeypatch.setattr(CategoryForm, "clean_is_default", lambda form: True)
    monkeypatch.setattr(Category, "validate_constraints", lambda *args, **kwargs: None)
    general = services.default_category()
    if change:
        url = reverse("admin:threads_category_change", args=[_category("Cats").pk])
        data = form_data(staff.get(url), "category_form")
    else:
        url, data = reverse("admin:threads_category_add"), _category_data()

    response = staff.post(url, {**data, "is_default": "on"})

    assert response.status_code == 200
    assert "Meanwhile another category took this slug or became the default" in (
        response.content.decode()
    )
    assert list(Category.objects.filter(is_default=True)) == [general]


def test_a_category_cannot_move_under_its_own_subcategory(staff):
    cats = _category("Cats")
    kittens = _category("Kittens", parent=cats)
    url = reverse("admin:threads_category_change", args=[cats.pk])
    data = form_data(staff.get(url), "category_form")

    response = staff.post(url, {**data, "parent": str(kittens.pk)})

    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    assert Category.objects.get(pk=cats.pk).parent is None


def test_delete_an_empty_category(staff):
    cats = _category("Cats")
    url = reverse("admin:threads_category_delete", args=[cats.pk])

    page = staff.get(url)
    response = staff.post(url, {"post": "yes"})

    assert page.status_code == 200
    assert "Are you sure" in page.content.decode()
    assert response.status_code == 302
    assert not Category.objects.filter(pk=cats.pk).exists()


@pytest.mark.parametrize(
    ("holds", "message"),
    [
        ("topics", "“Cats” has 2 topics: move them to another category first."),
        ("subcategories", "“Cats” has subcategories: move or delete them first."),
        ("default", "“Cats” is the default category, where new and imported topics go"),
    ],
)
def test_deleting_a_category_that_holds_something_is_refused(staff, member, holds, message):
    cats = _category("Cats")
    if holds == "topics":
        TopicFactory(author=member, category=cats)
        TopicFactory(author=member, category=cats)
    elif holds == "subcategories":
        _category("Kittens", parent=cats)
    else:
        Category.objects.update(is_default=False)
        Category.objects.filter(pk=cats.pk).update(is_default=True)
    url = reverse("admin:threads_category_delete", args=[cats.pk])

    for response in (staff.get(url), staff.post(url, {"post": "yes"})):
        assert response.status_code == 302
        assert response["Location"] == reverse("admin:threads_category_change", args=[cats.pk])
        assert any(m.startswith(message) for m in _messages(response))
    assert Category.objects.filter(pk=cats.pk).exists()


def test_deleting_a_category_whose_stored_count_is_behind_is_refused(staff, member):
    cats = _category("Cats")
    topic = TopicFactory(author=member, category=cats)
    Category.objects.filter(pk=cats.pk).update(topic_count=0)  # as if the topic were new
    url = reverse("admin:threads_category_delete", args=[cats.pk])

    response = staff.post(url, {"post": "yes"})

    # Django's own answer to what PROTECT keeps: it names the topics.
    assert response.status_code == 200
    assert "would require deleting the following protected related objects" in (
        response.content.decode()
    )
    assert Topic.objects.get(pk=topic.pk).category_id == cats.pk


# --- Category moderators ---------------------------------------------------------------------


@pytest.fixture
def keeper(db):
    """Staff in the Cat keepers group, which moderates Cats (and so Kittens): not a moderator."""
    user = UserFactory(username="keeper", is_staff=True)
    user.groups.add(Group.objects.create(name="Cat keepers"))
    return user


@pytest.fixture
def places(keeper, member):
    """A topic in Cats, one in its subcategory Kittens, one in General, one in a hidden category."""
    keepers = keeper.groups.get()
    cats = _category("Cats", moderator_groups=[keepers])
    kittens = _category("Kittens", parent=cats)
    hidden = _category("Staff room", who_sees="groups", seer_groups=[Group.objects.create()])
    return {
        "cats": TopicFactory(author=member, category=cats, title="About cats"),
        "kittens": TopicFactory(author=member, category=kittens, title="About kittens"),
        "general": TopicFactory(author=member, title="About nothing"),
        "hidden": TopicFactory(author=ModeratorFactory(), category=hidden, title="Secret"),
    }


@pytest.fixture
def keeper_client(client, keeper):
    client.force_login(keeper)
    return client


MINE, THEIRS = ["cats", "kittens"], ["general", "hidden"]


def test_the_admin_index_offers_category_moderators_topics_and_posts(keeper_client, places):
    html = keeper_client.get("/admin/").content.decode()

    assert 'href="/admin/threads/topic/"' in html
    assert 'href="/admin/threads/post/"' in html
    assert "/admin/threads/category/" not in html
    assert "/admin/threads/user/" not in html


def test_category_moderators_see_only_their_topics(keeper_client, places):
    response = keeper_client.get(_changelist("topic"))

    assert response.status_code == 200
    assert sorted(t.pk for t in _results(response)) == sorted(places[n].pk for n in MINE)
    assert "Import conversations" not in response.content.decode()
    assert 'value="delete_selected"' not in response.content.decode()


def test_category_moderators_filter_by_their_categories_only(keeper_client, places):
    html = keeper_client.get(_changelist("topic")).content.decode()
    kittens = keeper_client.get(_changelist("topic") + f"?category={places['kittens'].category_id}")

    assert "Cats</a>" in html
    assert "\u2003Kittens</a>" in html
    assert "General</a>" not in html
    assert "Staff room" not in html
    assert [t.pk for t in _results(kittens)] == [places["kittens"].pk]


def test_category_moderators_see_only_the_posts_of_their_topics(keeper_client, places):
    ReplyFactory(parent=opening_post(places["general"]))
    ReplyFactory(parent=opening_post(places["cats"]))
    mine = Post.objects.filter(topic__in=[places[n] for n in MINE])

    response = keeper_client.get(_changelist("post"))
    other_topic = keeper_client.get(
        _changelist("post") + f"?topic__id__exact={places['general'].pk}"
    )

    assert sorted(p.pk for p in _results(response)) == sorted(mine.values_list("pk", flat=True))
    assert _results(other_topic) == []


@pytest.mark.parametrize("model", ["topic", "post"])
def test_category_moderators_changelists_cost_the_same_with_more_topics(
    keeper_client, places, member, model
):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    def queries() -> int:
        with CaptureQueriesContext(connection) as captured:
            assert keeper_client.get(_changelist(model)).status_code == 200
        return len(captured)

    few = queries()
    for _ in range(3):
        TopicFactory(author=member, category=places["cats"].category)

    assert queries() == few


def test_category_moderators_lock_and_pin_their_topics_from_the_list(keeper_client, places):
    mine = [places[n].pk for n in MINE]

    for action in ("lock", "pin"):
        response = keeper_client.post(
            _changelist("topic"), {"action": action, "_selected_action": mine}
        )
        assert response.status_code == 302

    flags = dict(Topic.objects.values_list("pk", "is_locked"))
    assert {pk: flags[pk] for pk in mine} == dict.fromkeys(mine, True)
    assert not flags[places["general"].pk]
    assert Topic.objects.filter(is_pinned=True).count() == 2


def test_category_moderators_cannot_act_on_other_topics_from_the_list(keeper_client, places):
    response = keeper_client.post(
        _changelist("topic"), {"action": "lock", "_selected_action": [places["general"].pk]}
    )

    assert response.status_code == 302
    assert not Topic.objects.get(pk=places["general"].pk).is_locked


@pytest.mark.parametrize("action", ["lock", "pin", "move"])
def test_category_moderators_topic_pages_in_the_admin(keeper_client, places, action):
    def url(name: str) -> str:
        return reverse(f"admin:threads_topic_{action}", args=[places[name].pk])

    assert keeper_client.get(url("kittens")).status_code == 200
    assert keeper_client.get(url("general")).status_code == 403
    assert keeper_client.post(url("general")).status_code == 403
    assert keeper_client.get(url("hidden")).status_code == 404
    assert Topic.objects.filter(is_locked=True, is_pinned=True).count() == 0


def test_category_moderators_lock_a_topic_from_its_page(keeper_client, places):
    response = keeper_client.post(reverse("admin:threads_topic_lock", args=[places["cats"].pk]))

    assert response.status_code == 302
    assert Topic.objects.get(pk=places["cats"].pk).is_locked


def test_category_moderators_change_only_their_topics(keeper_client, places):
    mine = reverse("admin:threads_topic_change", args=[places["cats"].pk])
    theirs = reverse("admin:threads_topic_change", args=[places["general"].pk])

    response = keeper_client.post(
        mine, {**form_data(keeper_client.get(mine), "topic_form"), "title": "All about cats"}
    )
    elsewhere = keeper_client.get(theirs)

    assert response.status_code == 302
    assert Topic.objects.get(pk=places["cats"].pk).title == "All about cats"
    assert elsewhere.status_code == 302  # the admin's answer to an object it does not show
    assert elsewhere["Location"] == reverse("admin:index")


def test_category_moderators_cannot_delete_topics(keeper_client, places):
    url = reverse("admin:threads_topic_delete", args=[places["cats"].pk])

    assert keeper_client.post(url, {"post": "yes"}).status_code == 403
    assert Topic.objects.filter(pk=places["cats"].pk).exists()


def test_category_moderators_remove_and_restore_posts_in_their_categories(keeper_client, places):
    post = ReplyFactory(parent=opening_post(places["kittens"]), body="Rude")
    remove = reverse("admin:threads_post_remove", args=[post.pk])
    restore = reverse("admin:threads_post_restore", args=[post.pk])

    assert keeper_client.get(remove).status_code == 200
    assert keeper_client.post(remove, {"reason": "rude"}).status_code == 302
    assert Post.objects.get(pk=post.pk).removal == Post.Removal.MODERATOR
    assert keeper_client.post(restore).status_code == 302
    assert not Post.objects.get(pk=post.pk).is_removed


def test_category_moderators_remove_posts_from_the_list(keeper_client, places):
    post = ReplyFactory(parent=opening_post(places["cats"]), body="Rude")

    response = keeper_client.post(
        _changelist("post"), {"action": "remove", "_selected_action": [post.pk], "reason": "rude"}
    )

    assert response.status_code == 302
    assert Post.objects.get(pk=post.pk).removal == Post.Removal.MODERATOR


@pytest.mark.parametrize("view", ["remove", "restore", "move"])
def test_category_moderators_post_pages_elsewhere_are_refused(keeper_client, places, view):
    general, hidden = opening_post(places["general"]), opening_post(places["hidden"])
    data = {"reason": "rude", "new_parent": "", "topic": ""}

    def url(post: Post) -> str:
        return reverse(f"admin:threads_post_{view}", args=[post.pk])

    assert keeper_client.get(url(opening_post(places["cats"]))).status_code == 200
    assert keeper_client.get(url(general)).status_code == 403
    assert keeper_client.post(url(general), data).status_code == 403
    assert keeper_client.post(url(hidden), data).status_code == 404
    assert not Post.objects.exclude(removal="").exists()


def test_categories_and_members_are_for_global_moderators_only(keeper_client, places, member):
    cats = places["cats"].category
    refused = [
        _changelist("category"),
        reverse("admin:threads_category_add"),
        reverse("admin:threads_category_change", args=[cats.pk]),
        reverse("admin:threads_category_delete", args=[cats.pk]),
        _changelist("user"),
        reverse("admin:threads_user_change", args=[member.pk]),
    ]

    assert [keeper_client.get(url).status_code for url in refused] == [403] * len(refused)


def test_staff_with_model_permissions_cannot_manage_categories(clerk):
    from django.contrib.auth.models import Permission

    user = User.objects.get(username="clerk")
    user.user_permissions.add(*Permission.objects.filter(codename__endswith="_category"))

    assert clerk.get(_changelist("category")).status_code == 403


@pytest.mark.parametrize(("name", "shown"), [("cats", True), ("kittens", True), ("general", False)])
def test_the_topic_page_offers_category_moderators_their_tools(keeper_client, places, name, shown):
    topic = places[name]
    op = opening_post(topic)
    links = [
        reverse("admin:threads_topic_lock", args=[topic.pk]),
        reverse("admin:threads_topic_pin", args=[topic.pk]),
        reverse("admin:threads_topic_move", args=[topic.pk]),
        reverse("admin:threads_post_remove", args=[op.pk]),
    ]

    html = keeper_client.get(topic.get_absolute_url()).content.decode()

    assert [f'href="{link}"' in html for link in links] == [shown] * len(links)


# --- Moving topics to another category -------------------------------------------------------


def test_move_action_asks_for_the_category_then_moves_the_topics(staff, topics):
    cats = _category("Cats")
    chosen = [topics[0].pk, topics[1].pk]

    page = staff.post(_changelist("topic"), {"action": "move", "_selected_action": chosen})

    assert page.status_code == 200
    assert f'<option value="{cats.pk}">Cats</option>' in page.content.decode()
    assert Topic.objects.filter(category=cats).count() == 0

    response = staff.post(
        _changelist("topic"),
        {"action": "move", "_selected_action": chosen, "category": str(cats.pk)},
    )

    assert response.status_code == 302
    assert sorted(Topic.objects.filter(category=cats).values_list("pk", flat=True)) == chosen
    assert "Moved to Cats: 2 topics." in _messages(response)
    cats.refresh_from_db()
    assert (cats.topic_count, cats.post_count) == (2, 2)
    assert services.default_category().topic_count == 1


def test_move_view_from_the_topic_page(staff, topic):
    cats = _category("Cats")
    url = reverse("admin:threads_topic_move", args=[topic.pk])
    assert f'href="{url}"' in staff.get(topic.get_absolute_url()).content.decode()

    page = staff.get(url)
    response = staff.post(url, {"category": str(cats.pk)})

    assert page.status_code == 200
    assert "“A first topic” will be listed in the category you choose" in page.content.decode()
    assert f'<option value="{topic.category_id}" selected>General</option>' in (
        page.content.decode()
    )
    assert response.status_code == 302
    assert response["Location"] == topic.get_absolute_url()
    assert Topic.objects.get(pk=topic.pk).category_id == cats.pk
    assert "Moved “A first topic” to Cats." in _messages(response)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({}, "This field is required."),
        ({"category": "999"}, "Choose one of the categories you moderate."),
        ({"category": "cats"}, "Choose one of the categories you moderate."),
        ({"category": "general"}, "It is in General already: choose another category."),
    ],
)
def test_move_view_shows_what_is_wrong(staff, topic, data, message):
    general = topic.category
    data = {name: str(general.pk) if v == "general" else v for name, v in data.items()}

    response = staff.post(reverse("admin:threads_topic_move", args=[topic.pk]), data)

    assert response.status_code == 400
    assert message in response.content.decode()
    assert Topic.objects.get(pk=topic.pk).category_id == general.pk


def test_move_view_of_a_missing_topic_is_404(staff):
    assert staff.get(reverse("admin:threads_topic_move", args=[999])).status_code == 404


def test_category_moderators_move_topics_within_their_categories(keeper_client, places):
    topic, kittens = places["cats"], places["kittens"].category
    url = reverse("admin:threads_topic_move", args=[topic.pk])

    options = re.findall(r"<option [^>]*>([^<]*)</option>", keeper_client.get(url).content.decode())
    response = keeper_client.post(url, {"category": str(kittens.pk)})

    assert options == ["Cats", "\u2003Kittens"]
    assert response.status_code == 302
    assert Topic.objects.get(pk=topic.pk).category_id == kittens.pk


def test_category_moderators_cannot_move_topics_out_of_their_categories(keeper_client, places):
    topic, general = places["cats"], places["general"].category

    view = keeper_client.post(
        reverse("admin:threads_topic_move", args=[topic.pk]), {"category": str(general.pk)}
    )
    action = keeper_client.post(
        _changelist("topic"),
        {"action": "move", "_selected_action": [topic.pk], "category": str(general.pk)},
    )

    for response in (view, action):
        assert response.status_code == 400
        assert "Choose one of the categories you moderate." in response.content.decode()
    assert Topic.objects.get(pk=topic.pk).category_id == places["cats"].category_id


# --- Moving posts, as a category moderator ---------------------------------------------------


def test_category_moderators_move_posts_between_their_topics(keeper_client, places):
    post = ReplyFactory(parent=opening_post(places["cats"]), body="About kittens, really")
    url = reverse("admin:threads_post_move", args=[post.pk])

    response = keeper_client.post(url, {"new_parent": "", "topic": str(places["kittens"].pk)})

    assert response.status_code == 302
    assert Post.objects.get(pk=post.pk).topic_id == places["kittens"].pk


@pytest.mark.parametrize("target", ["general", "hidden"])
@pytest.mark.parametrize("field", ["topic", "new_parent"])
def test_category_moderators_cannot_move_posts_elsewhere(keeper_client, places, target, field):
    post = ReplyFactory(parent=opening_post(places["cats"]))
    where = places[target]
    value = where.pk if field == "topic" else opening_post(where).pk
    what = "topic" if field == "topic" else "post"

    response = keeper_client.post(
        reverse("admin:threads_post_move", args=[post.pk]), {field: str(value)}
    )

    assert response.status_code == 200
    assert f"There is no {what} with that id in the categories you moderate." in (
        response.content.decode()
    )
    assert Post.objects.get(pk=post.pk).topic_id == places["cats"].pk


# --- The outbox -------------------------------------------------------------------------------


def test_administrators_see_the_outbox_without_the_mails_text(client, member):
    from threads.services import MailKind, mail_queue

    confirmation = MailKind.CONFIRMATION
    sent = mail_queue(
        to="a@example.org", subject="Delivered one", body="secret link", kind=confirmation
    )
    Mail.objects.filter(pk=sent.pk).update(sent=sent.created)
    stuck = mail_queue(to="b@example.org", subject="Stuck one", body="x", kind=confirmation)
    Mail.objects.filter(pk=stuck.pk).update(claimed=stuck.created)
    client.force_login(User.objects.create_superuser("root", "root@example.org", "pw"))
    url = reverse("admin:threads_mail_changelist")

    everything = client.get(url).content.decode()
    only_stuck = client.get(url, {"state": "stuck"}).content.decode()
    page = client.get(reverse("admin:threads_mail_change", args=[sent.pk]))

    assert "Delivered one" in everything
    assert "Stuck one" in everything
    assert "Stuck one" in only_stuck
    assert "Delivered one" not in only_stuck
    assert page.status_code == 200
    assert "secret link" not in page.content.decode()
    assert client.post(reverse("admin:threads_mail_delete", args=[sent.pk])).status_code == 403


def test_moderators_do_not_see_the_outbox(moderator_client):
    assert moderator_client.get(reverse("admin:threads_mail_changelist")).status_code == 403
    assert "threads/mail/" not in moderator_client.get(reverse("admin:index")).content.decode()
