"""Template filters of the forum's pages."""

from collections.abc import Iterator
from datetime import timedelta

from django import template
from django.core.paginator import Page

from ..services.topics import slow_mode_text

register = template.Library()


@register.filter
def page_numbers(page: Page) -> Iterator[int | str]:
    """The page numbers to link: the first, a window around this page, the last.

    Gaps are the paginator's ELLIPSIS ("…").
    """
    return page.paginator.get_elided_page_range(page.number, on_each_side=2, on_ends=1)


@register.filter
def slow_mode(interval: timedelta) -> str:
    """A topic's slow mode as its page says it: "one post per 5 minutes per member"."""
    return slow_mode_text(interval)
