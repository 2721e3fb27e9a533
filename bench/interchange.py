"""Import and export of a 10,000-message ConversationJS file, timed.

    .venv/bin/python bench/interchange.py [--messages 10000]

Builds the file itself (topics of varied size, replies up to 15 deep, Markdown
with paragraphs, lists and code), imports it into a fresh database of
DATABASE_URL (default: a temporary SQLite file) through the same service as
`manage.py import_conversation`, exports everything again, and prints both
times and whether the export equals the input byte for byte.
"""

import argparse
import os
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "tests.settings")
os.environ.setdefault("DATABASE_URL", f"sqlite:///{tempfile.mkdtemp()}/bench.sqlite3")

import django

django.setup()

from django.core.management import call_command  # noqa: E402
from django.db import connection  # noqa: E402

from bench.text import message_text, sentence  # noqa: E402
from threads import conversation, selectors, services  # noqa: E402
from threads.models import Topic, User  # noqa: E402


def build(messages: int, seed: int = 7) -> str:
    chance = random.Random(seed)
    handles = [f"member{n}" for n in range(60)]
    moment = datetime(2026, 1, 1, tzinfo=UTC)
    conversations, left, number = [], messages, 0
    while left:
        size = min(left, chance.choice([5, 20, 60, 150, 400]))
        left -= size
        number += 1
        items, depth = [], 0
        for index in range(size):
            if index == 0 or chance.random() < 0.25:
                depth = 0
            else:
                depth = min(depth + 1, 15) if chance.random() < 0.6 else chance.randint(0, depth)
            moment += timedelta(seconds=chance.randint(5, 600))
            text = message_text(chance)
            items.append(conversation.Message(depth, chance.choice(handles), moment, text))
        conversations.append(
            conversation.Conversation(f"Topic {number}: {sentence(chance)}", items)
        )
    return conversation.write(conversations)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=10_000)
    options = parser.parse_args()

    text = build(options.messages)
    call_command("migrate", verbosity=0)
    Topic.objects.all().delete()
    print(f"{connection.vendor}: {options.messages:,} messages, {len(text.encode()):,} bytes")

    began = time.perf_counter()
    document = conversation.read(text.encode(), filename="bench.md")
    importer = User.objects.filter(username="importer").first() or services.user_create(
        username="importer", email="importer@example.org", password="bench", is_moderator=True
    )
    summary = services.conversation_import(moderator=importer, documents=[document])
    imported = time.perf_counter() - began
    print(f"  import: {imported:.2f} s ({summary.topics} topics, {summary.posts:,} posts)")

    began = time.perf_counter()
    exported = selectors.conversation_export()
    print(f"  export: {time.perf_counter() - began:.2f} s")
    print(f"  export equals the imported file byte for byte: {exported == text}")


if __name__ == "__main__":
    main()
