"""Every read a page needs, each in a fixed number of queries whatever the data's size.

One module per area; callers use the names below (`selectors.topic_thread(...)`).
A selector that reads one object raises that model's DoesNotExist when there is
none: the view decides what a missing object means (a 404, for pages).
"""

from .interchange import conversation_export, topic_markdown
from .lists import PROFILE_POSTS_PER_PAGE, TOPICS_PER_PAGE, Profile, TopicList, profile, topic_list
from .threads import (
    CACHE_SECONDS,
    POSTS_PER_PAGE,
    THREAD_DEPTH,
    Thread,
    is_opening_post,
    post_for_change,
    post_location,
    post_thread,
    reply_target,
    topic_thread,
)
from .trees import TreeProblem, tree_problems

__all__ = [
    "CACHE_SECONDS",
    "POSTS_PER_PAGE",
    "PROFILE_POSTS_PER_PAGE",
    "THREAD_DEPTH",
    "TOPICS_PER_PAGE",
    "Profile",
    "Thread",
    "TopicList",
    "TreeProblem",
    "conversation_export",
    "is_opening_post",
    "post_for_change",
    "post_location",
    "post_thread",
    "profile",
    "reply_target",
    "topic_list",
    "topic_markdown",
    "topic_thread",
    "tree_problems",
]
