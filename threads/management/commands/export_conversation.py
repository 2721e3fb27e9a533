"""Export topics in the ConversationJS markdown format.

    manage.py export_conversation [--topic ID ...] [--output FILE]

Writes the canonical form: importing it and exporting again gives the same bytes.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from threads import selectors
from threads.models import Topic


class Command(BaseCommand):
    help = "Write the whole forum, or chosen topics, as ConversationJS markdown."

    def add_arguments(self, parser):
        parser.add_argument(
            "--topic",
            type=int,
            action="append",
            dest="topic_ids",
            metavar="ID",
            help="export this topic (repeat for several); default: every topic",
        )
        parser.add_argument("--output", "-o", metavar="FILE", help="default: standard output")

    def handle(self, *args, topic_ids: list[int] | None, output: str | None, **options) -> None:
        if topic_ids:
            missing = set(topic_ids) - set(
                Topic.objects.filter(pk__in=topic_ids).values_list("pk", flat=True)
            )
            if missing:
                raise CommandError(f"No topic with id {', '.join(map(str, sorted(missing)))}.")
        text = selectors.conversation_export(topic_ids=topic_ids)
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8", newline="")
        except OSError as error:
            raise CommandError(f"{output}: {error.strerror}") from None
