"""Where a merged topic went: its old address answers with the topic it was merged into."""

from django.db.models import Subquery

from ..models import Topic, TopicRedirect
from . import access


def redirected_topic(*, topic_id: int, viewer) -> Topic:
    """The topic that the merged topic `topic_id` went into, if this reader may see it.

    One query; Topic.DoesNotExist when there is no such redirect or the reader
    may not see where it goes. Asked only after the topic itself was not found.
    """
    target = TopicRedirect.objects.filter(old_topic_id=topic_id).values("target_id")
    return access.visible_topics(viewer).filter(pk=Subquery(target[:1])).only("pk", "slug").get()
