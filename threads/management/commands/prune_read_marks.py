"""Delete read marks older than any member's read horizon (run it daily, from cron).

    manage.py prune_read_marks

Marks older than threads.models.READ_MARKS_KEPT count as read anyway, so
deleting them changes nothing a member sees; it keeps the table small.
"""

from django.core.management.base import BaseCommand

from threads import services


class Command(BaseCommand):
    help = "Delete read marks older than READ_MARKS_KEPT (they count as read anyway)."

    def handle(self, *args, verbosity: int, **options) -> None:
        count = services.read_marks_prune()
        if verbosity:
            self.stdout.write(f"Deleted {count} read mark(s).")
