"""Template tags for showing members."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from .. import avatars

register = template.Library()


@register.simple_tag
def avatar(user, size: str = "small") -> SafeString:
    """`{% avatar member "large" %}`: the member's avatar (threads.avatars.avatar_html)."""
    return mark_safe(avatars.avatar_html(user, size))
