"""Moderation through the Django admin. Every change goes through threads.services.

One module per model; importing them registers their admin classes.
"""

from . import approval, categories, mail, posts, reports, splits, topics, users  # noqa: F401
