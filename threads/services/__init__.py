"""Every write to the forum: one keyword-only function per action.

Views, admin actions, management commands and tests call these
(`services.post_reply(...)`); nothing else saves a Post. Each function
validates its input (raising ValidationError), checks permissions through
threads.permissions (raising Refused), renders Markdown before it takes any
lock, and then writes inside one transaction, holding the locks of
`services.locks`.

One module per area. Imports run one way: `errors` ← `locks` ← `limits` ←
`writes` ← the areas (`categories`, `topics`, `posts`, `accounts`,
`interchange`, `repair`, `avatars`), which never import each other but for
`bylines`, which `avatars` calls to rebuild a member's posts. Services may use selectors, never
the reverse.
"""

from .accounts import (
    address_key,
    password_change_count,
    password_reset_send,
    user_create,
    user_set_active,
)
from .avatars import avatar_remove, avatar_set
from .categories import (
    category_changed,
    category_create,
    category_delete,
    category_delete_refusal,
)
from .errors import AlreadyPosted, NotFound, RateLimited, Refused
from .interchange import ImportSummary, conversation_import
from .posts import (
    post_delete,
    post_edit,
    post_move,
    post_preview,
    post_remove,
    post_reply,
    post_restore,
)
from .repair import posts_rerender, trees_repair
from .topics import (
    topic_create,
    topic_delete,
    topic_move,
    topic_retitle,
    topic_set_locked,
    topic_set_pinned,
)
from .writes import default_category, normalize_body

__all__ = [
    "AlreadyPosted",
    "ImportSummary",
    "NotFound",
    "RateLimited",
    "Refused",
    "address_key",
    "avatar_remove",
    "avatar_set",
    "category_changed",
    "category_create",
    "category_delete",
    "category_delete_refusal",
    "conversation_import",
    "default_category",
    "normalize_body",
    "password_change_count",
    "password_reset_send",
    "post_delete",
    "post_edit",
    "post_move",
    "post_preview",
    "post_remove",
    "post_reply",
    "post_restore",
    "posts_rerender",
    "topic_create",
    "topic_delete",
    "topic_move",
    "topic_retitle",
    "topic_set_locked",
    "topic_set_pinned",
    "trees_repair",
    "user_create",
    "user_set_active",
]
