"""Importing ConversationJS files: all of them in one transaction, or nothing."""

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models.functions import Lower

from .. import conversation, fragments, permissions, rendering, selectors
from ..models import Category, Post, Topic, User, handle_validator
from . import locks, search, writes
from .errors import Refused


@dataclass(frozen=True)
class ImportSummary:
    topics: int
    posts: int
    new_accounts: list[str]

    NAMED = 10  # accounts named in a summary; the rest are counted

    @property
    def new_accounts_named(self) -> str:
        """The new accounts for a person to read: the first ten, then how many more."""
        named = ", ".join(self.new_accounts[: self.NAMED])
        more = len(self.new_accounts) - self.NAMED
        return f"{named} and {more} more" if more > 0 else named


Progress = Callable[[str, int, int], None]


def _checked(document: conversation.Document, line: int | None, clean, value: str) -> str:
    try:
        return clean(value)
    except ValidationError as error:
        raise conversation.ConversationError(document.filename, error.messages[0], line) from None


def conversation_import(
    *,
    documents: Sequence[conversation.Document],
    moderator: User,
    category: Category | None = None,
    allow_staff_handles: bool = False,
    dry_run: bool = False,
    progress: Progress | None = None,
) -> ImportSummary:
    """Import every topic of the documents into `category`, all in one transaction, or nothing.

    Only a moderator of the category imports (the default category when None).
    Titles and messages follow the same rules as
    the forms; a problem raises ConversationError with its file and line.
    Handles that match a username (ignoring case) are that member; others
    become accounts that cannot log in until a moderator activates them. A
    handle of a staff account is refused unless `allow_staff_handles`, so
    that a file cannot put words in a moderator's mouth by accident.
    Markdown is rendered before any lock is taken; new trees are built with
    django-mptt's bulk tools.
    """
    category = _moderated_category(moderator, category or writes.default_category())
    report = progress or (lambda stage, done, total: None)
    topics = []  # (title, [(message, body)])
    filenames = []  # each topic's file
    handles: dict[str, str] = {}  # lower-cased handle: first spelling seen
    first_lines: dict[str, tuple[conversation.Document, int]] = {}  # handle: where it is first
    for document in documents:
        for conv in document.conversations:
            title = _checked(document, conv.line, writes.clean_title, conv.title)
            messages = []
            for message in conv.messages:
                if len(message.handle) > User._meta.get_field("username").max_length:
                    raise conversation.ConversationError(
                        document.filename, "the handle is longer than 150 characters", message.line
                    )
                _checked(document, message.line, _handle, message.handle)
                handles.setdefault(message.handle.lower(), message.handle)
                first_lines.setdefault(message.handle.lower(), (document, message.line))
                messages.append(
                    (message, _checked(document, message.line, writes.clean_body, message.text))
                )
            topics.append((title, messages))
            filenames.append(document.filename)
    total = sum(len(messages) for _, messages in topics)
    members = {
        user.username.lower(): user
        for user in User.objects.annotate(key=Lower("username")).filter(key__in=list(handles))
    }
    if not allow_staff_handles:
        for key, user in members.items():
            if user.is_staff or user.is_superuser:
                document, line = first_lines[key]
                raise conversation.ConversationError(
                    document.filename,
                    f"@{handles[key]} is a staff account; import with the option that allows "
                    "staff handles if this file really is theirs",
                    line,
                )
    new_handles = [handle for key, handle in handles.items() if key not in members]
    if dry_run:
        return ImportSummary(topics=len(topics), posts=total, new_accounts=new_handles)

    rendered, done = [], 0
    for filename, (_, messages) in zip(filenames, topics, strict=True):
        rendered.append(_render_messages(filename, messages))
        done += len(messages)
        report("render", done, total)

    with transaction.atomic():
        new_members = [User(username=handle, is_active=False) for handle in new_handles]
        for user in new_members:
            user.set_unusable_password()
        for user in User.objects.bulk_create(new_members):
            members[user.username.lower()] = user
        locks.lock_tree_ids()
        next_tree_id = Post.objects._get_next_tree_id()
        topic_rows = Topic.objects.bulk_create(
            Topic(
                title=title,
                slug=writes.slug(title),
                category=category,
                author=members[messages[0][0].handle.lower()],
                created=messages[0][0].created,
                last_activity=max(message.created for message, _ in messages),
                reply_count=len(messages) - 1,
                description=writes.description(htmls[0]),
            )
            for (title, messages), htmls in zip(topics, rendered, strict=True)
        )
        by_level: dict[int, list[Post]] = defaultdict(list)
        for topic, (_, messages), htmls in zip(topic_rows, topics, rendered, strict=True):
            for tree in _subtrees(topic, messages, htmls, members):
                nodes = Post.objects.build_tree_nodes(tree)
                for node, parent_index in zip(nodes, _parent_indexes(nodes), strict=True):
                    node.tree_id = next_tree_id
                    node.parent = nodes[parent_index] if parent_index is not None else None
                    by_level[node.level].append(node)
                next_tree_id += 1
        # Parents before children, so every child knows its parent's id.
        posts: list[Post] = []
        for level in sorted(by_level):
            posts += Post.objects.bulk_create(by_level[level])
            report("write", len(posts), total)
        for post in posts:
            post.fragment = fragments.post_fragment(post)
        Post.objects.bulk_update(posts, ["fragment"], batch_size=1000)
        search.posts_indexed(posts)
        for topic in topic_rows:
            topic.row_html = fragments.topic_row(topic)
        Topic.objects.bulk_update(topic_rows, ["row_html"], batch_size=1000)
        writes.categories_recounted(category.pk)
    return ImportSummary(topics=len(topic_rows), posts=len(posts), new_accounts=new_handles)


def _moderated_category(moderator: User, category: Category) -> Category:
    """The category as this moderator sees it, with their rights; refused unless they moderate it.

    A category they do not even see is one they do not moderate.
    """
    seen = selectors.visible_categories(moderator).filter(pk=category.pk).first()
    if seen is None:
        raise Refused("Only moderators can do that.")
    writes.refuse_if(permissions.moderation_refusal(moderator, seen))
    return seen


def _handle(handle: str) -> str:
    handle_validator(handle)
    return handle


def _render_messages(filename: str, messages: list[tuple[conversation.Message, str]]) -> list[str]:
    """The HTML of a topic's messages; one too complex to format is refused at its line."""
    bodies = [body for _, body in messages]
    mentions = writes.mentions_in(*bodies).links
    htmls = rendering.markdown_to_html_each(bodies, mentions=mentions, stop_at_refusal=True)
    if htmls and isinstance(refused := htmls[-1], rendering.TooComplex):
        raise conversation.ConversationError(
            filename, refused.message, messages[refused.index][0].line
        )
    return htmls


def _subtrees(topic: Topic, messages, htmls, members) -> list[dict]:
    """Nested dicts, one per top-level message, as build_tree_nodes takes them."""
    roots: list[dict] = []
    path: list[dict] = []  # the latest node at each depth
    for (message, body), html in zip(messages, htmls, strict=True):
        node = {
            "topic": topic,
            "author": members[message.handle.lower()],
            "body": body,
            "body_html": html,
            "render_version": rendering.RENDER_VERSION,
            "created": message.created,
            "children": [],
        }
        del path[message.depth :]
        (path[-1]["children"] if path else roots).append(node)
        path.append(node)
    return roots


def _parent_indexes(nodes: list[Post]) -> list[int | None]:
    """For nodes of one tree in depth-first order, the index of each one's parent."""
    indexes: list[int | None] = []
    path: list[int] = []
    for index, node in enumerate(nodes):
        del path[node.level :]
        indexes.append(path[-1] if path else None)
        path.append(index)
    return indexes
