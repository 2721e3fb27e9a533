"""Export topics in the ConversationJS markdown format.

    manage.py export_conversation [--category SLUG] [--topic ID ...] [--output FILE]

Writes the canonical form: importing it and exporting again gives the same bytes.
The format has no categories: `--category` chooses the topics, and an import
chooses where they go.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from threads import selectors
from threads.models import Topic

from .import_conversation import category_named


class Command(BaseCommand):
    help = "Write the whole forum, a category or chosen topics as ConversationJS markdown."

    def add_arguments(self, parser):
        parser.add_argument(
            "--category",
            metavar="SLUG",
            help="export this category's topics (not its subcategories'); default: every category",
        )
        parser.add_argument(
            "--topic",
            type=int,
            action="append",
            dest="topic_ids",
            metavar="ID",
            help="export this topic (repeat for several); default: every topic",
        )
        parser.add_argument("--output", "-o", metavar="FILE", help="default: standard output")

    def handle(
        self,
        *args,
        category: str | None,
        topic_ids: list[int] | None,
        output: str | None,
        **options,
    ) -> None:
        place = category_named(category) if category else None
        if topic_ids:
            found = dict(Topic.objects.filter(pk__in=topic_ids).values_list("pk", "category_id"))
            if missing := set(topic_ids) - set(found):
                raise CommandError(f"No topic with id {', '.join(map(str, sorted(missing)))}.")
            if place and (elsewhere := sorted(pk for pk, c in found.items() if c != place.pk)):
                which = "Topic {} is" if len(elsewhere) == 1 else "Topics {} are"
                raise CommandError(
                    which.format(", ".join(map(str, elsewhere)))
                    + f" not in {place} ({place.slug})."
                )
        text = selectors.conversation_export(topic_ids=topic_ids, category=place)
        if output is None:
            self.stdout.write(text, ending="")
            return
        try:
            Path(output).write_text(text, encoding="utf-8", newline="")
        except OSError as error:
            raise CommandError(f"{output}: {error.strerror}") from None
