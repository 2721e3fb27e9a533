"""What services raise when they will not do something."""

import math
from datetime import timedelta

from ..models import Post


class Refused(Exception):
    """The forum will not do this. `message` is meant for the person who asked."""

    status_code = 403

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


class NotFound(Refused):
    status_code = 404


class BadLink(Refused):
    """A link from a mail that is no good: not one the forum made, tampered with,
    expired, or outdated by a newer one. `message` says which, and what to do."""

    status_code = 400


class RateLimited(Refused):
    """Too much, too soon: `retry_after` says in how many seconds to try again."""

    status_code = 429

    def __init__(self, message: str, retry_after: timedelta) -> None:
        self.retry_after = max(1, math.ceil(retry_after.total_seconds()))
        super().__init__(f"{message} Try again in {duration(self.retry_after)}.")


class Busy(RateLimited):
    """Every render worker is busy formatting other posts: nothing was done."""

    status_code = 503

    def __init__(self) -> None:
        super().__init__(
            "The forum is busy formatting other posts, so yours was not sent.", timedelta(seconds=5)
        )


def duration(seconds: int) -> str:
    for unit, size in (("day", 86400), ("hour", 3600), ("minute", 60)):
        if seconds >= size:
            count = math.ceil(seconds / size)
            return f"{count} {unit}{'s' if count > 1 else ''}"
    return f"{seconds} second{'s' if seconds > 1 else ''}"


class AlreadyPosted(Exception):
    """The author posted this very text here a moment ago: `post` is that post.

    Double clicks and resubmitted forms lead to the first post instead of a second.
    """

    def __init__(self, post: Post) -> None:
        super().__init__(post.pk)
        self.post = post
