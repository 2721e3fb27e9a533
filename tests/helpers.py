"""Small helpers shared by the tests."""

from threads.models import Post, Topic


def opening_post(topic: Topic) -> Post:
    return Post.objects.filter(topic=topic).order_by("tree_id", "lft").first()


def tree_shape(topic: Topic) -> str:
    """A topic's posts as indented text, one `author: first line` per post, in page order."""
    posts = Post.objects.filter(topic=topic).select_related("author").order_by("tree_id", "lft")
    return "\n".join(
        "  " * post.level + f"{post.author.username}: {post.body.splitlines()[0]}" for post in posts
    )


def build_thread(topic: Topic, *, replies: int, author) -> None:
    """Add `replies` replies to a topic: chains five deep, then a new top-level post."""
    from threads import services

    parent = None
    for index in range(replies):
        parent = services.post_reply(
            author=author, topic=topic, parent=parent if index % 5 else None, body=f"Reply {index}"
        )
