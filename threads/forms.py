from functools import cached_property

from django import forms
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm, UserCreationForm
from django.template import loader

from . import avatars, selectors, services
from .models import (
    BIO_MAX_LENGTH,
    BODY_MAX_LENGTH,
    DISPLAY_NAME_MAX_LENGTH,
    TITLE_MAX_LENGTH,
    Level,
    Report,
    User,
)
from .models.moderation import REASON_MAX_LENGTH


class BodyField(forms.CharField):
    """Markdown text: line ends normalized, blank lines at either end dropped, inner spaces kept."""

    widget = forms.Textarea(attrs={"rows": 8})

    def __init__(self, max_length: int = BODY_MAX_LENGTH, **kwargs) -> None:
        kwargs.setdefault("label", "Message")
        kwargs.setdefault(
            "help_text",
            "Markdown: **bold**, _italic_, `code`, > quotes; an empty line before a list.",
        )
        kwargs.setdefault(
            "error_messages", {"required": "The message is empty: write something first."}
        )
        super().__init__(max_length=max_length, strip=False, **kwargs)

    def to_python(self, value):
        return services.normalize_body(super().to_python(value))


class TitleField(forms.CharField):
    def __init__(self, **kwargs) -> None:
        kwargs.setdefault("error_messages", {"required": "The topic needs a title."})
        super().__init__(max_length=TITLE_MAX_LENGTH, **kwargs)


class CategoryField(forms.ModelChoiceField):
    """A category, by slug; subcategories indented under their parent."""

    def label_from_instance(self, category) -> str:
        return "\u2003" * category.level + category.name


class TopicForm(forms.Form):
    """A new topic, in one of the categories where the member may start one."""

    # Not required: a form sent without one (not from this page) starts in the default category.
    category = CategoryField(
        queryset=None,
        to_field_name="slug",
        empty_label=None,
        required=False,
        error_messages={"invalid_choice": "Choose one of the categories listed."},
    )
    title = TitleField()
    body = BodyField()

    def __init__(self, *args, viewer, category: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self._viewer, self._asked_for = viewer, category
        field = self.fields["category"]
        field.queryset = selectors.startable_categories(viewer=viewer)
        # Read once, when the form is shown (not at all for a refused page).
        field.choices = lambda: [(c.slug, field.label_from_instance(c)) for c in self._categories]
        field.initial = self._preselected

    @cached_property
    def _categories(self) -> list:
        return list(self.fields["category"].queryset) if self._viewer.is_authenticated else []

    def _preselected(self) -> str | None:
        """The category it was started from, or else the default one."""
        slugs = {choice.slug for choice in self._categories}
        if self._asked_for in slugs:
            return self._asked_for
        return next((choice.slug for choice in self._categories if choice.is_default), None)

    def no_category_refusal(self) -> str | None:
        if self._categories:
            return None
        return "There is no category where you may start a topic."


class ReplyForm(forms.Form):
    body = BodyField(label="Your reply")


class EditForm(forms.Form):
    """Editing a post; editing the opening post also offers the topic's title."""

    body = BodyField()

    def __init__(self, *args, title: str | None = None, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        if title is not None:
            self.fields = {"title": TitleField(initial=title), **self.fields}


class ProfileForm(forms.Form):
    """What a member shows of themselves: a display name beside their @handle, and a bio."""

    # Counted by the service, once hidden characters are dropped, with its own message.
    display_name = forms.CharField(
        required=False,
        help_text=(
            f"Up to {DISPLAY_NAME_MAX_LENGTH} characters, shown beside your @handle. "
            "Leave it empty to show only your handle."
        ),
        widget=forms.TextInput(
            attrs={"autocomplete": "name", "maxlength": DISPLAY_NAME_MAX_LENGTH}
        ),
    )
    # Counted once line ends are normalized (browsers send each as two characters).
    bio = BodyField(
        label="About you",
        required=False,
        max_length=BIO_MAX_LENGTH,
        help_text=f"Markdown, up to {BIO_MAX_LENGTH:,} characters, shown on your profile.",
        widget=forms.Textarea(attrs={"rows": 5}),
    )


class NotificationSettingsForm(forms.Form):
    """What a member is mailed of their notifications, and what they watch on their own."""

    mailing = forms.ChoiceField(
        label="E-mail about notifications",
        choices=User.Mailing.choices,
        widget=forms.RadioSelect,
        help_text="Only to a confirmed address, and never about what you cannot see.",
    )
    watch_own_topics = forms.BooleanField(
        label="Watch the topics I start or reply to (every new post notifies me)",
        required=False,
    )


class WatchForm(forms.Form):
    """A member's level for one topic or category."""

    level = forms.ChoiceField(choices=Level.choices)


class SignupForm(UserCreationForm):
    class Meta:
        model = User
        fields = ("username", "email")

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.fields["username"].widget.attrs["autocomplete"] = "username"
        self.fields["email"].required = True
        self.fields["email"].widget.attrs["autocomplete"] = "email"
        self.fields["email"].help_text = (
            "We mail it a link to confirm it. Until you follow the link, it gets nothing "
            "but that and password resets."
        )


class LoginForm(AuthenticationForm):
    error_messages = {
        **AuthenticationForm.error_messages,
        "invalid_login": "That username and password do not match an account.",
        "inactive": (
            "This account is not active: it was suspended, or it was imported and a "
            "moderator has not activated it yet."
        ),
    }


class OneMailPasswordResetForm(PasswordResetForm):
    """Django's reset form, sending one mail per request even when several accounts
    share the address: to the one used most recently.

    The reset limits count mails to an address; Django would send one per account.
    The mail is queued in the outbox (services.mail_queue), for the worker to
    send: no request talks to the SMTP server. It is plain text, from
    DEFAULT_FROM_EMAIL, as every mail in the outbox (the view's HTML template
    and From, Django's options, are not used).
    """

    def send_mail(
        self,
        subject_template_name,
        email_template_name,
        context,
        from_email,
        to_email,
        html_email_template_name=None,
    ) -> None:
        services.mail_queue(
            to=to_email,
            subject=loader.render_to_string(subject_template_name, context),
            body=loader.render_to_string(email_template_name, context),
            kind=services.MailKind.PASSWORD_RESET,
        )

    def get_users(self, email):
        users = sorted(
            super().get_users(email),
            key=lambda user: (user.last_login or user.date_joined, user.pk),
            reverse=True,
        )
        return users[:1]


class EmailChangeForm(forms.Form):
    """A new e-mail address, with the member's password (as a stolen session has not)."""

    email = forms.EmailField(
        label="New e-mail address",
        max_length=User._meta.get_field("email").max_length,
        widget=forms.EmailInput(attrs={"autocomplete": "email"}),
    )
    password = forms.CharField(
        label="Your password",
        strip=False,
        widget=forms.PasswordInput(attrs={"autocomplete": "current-password"}),
    )

    def __init__(self, *args, user: User, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.user = user

    def clean_password(self) -> str:
        password = self.cleaned_data["password"]
        if not self.user.check_password(password):
            raise forms.ValidationError("That is not your password.", code="password_incorrect")
        return password


class AvatarForm(forms.Form):
    """An image to show as one's avatar.

    Only its size is checked here, before it is read; `services.avatar_set`
    checks the image itself as it re-encodes it, and its ValidationError is
    shown on the field.
    """

    image = forms.FileField(
        label="Image",
        help_text="PNG, JPEG, GIF or WebP, at most 2 MB and 4,000 by 4,000 pixels. "
        "It is cropped to a square.",
        widget=forms.FileInput(attrs={"accept": avatars.ACCEPT}),
        error_messages={
            "required": "Choose an image to upload.",
            "empty": "This file is empty: choose an image.",
        },
    )

    @classmethod
    def too_big(cls) -> "AvatarForm":
        """The form sent with a body too big to read: empty, saying why."""
        form = cls(data={}, files={})
        form.full_clean()
        form.errors["image"] = form.error_class([avatars.TOO_BIG])
        return form

    def clean_image(self):
        upload = self.cleaned_data["image"]
        avatars.check_size(upload)
        return upload


class RevisionHiddenForm(forms.Form):
    """A moderator hides an earlier version of a post, or shows it again (the history page)."""

    hidden = forms.TypedChoiceField(
        choices=[("1", "Hide"), ("0", "Show")], coerce=lambda value: value == "1"
    )
    reason = forms.CharField(required=False, max_length=REASON_MAX_LENGTH)
    # The page of the history to go back to.
    page = forms.IntegerField(required=False, min_value=1, max_value=1_000_000)


class ReportForm(forms.Form):
    """Why a member reports a post (threads.services.reports checks it again)."""

    why = forms.ChoiceField(
        label="What is wrong with this post?",
        choices=Report.Why.choices,
        widget=forms.RadioSelect,
        error_messages={"required": "Choose why you report this post."},
    )
    note = forms.CharField(
        label="A note for the moderators",
        required=False,
        max_length=REASON_MAX_LENGTH,
        widget=forms.Textarea(attrs={"rows": 3}),
        help_text="Needed for “Something else”; only moderators read it.",
    )
