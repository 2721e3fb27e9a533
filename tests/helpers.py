"""Small helpers shared by the tests."""

from html.parser import HTMLParser

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


def build_chain(parent: Post, *, depth: int, author) -> list[Post]:
    """`depth` replies, each answering the one before: the first answers `parent`."""
    from threads import services

    chain = []
    for _ in range(depth):
        parent = services.post_reply(
            author=author, topic=parent.topic, parent=parent, body=f"Level {parent.level + 1}"
        )
        chain.append(parent)
    return chain


class _FormValues(HTMLParser):
    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.values: dict[str, str] = {}
        self._textarea: str | None = None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        skipped = {"submit", "hidden", "search"}  # the search boxes are on every page
        if tag == "input" and attrs.get("name") and attrs.get("type") not in skipped:
            self.values[attrs["name"]] = attrs.get("value") or ""
        elif tag == "textarea":
            self._textarea = attrs["name"]
            self.values[self._textarea] = ""

    def handle_data(self, data):
        if self._textarea:
            self.values[self._textarea] += data

    def handle_endtag(self, tag):
        if tag == "textarea" and self._textarea:
            # HTML drops the newline that opens a textarea; Django writes one.
            self.values[self._textarea] = self.values[self._textarea].removeprefix("\n")
            self._textarea = None


def form_values(response) -> dict[str, str]:
    """What a page's text inputs (but search boxes) and textareas hold, by name, as shown."""
    parser = _FormValues()
    parser.feed(response.content.decode())
    parser.close()
    return parser.values


class _FormData(HTMLParser):
    """The data a browser would submit for one form of a page."""

    def __init__(self, form_id: str) -> None:
        super().__init__(convert_charrefs=True)
        self.form_id = form_id
        self.data: dict[str, list[str]] = {}
        self._inside = False
        self._select: str | None = None
        self._textarea: str | None = None

    def _add(self, name, value):
        self.data.setdefault(name, []).append(value)

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "form":
            self._inside = attrs.get("id") == self.form_id
        if not self._inside:
            return
        name = attrs.get("name")
        if tag == "input" and name and "disabled" not in attrs:
            kind = attrs.get("type", "text")
            if kind in {"checkbox", "radio"}:
                if "checked" in attrs:
                    self._add(name, attrs.get("value", "on"))
            elif kind not in {"submit", "button", "file"}:
                self._add(name, attrs.get("value") or "")
        elif tag == "select" and name:
            self._select = name
            self.data.setdefault(name, [])
        elif tag == "option" and self._select and "selected" in attrs:
            self._add(self._select, attrs.get("value", ""))
        elif tag == "textarea" and name:
            self._textarea = name
            self._add(name, "")

    def handle_data(self, data):
        if self._inside and self._textarea:
            self.data[self._textarea][-1] += data

    def handle_endtag(self, tag):
        if tag == "form":
            self._inside = False
        elif tag == "select":
            self._select = None
        elif tag == "textarea" and self._textarea:
            value = self.data[self._textarea][-1]
            self.data[self._textarea][-1] = value.removeprefix("\n")
            self._textarea = None


def form_data(response, form_id: str) -> dict[str, list[str]]:
    """What submitting the form with this id, unchanged, would send."""
    parser = _FormData(form_id)
    parser.feed(response.content.decode())
    parser.close()
    return parser.data
