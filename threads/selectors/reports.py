"""Reports: a post's report page, and the moderators' queue of reported posts."""

from dataclasses import dataclass

from django.db.models import Count, IntegerField, OuterRef, Prefetch, Q, QuerySet, Subquery
from django.db.models.functions import Coalesce

from ..models import Post, Report
from . import access


@dataclass(frozen=True)
class ReportPage:
    """The post a member reports, and their own report of it, if they made one."""

    post: Post
    report: Report | None


def report_page(*, post_id: int, viewer) -> ReportPage:
    """The post (with its author and topic) and the viewer's report: two queries.

    A post the viewer may not see raises Post.DoesNotExist.
    """
    post = access.visible_posts(viewer).select_related("author", "topic").get(pk=post_id)
    report = None
    if viewer.is_authenticated:
        report = Report.objects.filter(post_id=post_id, reporter=viewer).first()
    return ReportPage(post=post, report=report)


def _open_count(why: str | None = None):
    """How many open reports the row's post has (of one reason, when `why` is given)."""
    reports = Report.objects.filter(post=OuterRef("post"), outcome="")
    if why is not None:
        reports = reports.filter(why=why)
    counted = reports.order_by().values("post").annotate(n=Count("pk")).values("n")
    return Coalesce(Subquery(counted, output_field=IntegerField()), 0)


def report_queue(viewer) -> QuerySet[Report]:
    """The moderators' queue: one row per post with open reports, oldest report first.

    Each row is the post's oldest open report, with the post's counts of open
    reports (`open_reports`, and one per reason: `spam`, `abuse`, `off_topic`,
    `other`) and, prefetched, every open report of the post (`post.open`, with
    their reporters, for the notes). Only posts the viewer moderates.
    """
    open_reports = Report.objects.filter(outcome="")
    oldest = open_reports.filter(post=OuterRef("post")).order_by("created", "pk").values("pk")[:1]
    counts = {why: _open_count(why) for why in Report.Why.values}
    return (
        open_reports.filter(
            Q(pk=Subquery(oldest)),
            post__topic__in=access.moderated_topics(viewer).values("pk"),
        )
        .select_related("post__author", "post__topic")
        .annotate(open_reports=_open_count(), **counts)
        .prefetch_related(
            Prefetch(
                "post__reports",
                queryset=open_reports.select_related("reporter").order_by("created", "pk"),
                to_attr="open",
            )
        )
        .order_by("created", "pk")
    )
