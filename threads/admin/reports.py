"""The report queue: posts with open reports, oldest report first, and the decisions.

One row per reported post (its oldest open report), with its counts per reason
and the reporters' notes. Moderators remove the post (with a reason), dismiss
its reports, or suspend its author (until a date, with a reason); each closes
the post's reports with that outcome. Category moderators see, and decide on,
the posts they moderate only (threads.selectors.report_queue).
"""

from django.contrib import admin
from django.http import HttpRequest
from django.utils.html import format_html, format_html_join
from django.utils.safestring import mark_safe
from django.utils.text import Truncator

from .. import selectors, services
from ..models import Post, Report
from .common import NAME_CHARS, ServiceRefusals, each_selected, moderates_somewhere
from .decisions import ReasonForm, SuspensionForm, decided


@admin.register(Report)
class ReportQueueAdmin(ServiceRefusals, admin.ModelAdmin):
    list_display = [
        "post_excerpt",
        "author_name",
        "topic_title",
        "created",
        "open_reports",
        "reasons",
        "notes",
    ]
    list_display_links = None
    list_per_page = 50
    actions = ["remove", "dismiss", "suspend_author"]

    # Every moderator, of everything or of some categories, has the queue of what they moderate.
    def has_module_permission(self, request: HttpRequest) -> bool:
        return moderates_somewhere(request)

    def has_view_permission(self, request: HttpRequest, obj=None) -> bool:
        return moderates_somewhere(request)

    def has_moderate_permission(self, request: HttpRequest) -> bool:
        return moderates_somewhere(request)

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # members report on the site

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # decided by the actions, through the services

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False  # a report closes with its outcome, and stays

    def get_queryset(self, request: HttpRequest):
        return selectors.report_queue(request.user)

    def get_actions(self, request: HttpRequest):
        actions = super().get_actions(request)
        actions.pop("delete_selected", None)
        return actions

    @admin.display(description="Post")
    def post_excerpt(self, report: Report) -> str:
        post = report.post
        text = Truncator(post.body).chars(80)
        if post.removal == Post.Removal.REPORTED:
            text = f"[hidden] {text}"
        return format_html('<a href="{}">{}</a>', post.get_absolute_url(), text)

    @admin.display(description="Author")
    def author_name(self, report: Report) -> str:
        return Truncator(report.post.author.username).chars(NAME_CHARS)

    @admin.display(description="Topic")
    def topic_title(self, report: Report) -> str:
        return Truncator(report.post.topic.title).chars(24)

    @admin.display(description="Reports", ordering="open_reports")
    def open_reports(self, report: Report) -> int:
        return report.open_reports

    @admin.display(description="Reasons")
    def reasons(self, report: Report) -> str:
        counts = [(label, getattr(report, why)) for why, label in Report.Why.choices]
        return ", ".join(f"{label}: {count}" for label, count in counts if count)

    @admin.display(description="Notes")
    def notes(self, report: Report) -> str:
        noted = [(each.reporter.username, each.note) for each in report.post.open if each.note]
        return format_html_join(mark_safe("<br>"), "@{}: {}", noted)

    def _posts(self, queryset) -> list[Post]:
        return [report.post for report in queryset]

    @admin.action(description="Remove the posts (asks for a reason)", permissions=["moderate"])
    def remove(self, request, queryset):
        return decided(
            self,
            request,
            form_class=ReasonForm,
            rows=queryset,
            items=lambda report: f"@{report.post.author.username}: {report.post.body[:160]}",
            action="remove",
            intro="Readers will see that these posts were removed; their reports close.",
            submit="Remove",
            act=lambda data: each_selected(
                request,
                self._posts(queryset),
                lambda post: services.reported_post_remove(
                    post=post, moderator=request.user, reason=data["reason"]
                ),
                "Removed",
            ),
        )

    @admin.action(description="Dismiss the reports: the posts stay", permissions=["moderate"])
    def dismiss(self, request, queryset) -> None:
        each_selected(
            request,
            self._posts(queryset),
            lambda post: services.reports_dismiss(post=post, moderator=request.user),
            "Dismissed the reports of",
        )

    @admin.action(
        description="Suspend the authors (asks until when, and why)", permissions=["moderate"]
    )
    def suspend_author(self, request, queryset):
        return decided(
            self,
            request,
            form_class=SuspensionForm,
            rows=queryset,
            items=lambda report: f"@{report.post.author.username}",
            action="suspend_author",
            intro="These members will not be able to post until then; the reports close.",
            submit="Suspend",
            act=lambda data: each_selected(
                request,
                self._posts(queryset),
                lambda post: services.reported_author_suspend(
                    post=post, moderator=request.user, until=data["until"], reason=data["reason"]
                ),
                "Suspended the author of",
            ),
        )

    def changelist_view(self, request, extra_context=None):
        extra_context = {**(extra_context or {}), "title": "Reported posts"}
        return super().changelist_view(request, extra_context)
