"""Indexes for topic lists that read only their page, however many topics there are.

The front page's order index gains the category, so that a deep page skips the
topics a reader may not see within the index; a profile's recent topics get an
index of their own, (author, created, id) newest first.
"""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("threads", "0007_topic_category_required")]

    operations = [
        migrations.RemoveIndex(model_name="topic", name="topic_list_order_idx"),
        migrations.AddIndex(
            model_name="topic",
            index=models.Index(
                fields=["-is_pinned", "-last_activity", "-id", "category"],
                name="topic_list_order_idx",
            ),
        ),
        migrations.AddIndex(
            model_name="topic",
            index=models.Index(
                fields=["author", "-created", "-id"], name="topic_author_recent_idx"
            ),
        ),
    ]
