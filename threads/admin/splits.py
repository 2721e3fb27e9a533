"""The admin's pages for splitting a post's replies off into a new topic and merging topics.

Linked from the topic page's moderator tools; `posts.PostAdmin` and
`topics.TopicAdmin` route them. Each calls its service; a refusal becomes an
error on the form, which keeps what was typed.
"""

import re

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect

from .. import permissions, selectors, services
from ..models import TITLE_MAX_LENGTH, Category, Post, Topic
from .common import admin_page, refusal_reason


def _indented(category: Category) -> str:
    return "\u2003" * category.level + category.name


class SplitForm(forms.Form):
    title = forms.CharField(max_length=TITLE_MAX_LENGTH, label="Title of the new topic")
    category = forms.ModelChoiceField(
        queryset=Category.objects.none(),
        empty_label=None,
        label="In the category",
        error_messages={"invalid_choice": "Choose one of the categories you moderate."},
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; shown in the moderation log.",
    )

    def __init__(self, *args, moderator, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        # The categories they moderate and may start topics in, read with their rights.
        categories = selectors.visible_categories(moderator).filter(moderated=True)
        field = self.fields["category"]
        field.queryset = categories.order_by("tree_id", "lft")
        field.label_from_instance = _indented


# A topic's address on the site: /t/<id>/ or /t/<id>-<slug>/, with or without the host.
_TOPIC_URL = re.compile(r"/t/(\d{1,18})(?:-[\w-]*)?/")


class MergeForm(forms.Form):
    into = forms.CharField(
        max_length=2000,
        label="Merge into the topic",
        help_text="Its id, or its address (https://…/t/123-title/).",
    )
    reason = forms.CharField(
        required=False,
        max_length=500,
        widget=forms.Textarea(attrs={"rows": 2}),
        help_text="Optional; shown in the moderation log.",
    )

    def clean_into(self) -> int:
        text = self.cleaned_data["into"].strip()
        found = re.fullmatch(r"\d{1,18}", text) or _TOPIC_URL.search(text)
        if found is None:
            raise ValidationError(
                "Give the topic's id (a number) or its address.", code="not_a_topic"
            )
        return int(found.group(1) if found.groups() else found.group(0))


# What `writes.clean_title` says of a title.
_TITLE_ERRORS = {"empty", "too_long", "control_characters"}


def split_view(model_admin, request: HttpRequest, post: Post) -> HttpResponse:
    """Make a post and its replies a new topic (not the opening post)."""
    form = SplitForm(
        request.POST if request.method == "POST" else None,
        moderator=request.user,
        initial={"category": post.topic.category_id},
    )
    if form.is_valid():
        try:
            topic = services.topic_split(
                post=post,
                moderator=request.user,
                title=form.cleaned_data["title"],
                category=form.cleaned_data["category"],
                reason=form.cleaned_data["reason"],
            )
        except ValidationError as error:
            form.add_error("title" if error.code in _TITLE_ERRORS else None, error)
        except services.Refused as refused:
            form.add_error(None, refused.message)
        else:
            messages.success(request, f"Split off into “{topic}”.")
            return redirect(topic)
    page = admin_page(
        model_admin,
        request,
        "admin/threads/post/split.html",
        form=form,
        post=post,
        opening=selectors.is_opening_post(post),
        title="Split into a new topic",
    )
    page.status_code = 400 if form.errors else 200
    return page


def merge_view(model_admin, request: HttpRequest, topic: Topic) -> HttpResponse:
    """Move all of a topic's posts into another topic; its address then leads there."""
    form = MergeForm(request.POST if request.method == "POST" else None)
    if form.is_valid():
        try:
            into = services.topic_merge(
                topic=topic,
                into=Topic(pk=form.cleaned_data["into"]),
                moderator=request.user,
                reason=form.cleaned_data["reason"],
            )
        except (services.Refused, ValidationError) as error:
            form.add_error("into", refusal_reason(error))
        else:
            messages.success(request, f"Merged “{topic}” into “{into}”.")
            return redirect(into)
    page = admin_page(
        model_admin,
        request,
        "admin/threads/topic/merge.html",
        form=form,
        topic=topic,
        everywhere=permissions.is_moderator(request.user),
        title=f"Merge “{topic}” into another topic",
    )
    page.status_code = 400 if form.errors else 200
    return page
