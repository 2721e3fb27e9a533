"""Every write to the forum: one keyword-only function per action.

Views, admin actions, management commands and tests call these
(`services.post_reply(...)`); nothing else saves a Post. Each function
validates its input (raising ValidationError), checks permissions through
threads.permissions (raising Refused), renders Markdown before it takes any
lock, and then writes inside one transaction, holding the locks of
`services.locks`.

One module per area. Imports run one way: `errors` ← `locks` ← `limits` ←
`search` (the search index) ← `writes` ← `bylines` ← `notifications` ←
`publishing` (what posting and approval publish, and whether a post is held) ←
the areas (`categories`, `topics`, `posts`, `accounts`, `members`, `avatars`,
`interchange`, `repair`, `unread`, `suspensions`, `reports`, `splits`, `approval`, `history`),
which never import each other; `mail` (the outbox) needs only `errors` (and
the access filter of selectors), and `notification_mails` (the sweep of mail
about notifications) only `errors` and `mail`; the areas that send mail use them.
`reports` uses `suspensions` (suspending an author from the report queue), one way.
Services may use selectors, never the reverse.
"""

from .accounts import (
    Confirmation,
    ConfirmationLink,
    address_key,
    confirmation_read,
    confirmation_token,
    email_change,
    email_confirm,
    email_confirmation_send,
    password_change_count,
    password_reset_send,
    user_create,
    user_set_active,
)
from .approval import pending_approve, pending_reject
from .avatars import avatar_remove, avatar_set
from .bylines import bylines_rebuild
from .categories import (
    category_changed,
    category_create,
    category_delete,
    category_delete_refusal,
)
from .errors import AlreadyPosted, BadLink, NotFound, RateLimited, Refused
from .history import revision_set_hidden
from .interchange import ImportSummary, conversation_import
from .mail import MailKind, mail_queue, mail_refusal, mail_send, message_id
from .members import member_ignore, member_unignore, profile_reset, profile_update
from .notes import moderator_note_add
from .notification_mails import (
    mailing_unsubscribe,
    mails_scheduled,
    notification_mails_sweep,
    unsubscribe_read,
    unsubscribe_token,
)
from .notifications import (
    notification_read,
    notification_settings_set,
    notifications_all_read,
    watch_set,
)
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
from .reports import (
    post_report,
    reported_author_suspend,
    reported_post_remove,
    reports_dismiss,
)
from .search import search_counted, search_reindex
from .splits import topic_merge, topic_split
from .suspensions import member_suspend, member_unsuspend
from .topics import (
    topic_create,
    topic_delete,
    topic_move,
    topic_retitle,
    topic_set_locked,
    topic_set_pinned,
    topic_set_slow_mode,
)
from .unread import all_read, read_marks_prune, topic_seen
from .writes import default_category, normalize_body

__all__ = [
    "AlreadyPosted",
    "BadLink",
    "Confirmation",
    "ConfirmationLink",
    "ImportSummary",
    "MailKind",
    "NotFound",
    "RateLimited",
    "Refused",
    "address_key",
    "all_read",
    "avatar_remove",
    "avatar_set",
    "bylines_rebuild",
    "category_changed",
    "category_create",
    "category_delete",
    "category_delete_refusal",
    "confirmation_read",
    "confirmation_token",
    "conversation_import",
    "default_category",
    "email_change",
    "email_confirm",
    "email_confirmation_send",
    "mail_queue",
    "mail_refusal",
    "mail_send",
    "mailing_unsubscribe",
    "mails_scheduled",
    "member_ignore",
    "member_suspend",
    "member_unignore",
    "member_unsuspend",
    "message_id",
    "moderator_note_add",
    "normalize_body",
    "notification_mails_sweep",
    "notification_read",
    "notification_settings_set",
    "notifications_all_read",
    "password_change_count",
    "password_reset_send",
    "pending_approve",
    "pending_reject",
    "post_delete",
    "post_edit",
    "post_move",
    "post_preview",
    "post_remove",
    "post_reply",
    "post_report",
    "post_restore",
    "posts_rerender",
    "profile_reset",
    "profile_update",
    "read_marks_prune",
    "reported_author_suspend",
    "reported_post_remove",
    "reports_dismiss",
    "revision_set_hidden",
    "search_counted",
    "search_reindex",
    "topic_create",
    "topic_delete",
    "topic_merge",
    "topic_move",
    "topic_retitle",
    "topic_seen",
    "topic_set_locked",
    "topic_set_pinned",
    "topic_set_slow_mode",
    "topic_split",
    "trees_repair",
    "unsubscribe_read",
    "unsubscribe_token",
    "user_create",
    "user_set_active",
    "watch_set",
]
