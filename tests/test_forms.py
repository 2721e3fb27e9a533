import pytest
from django.contrib.auth.models import AnonymousUser

from threads.forms import BodyField, EditForm, ReplyForm, SignupForm, TopicForm
from threads.models import BODY_MAX_LENGTH, TITLE_MAX_LENGTH

from .factories import PASSWORD


@pytest.mark.parametrize(
    ("typed", "cleaned"),
    [
        ("one\r\ntwo\rthree", "one\ntwo\nthree"),
        ("\r\n \r\n\t\nbody\n \n\n", "body"),
        ("    indented code\n\n  - nested\n", "    indented code\n\n  - nested"),
        ("trailing spaces make a break  \nnext", "trailing spaces make a break  \nnext"),
    ],
)
def test_body_field_normalizes_line_ends_and_outer_blank_lines(typed, cleaned):
    assert BodyField().clean(typed) == cleaned


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("", "The message is empty"),
        ("\r\n   \n\t", "The message is empty"),
        ("x" * (BODY_MAX_LENGTH + 1), "at most 50000 characters"),
        ("nul\x00byte", "Null characters are not allowed"),
    ],
)
def test_reply_form_refuses_bad_bodies(typed, message):
    form = ReplyForm({"body": typed})

    assert not form.is_valid()
    assert message in " ".join(form.errors["body"])


def test_body_length_is_counted_after_normalizing():
    typed = "\n\n" + "x" * BODY_MAX_LENGTH + "\r\n\r\n"

    form = ReplyForm({"body": typed})

    assert form.is_valid(), form.errors
    assert len(form.cleaned_data["body"]) == BODY_MAX_LENGTH


@pytest.mark.parametrize(
    ("title", "message"),
    [
        ("", "The topic needs a title."),
        ("   ", "The topic needs a title."),
        ("x" * (TITLE_MAX_LENGTH + 1), "at most 200 characters"),
        ("nul\x00", "Null characters are not allowed"),
    ],
)
def test_topic_form_refuses_bad_titles(title, message):
    form = TopicForm({"title": title, "body": "fine"}, viewer=AnonymousUser())

    assert not form.is_valid()
    assert message in " ".join(form.errors["title"])


def test_topic_form_strips_the_title():
    form = TopicForm({"title": "  Spaced out  ", "body": "fine"}, viewer=AnonymousUser())

    assert form.is_valid()
    assert form.cleaned_data == {"category": None, "title": "Spaced out", "body": "fine"}


def test_edit_form_without_title_has_only_the_body():
    form = EditForm({"body": "new text"})

    assert list(form.fields) == ["body"]
    assert form.is_valid()
    assert form.cleaned_data == {"body": "new text"}


def test_edit_form_with_title_puts_the_title_first():
    form = EditForm({"title": "New title", "body": "new text"}, title="Old title")

    assert list(form.fields) == ["title", "body"]
    assert form.fields["title"].initial == "Old title"
    assert form.is_valid()
    assert form.cleaned_data == {"title": "New title", "body": "new text"}


def test_edit_form_with_title_requires_it():
    form = EditForm({"title": "", "body": "new text"}, title="Old title")

    assert not form.is_valid()
    assert form.errors["title"] == ["The topic needs a title."]


def test_edit_form_fields_are_per_instance():
    EditForm(title="Old title")

    assert list(EditForm().fields) == ["body"]


def _signup(**changes):
    data = {
        "username": "carol",
        "email": "carol@example.org",
        "password1": PASSWORD,
        "password2": PASSWORD,
        **changes,
    }
    return SignupForm(data)


@pytest.mark.django_db
def test_signup_form_accepts_a_handle():
    form = _signup(username="carol.c+forum-1_x")

    assert form.is_valid(), form.errors


@pytest.mark.django_db
def test_signup_form_requires_an_email():
    form = _signup(email="")

    assert not form.is_valid()
    assert list(form.errors) == ["email"]


@pytest.mark.django_db
@pytest.mark.parametrize("username", ["carol smith", "carolé", "кэрол", "carol!"])
def test_signup_form_refuses_handles_with_other_characters(username):
    form = _signup(username=username)

    assert not form.is_valid()
    assert "no spaces" in form.errors["username"][0]


@pytest.mark.django_db
def test_signup_form_refuses_a_taken_username_in_another_case(member):
    form = _signup(username="ALICE")

    assert not form.is_valid()
    assert form.errors["username"] == ["That username is taken."]
