"""Moderators' private notes on members, in the member's admin page."""

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse

from threads import services
from threads.models import ModeratorNote

from .helpers import form_data

pytestmark = pytest.mark.django_db

PREFIX = "moderator_notes"


def _change_url(member) -> str:
    return reverse("admin:threads_user_change", args=[member.pk])


def _with_note(data: dict, text: str) -> dict:
    return {**data, f"{PREFIX}-0-body": text}


def test_a_moderator_adds_a_note_that_other_moderators_read(
    moderator_client, moderator, other_member, client
):
    url = _change_url(other_member)
    data = form_data(moderator_client.get(url), "user_form")

    response = moderator_client.post(url, _with_note(data, "Warned about spam on 2 Dec."))

    assert response.status_code == 302
    note = ModeratorNote.objects.get()
    assert (note.member, note.author, note.body) == (
        other_member,
        moderator,
        "Warned about spam on 2 Dec.",
    )
    page = moderator_client.get(url).content.decode()
    assert "Warned about spam on 2 Dec." in page
    assert "only moderators see them" in page


def test_notes_are_kept_as_written(moderator_client, moderator, other_member):
    services.moderator_note_add(member=other_member, moderator=moderator, body="First")
    url = _change_url(other_member)
    page = moderator_client.get(url)
    data = form_data(page, "user_form")

    assert not any(name.endswith("-body") and value == "First" for name, value in data.items())
    moderator_client.post(url, data)
    assert list(ModeratorNote.objects.values_list("body", flat=True)) == ["First"]


def test_a_member_never_sees_notes_about_them(client, moderator, other_member):
    services.moderator_note_add(member=other_member, moderator=moderator, body="Keep an eye")
    client.force_login(other_member)

    for url in ["/", f"/u/{other_member.username}/", "/settings/", _change_url(other_member)]:
        response = client.get(url)
        assert b"Keep an eye" not in response.content, url


def test_only_moderators_add_notes(member, other_member):
    with pytest.raises(services.Refused):
        services.moderator_note_add(member=other_member, moderator=member, body="no")

    assert not ModeratorNote.objects.exists()


@pytest.mark.parametrize("body", ["", " \n ", "x" * 2001, "nul\x00"])
def test_a_bad_note_is_refused(moderator, other_member, body):
    with pytest.raises(ValidationError):
        services.moderator_note_add(member=other_member, moderator=moderator, body=body)

    assert not ModeratorNote.objects.exists()


def test_a_note_too_long_is_an_error_on_the_page_that_keeps_it(moderator_client, other_member):
    url = _change_url(other_member)
    data = form_data(moderator_client.get(url), "user_form")

    response = moderator_client.post(url, _with_note(data, "y" * 2001))

    assert response.status_code == 200
    assert "y" * 2001 in response.content.decode()
    assert not ModeratorNote.objects.exists()
