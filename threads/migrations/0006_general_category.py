"""Every existing topic goes into a default "General" category, with its counts."""

from django.db import migrations
from django.db.models import Count, Max, Sum


def into_general(apps, schema_editor):
    Category = apps.get_model("threads", "Category")
    Topic = apps.get_model("threads", "Topic")
    if Category.objects.exists():
        return
    # The tree fields of a lone root, written out: historical models have no MPTT manager.
    general = Category.objects.create(
        name="General",
        slug="general",
        description="Anything that has no better place.",
        is_default=True,
        tree_id=1,
        lft=1,
        rght=2,
        level=0,
    )
    Topic.objects.update(category=general)
    totals = Topic.objects.aggregate(
        topics=Count("pk"), replies=Sum("reply_count"), latest=Max("last_activity")
    )
    general.topic_count = totals["topics"]
    general.post_count = totals["topics"] + (totals["replies"] or 0)
    general.last_activity = totals["latest"]
    general.last_topic = Topic.objects.order_by("-last_activity", "-id").first()
    general.save()


class Migration(migrations.Migration):
    dependencies = [("threads", "0005_categories")]

    operations = [migrations.RunPython(into_general, migrations.RunPython.noop)]
