"""The search index: the text of every post readers may find, kept by threads.services.search.

One row per visible post (removed posts have none): the plain text of its
body and, for a topic's opening post, the topic's title; and the post's topic,
category and author. The database indexes
these rows itself, in the transaction that writes them (migration 0013):
on SQLite an FTS5 table over them (external content, kept by triggers), on
PostgreSQL a stored, weighted tsvector column (title above body) with a GIN
index. Neither is a model field: only SQL reads them (threads.selectors.search).
"""

from django.conf import settings
from django.db import models

from .core import Category, Post, Topic

# What both databases call the index (threads.selectors.search, migration 0013).
FTS_TABLE = "threads_postsearch_fts"  # SQLite
VECTOR_COLUMN = "vector"  # PostgreSQL
# PostgreSQL's text-search configuration; SQLite's FTS5 stems with Porter's
# (English) stemmer to match.
SEARCH_CONFIG = "english"


class PostSearch(models.Model):
    post = models.OneToOneField(Post, on_delete=models.CASCADE, primary_key=True, related_name="+")
    # The post's topic, its category and the post's author, as they are now: a search
    # filters on them without reading the post or its topic, rows many times wider.
    topic = models.ForeignKey(Topic, on_delete=models.CASCADE, related_name="+")
    category = models.ForeignKey(Category, on_delete=models.CASCADE, related_name="+")
    author = models.ForeignKey(settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="+")
    # The topic's title on its opening post's row; empty on every other.
    title = models.TextField(blank=True)
    body = models.TextField()

    class Meta:
        verbose_name = "search index entry"
        verbose_name_plural = "search index entries"

    def __str__(self):
        return f"search entry of post {self.post_id}"
