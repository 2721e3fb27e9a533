"""Write the search index again from the posts.

    manage.py search_reindex

Every write keeps the index up to date in its own transaction, so this is
for repairs: after restoring a backup of the posts alone, or if the index
was damaged. It rewrites every entry in one transaction; searches go on
meanwhile and see the old index until it commits.
"""

from django.core.management.base import BaseCommand

from threads import services


class Command(BaseCommand):
    help = "Write the search index again from the posts."

    def handle(self, *args, verbosity: int, **options) -> None:
        count = services.search_reindex()
        if verbosity:
            self.stdout.write(f"Indexed {count} post(s).")
