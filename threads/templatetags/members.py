"""Template tags for showing members."""

from django import template
from django.utils.safestring import SafeString, mark_safe

from .. import avatars

register = template.Library()


@register.simple_tag
def avatar(user, size: str = "small") -> SafeString:
    """`{% avatar member "large" %}`: the member's avatar (threads.avatars.avatar_html)."""
    return mark_safe(avatars.avatar_html(user, size))


@register.simple_tag
def generated_avatar(user, size: str = "small") -> SafeString:
    """`{% generated_avatar member "large" %}`: the initials, whatever the member uploaded."""
    return mark_safe(avatars.generated_html(user, size))
