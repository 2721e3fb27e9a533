from django.apps import AppConfig
from django.db.models.signals import post_migrate

MODERATORS_GROUP = "Moderators"
MODERATOR_PERMISSIONS = [
    ("threads", "moderate"),
    ("threads", "view_topic"),
    ("threads", "change_topic"),
    ("threads", "delete_topic"),
    ("threads", "view_post"),
    ("threads", "change_post"),
    ("threads", "view_user"),
    ("threads", "change_user"),
    ("threads", "view_moderatornote"),
    ("threads", "add_moderatornote"),
]


def ensure_moderators_group(sender, using, **kwargs) -> None:
    """The Moderators group exists after every migrate, holding what moderation needs."""
    from django.contrib.auth.models import Group, Permission

    group, _ = Group.objects.using(using).get_or_create(name=MODERATORS_GROUP)
    for app_label, codename in MODERATOR_PERMISSIONS:
        permission = Permission.objects.using(using).filter(
            content_type__app_label=app_label, codename=codename
        )
        group.permissions.add(*permission)


class ThreadsConfig(AppConfig):
    name = "threads"
    verbose_name = "Forum"

    def ready(self) -> None:
        post_migrate.connect(ensure_moderators_group, sender=self)
