"""Posts: replying, editing, previewing, deleting, and moderators' removal and moves."""

from datetime import datetime

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from .. import permissions, selectors
from ..models import ModerationAction, PendingPost, Post, PostRevision, Report, Topic, User
from . import limits, locks, moderation_log, notifications, publishing, search, writes
from .errors import NotFound, Refused

Action = ModerationAction.Action


def post_reply(
    *,
    author: User,
    topic: Topic,
    parent: Post | None = None,
    body: str,
    created: datetime | None = None,
) -> Post | PendingPost:
    """Reply to `parent`, or to the topic itself (a new top-level post) when it is None.

    A reply held for a moderator (`publishing.held`) is returned as the
    PendingPost that keeps it, and nothing else is written.
    """
    body = writes.clean_body(body)
    writes.refuse_if(permissions.posting_refusal(author))
    limits.check_posting(author, body, topic=topic, parent=parent)
    mentions = writes.mentions_in(body)
    body_html = writes.render(body, author=author, mentions=mentions)
    created = created or timezone.now()
    with transaction.atomic():
        locks.lock_author(author)
        limits.check_posting(author, body, topic=topic, parent=parent, body_html=body_html)
        topic = locks.lock_topic(topic.pk, viewer=author)
        limits.check_slow_mode(author, topic)
        if parent is not None:
            try:
                parent = Post.objects.get(pk=parent.pk)
            except Post.DoesNotExist:
                raise NotFound("The post you replied to no longer exists.") from None
            if parent.topic_id != topic.pk:
                raise ValidationError(
                    "The post you replied to is in another topic.", code="wrong_topic"
                )
        writes.refuse_if(permissions.reply_refusal(author, topic, parent))
        written = {"author": author, "body": body, "body_html": body_html, "created": created}
        if why := publishing.held(author, topic):
            return publishing.held_post(why=why, topic=topic, parent=parent, **written)
        return publishing.reply_published(
            topic=topic, parent=parent, mentioned=mentions.notified(body_html), **written
        )


def post_edit(*, post: Post, editor: User, body: str, title: str | None = None) -> Post:
    """Replace the text of one's own post (a moderator: of any), marking it edited.

    `title` renames the topic too; only the opening post carries it, and a
    new title marks it edited as well. An edit that changes nothing costs
    nothing: no render, no write. A new text keeps the one it replaces as a
    revision (its history); a new title alone keeps none (titles have no
    history). A moderator's edit of someone else's post is logged.
    """
    body = writes.clean_body(body)
    if title is not None:
        title = writes.clean_title(title)
    try:  # as stored: the caller's copy may hold the new text already (the admin's does)
        stored = selectors.post_for_change(post_id=post.pk, viewer=editor)
    except (Post.DoesNotExist, Topic.DoesNotExist):
        raise NotFound("That post no longer exists.") from None
    writes.refuse_if(permissions.edit_refusal(editor, stored))
    if body == stored.body and (title is None or title == stored.topic.title):
        return stored
    limits.check_edit_limits(editor)
    mentions = writes.mentions_in(body)
    body_html = (
        writes.render(body, author=editor, mentions=mentions) if body != stored.body else None
    )
    with transaction.atomic():
        locks.lock_author(editor)
        limits.check_edit_limits(editor, body_html)
        post = locks.locked_post(post.pk, viewer=editor)
        writes.refuse_if(permissions.edit_refusal(editor, post))
        retitled = title is not None and title != post.topic.title
        if retitled:
            if not selectors.is_opening_post(post):
                raise ValidationError(
                    "Only the opening post carries the topic's title.", code="not_opening_post"
                )
            writes.retitle(post.topic, title)
        now, changed = timezone.now(), []
        if body != post.body:
            if body_html is None:
                raise Refused("This post was changed meanwhile: look at it again, then edit it.")
            # Members mentioned by the edit, not by the text before it, are notified.
            mentioned = mentions.notified(body_html, besides=post.body_html)
            PostRevision.objects.create(post=post, body=post.body, editor=editor, created=now)
            post = writes.rewrite(post, body=body, body_html=body_html, edited=now)
            notifications.post_notified(
                post=post, topic=post.topic, parent=None, mentioned=mentioned, watchers=False
            )
            changed.append("text")
        elif retitled:
            post = writes.rewrite(post, edited=now)
        if retitled:
            changed.append("title")
        if changed and post.author_id != editor.pk:
            moderation_log.action_logged(
                action=ModerationAction.Action.EDIT,
                moderator=editor,
                post=post,
                member=post.author,
                details=f"Changed the {' and the '.join(changed)}.",
            )
    return post


def post_preview(*, author: User, body: str) -> str:
    """The HTML a post of this text would show, for members who may post.

    Previews are counted (FORUM_LIMITS "previews_per_window"), so that nobody can make
    the forum format text without end; moderators are not counted.
    """
    body = writes.clean_body(body)
    writes.refuse_if(permissions.posting_refusal(author))
    if not permissions.is_moderator(author):
        with transaction.atomic():
            limits.count_event(
                "preview",
                str(author.pk),
                limit=settings.FORUM_LIMITS["previews_per_window"],
                window=settings.FORUM_LIMITS["preview_window"],
                what="You have previewed many posts in a short time.",
            )
    return writes.render(body, author=author)


def post_delete(*, post: Post, user: User) -> Post:
    """Delete one's own post. It stays as a placeholder so its replies keep their place."""
    with transaction.atomic():
        post = locks.locked_post(post.pk, viewer=user)
        writes.refuse_if(permissions.delete_refusal(user, post))
        notifications.notifications_withdrawn(post=post)
        return writes.rewrite(post, removal=Post.Removal.AUTHOR)


def post_remove(*, post: Post, moderator: User, reason: str) -> Post:
    """Hide a post from readers, keeping its place in the thread; the reason is logged."""
    reason = moderation_log.clean_reason(reason, action=Action.REMOVE)
    with transaction.atomic():
        post = writes.moderated_post(post.pk, moderator)
        notifications.notifications_withdrawn(post=post)
        post = writes.rewrite(post, removal=Post.Removal.MODERATOR, removal_reason=reason)
        moderation_log.reports_closed(
            post=post, moderator=moderator, outcome=Report.Outcome.REMOVED
        )
        moderation_log.action_logged(
            action=Action.REMOVE, moderator=moderator, reason=reason, post=post, member=post.author
        )
    return post


def post_restore(*, post: Post, moderator: User) -> Post:
    """Show a removed or deleted post again (one hidden by reports: its reports are dismissed)."""
    with transaction.atomic():
        post = writes.moderated_post(post.pk, moderator)
        if post.removal == Post.Removal.REPORTED:
            outcome = Report.Outcome.DISMISSED
            moderation_log.reports_closed(post=post, moderator=moderator, outcome=outcome)
        post = writes.rewrite(post, removal=Post.Removal.VISIBLE, removal_reason="")
        moderation_log.action_logged(
            action=Action.RESTORE, moderator=moderator, post=post, member=post.author
        )
    return post


def post_move(
    *, post: Post, moderator: User, new_parent: Post | None, topic: Topic | None = None
) -> Post:
    """Move a post and its replies under `new_parent`, or make it a top-level post.

    With `new_parent` None the post becomes the last top-level post of
    `topic` (its own topic when that is None too).
    """
    with transaction.atomic():
        current = Post.objects.filter(pk=post.pk).values_list("topic_id", flat=True).first()
        if new_parent is not None:
            target_id = Post.objects.filter(pk=new_parent.pk).values_list("topic_id", flat=True)
            target_id = target_id.first()
        else:
            target_id = topic.pk if topic is not None else current
        if current is None or target_id is None:
            raise NotFound("That post no longer exists.")
        topics = locks.lock_topics(current, target_id, viewer=moderator)
        for locked in topics.values():
            writes.refuse_if(permissions.moderation_refusal(moderator, locked))
        post = Post.objects.select_related("author").get(pk=post.pk)
        if new_parent is not None:
            new_parent = Post.objects.get(pk=new_parent.pk)
            if new_parent.topic_id != target_id:
                raise Refused("The post changed topic meanwhile; try again.")
        if post.topic_id != current:
            raise Refused("The post changed topic meanwhile; try again.")
        if selectors.is_opening_post(post):
            raise ValidationError("The opening post cannot be moved.", code="opening_post")
        if (
            new_parent is not None
            and new_parent.tree_id == post.tree_id
            and post.lft <= new_parent.lft <= post.rght
        ):
            raise ValidationError(
                "A post cannot move under itself or its own replies.", code="cycle"
            )

        if target_id != current:
            moved = post.get_descendants(include_self=True)
            size = post.get_descendant_count() + 1
            newest = moved.aggregate(newest=Max("created"))["newest"]
            moved.update(topic_id=target_id)
            search.topic_entries_moved(topics[target_id])
            source, target = topics[current], topics[target_id]
            writes.topic_changed(source, reply_count=source.reply_count - size)
            writes.topic_changed(
                target,
                reply_count=target.reply_count + size,
                last_activity=max(target.last_activity, newest),
            )
            if source.category_id != target.category_id:
                writes.categories_recounted(source.category_id, target.category_id)
            post.topic_id = target_id

        if new_parent is not None:
            Post.objects.move_node(post, new_parent, "last-child")
        elif post.parent_id is not None or target_id != current:
            # A top-level post is the newest tree of its topic: give it a new tree id.
            locks.lock_tree_ids()
            if post.parent_id is not None:
                Post.objects.move_node(post, None)
            else:
                new_tree_id = Post.objects._get_next_tree_id()
                Post.objects.filter(tree_id=post.tree_id).update(tree_id=new_tree_id)
        post.refresh_from_db()
        post.topic = topics[target_id]
        writes.rewrite(post)  # its parent link changed
        moderation_log.action_logged(
            action=Action.MOVE_POST,
            moderator=moderator,
            post=post,
            member=post.author,
            previous_category=topics[current].category_id,
        )
    return post
