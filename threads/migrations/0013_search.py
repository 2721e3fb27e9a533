# The search index (threads.models.search): its table, the index each database
# keeps over it, and the entries of the posts written before it.

import string

import django.db.models.deletion
from django.conf import settings
from django.db import migrations, models

from threads.plaintext import html_text

FTS, TABLE = "threads_postsearch_fts", "threads_postsearch"

SQLITE = [
    # External content: the text lives in threads_postsearch, FTS5 keeps only the index,
    # and the triggers keep it in step with every insert, update and delete of a row.
    f"CREATE VIRTUAL TABLE {FTS} USING fts5(title, body, content='{TABLE}',"
    " content_rowid='post_id', tokenize='porter unicode61 remove_diacritics 2')",
    f"CREATE TRIGGER {TABLE}_inserted AFTER INSERT ON {TABLE} BEGIN"
    f" INSERT INTO {FTS}(rowid, title, body) VALUES (new.post_id, new.title, new.body); END",
    f"CREATE TRIGGER {TABLE}_deleted AFTER DELETE ON {TABLE} BEGIN"
    f" INSERT INTO {FTS}({FTS}, rowid, title, body)"
    " VALUES ('delete', old.post_id, old.title, old.body); END",
    f"CREATE TRIGGER {TABLE}_updated AFTER UPDATE OF title, body ON {TABLE} BEGIN"
    f" INSERT INTO {FTS}({FTS}, rowid, title, body)"
    " VALUES ('delete', old.post_id, old.title, old.body);"
    f" INSERT INTO {FTS}(rowid, title, body) VALUES (new.post_id, new.title, new.body); END",
]
SQLITE_REVERSE = [
    f"DROP TRIGGER {TABLE}_inserted",
    f"DROP TRIGGER {TABLE}_deleted",
    f"DROP TRIGGER {TABLE}_updated",
    f"DROP TABLE {FTS}",
]


# PostgreSQL's parser reads <words> as a tag and drops them, and keeps a host, an address
# or a path as one word: ASCII punctuation is read as space first, as FTS5 reads it
# (threads.selectors.search does the same to what is typed).
def words(column):
    """SQL: the column with each ASCII punctuation character read as a space."""
    quoted = string.punctuation.replace("'", "''")
    return f"translate({column}, '{quoted}', '{' ' * len(string.punctuation)}')"


POSTGRESQL = [
    # Title above body; computed by PostgreSQL itself whenever a row is written.
    f"ALTER TABLE {TABLE} ADD COLUMN vector tsvector GENERATED ALWAYS AS"
    f" (setweight(to_tsvector('english', {words('title')}), 'A')"
    f" || setweight(to_tsvector('english', {words('body')}), 'B')) STORED",
    f"CREATE INDEX {TABLE}_vector_idx ON {TABLE} USING gin (vector)",
]
POSTGRESQL_REVERSE = [f"ALTER TABLE {TABLE} DROP COLUMN vector"]

# Every visible post with its body's HTML, and its topic's title when it opens the topic.
ENTRIES = (
    "SELECT p.id, p.topic_id, t.category_id, p.author_id, p.body_html, CASE WHEN p.level = 0 AND NOT EXISTS (SELECT 1 FROM threads_post o"
    " WHERE o.topic_id = p.topic_id AND o.level = 0 AND o.tree_id < p.tree_id)"
    " THEN t.title ELSE '' END"
    " FROM threads_post p JOIN threads_topic t ON t.id = p.topic_id"
    " WHERE p.removal = '' AND p.id > %s ORDER BY p.id LIMIT 1000"
)


def index_objects(apps, schema_editor):
    statements = {"sqlite": SQLITE, "postgresql": POSTGRESQL}[schema_editor.connection.vendor]
    for statement in statements:
        schema_editor.execute(statement, params=None)


def index_objects_dropped(apps, schema_editor):
    statements = {"sqlite": SQLITE_REVERSE, "postgresql": POSTGRESQL_REVERSE}
    for statement in statements[schema_editor.connection.vendor]:
        schema_editor.execute(statement, params=None)


def entries_written(apps, schema_editor):
    last = 0
    with schema_editor.connection.cursor() as cursor:
        while True:
            cursor.execute(ENTRIES, [last])
            rows = cursor.fetchall()
            if not rows:
                return
            cursor.executemany(
                f"INSERT INTO {TABLE} (post_id, topic_id, category_id, author_id, title, body)"
                " VALUES (%s, %s, %s, %s, %s, %s)",
                [row[:4] + (row[5], html_text(row[4])) for row in rows],
            )
            last = rows[-1][0]


class Migration(migrations.Migration):

    dependencies = [
        ('threads', '0012_topic_description'),
    ]

    operations = [
        migrations.CreateModel(
            name='PostSearch',
            fields=[
                ('post', models.OneToOneField(on_delete=django.db.models.deletion.CASCADE, primary_key=True, related_name='+', serialize=False, to='threads.post')),
                ('title', models.TextField(blank=True)),
                ('body', models.TextField()),
                ('author', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to=settings.AUTH_USER_MODEL)),
                ('category', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='threads.category')),
                ('topic', models.ForeignKey(on_delete=django.db.models.deletion.CASCADE, related_name='+', to='threads.topic')),
            ],
            options={
                'verbose_name': 'search index entry',
                'verbose_name_plural': 'search index entries',
            },
        ),
        migrations.RunPython(index_objects, index_objects_dropped),
        migrations.RunPython(entries_written, migrations.RunPython.noop),
    ]
