"""An index for a profile's recent topics: (author, created, id), newest first."""

from django.db import migrations, models


class Migration(migrations.Migration):
    dependencies = [("threads", "0007_topic_category_required")]

    operations = [
        migrations.AddIndex(
            model_name="topic",
            index=models.Index(
                fields=["author", "-created", "-id"], name="topic_author_recent_idx"
            ),
        ),
    ]
