"""Every read a page needs, each in a fixed number of queries whatever the data's size.

One module per area; callers use the names below (`selectors.topic_thread(...)`).
A selector that reads one object raises that model's DoesNotExist when there is
none: the view decides what a missing object means (a 404, for pages). Every
selector reads through the access filter of `access` (what may this reader
see), so what a reader may not see does not exist for them.
"""

from .access import (
    moderated_categories,
    moderated_topics,
    topics_with_rights,
    visible_categories,
    visible_posts,
    visible_topics,
)
from .history import VERSIONS_PER_PAGE, History, Version, line_diff, post_history
from .interchange import conversation_export, topic_markdown
from .lists import (
    PROFILE_POSTS_PER_PAGE,
    TOPICS_PER_PAGE,
    CategoryPage,
    Index,
    Profile,
    TopicList,
    category_index,
    category_page,
    profile,
    startable_categories,
)
from .members import member
from .moderation_log import moderation_feed, moderation_log
from .public import (
    FEED_ENTRIES,
    feed_category,
    feed_member,
    feed_topic,
    latest_topics,
    latest_topics_stamp,
    member_posts,
    member_posts_stamp,
    public_categories,
    public_topic_pages,
    topic_posts,
)
from .reports import ReportPage, report_page, report_queue
from .search import Results, Sort, search_results
from .splits import redirected_topic
from .threads import (
    CACHE_SECONDS,
    POSTS_PER_PAGE,
    THREAD_DEPTH,
    Thread,
    is_opening_post,
    new_post_location,
    post_for_change,
    post_location,
    post_thread,
    reply_place,
    reply_target,
    topic_thread,
)
from .trees import TreeProblem, tree_problems

__all__ = [
    "CACHE_SECONDS",
    "FEED_ENTRIES",
    "POSTS_PER_PAGE",
    "PROFILE_POSTS_PER_PAGE",
    "THREAD_DEPTH",
    "TOPICS_PER_PAGE",
    "VERSIONS_PER_PAGE",
    "CategoryPage",
    "History",
    "Index",
    "Profile",
    "ReportPage",
    "Results",
    "Sort",
    "Thread",
    "TopicList",
    "TreeProblem",
    "Version",
    "category_index",
    "category_page",
    "conversation_export",
    "feed_category",
    "feed_member",
    "feed_topic",
    "is_opening_post",
    "latest_topics",
    "latest_topics_stamp",
    "line_diff",
    "member",
    "member_posts",
    "member_posts_stamp",
    "moderated_categories",
    "moderated_topics",
    "moderation_feed",
    "moderation_log",
    "new_post_location",
    "post_for_change",
    "post_history",
    "post_location",
    "post_thread",
    "profile",
    "public_categories",
    "public_topic_pages",
    "redirected_topic",
    "reply_place",
    "reply_target",
    "report_page",
    "report_queue",
    "search_results",
    "startable_categories",
    "topic_markdown",
    "topic_posts",
    "topic_thread",
    "topics_with_rights",
    "tree_problems",
    "visible_categories",
    "visible_posts",
    "visible_topics",
]
