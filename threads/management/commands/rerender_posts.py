"""Render every post again after the Markdown rules or the post template changed.

    manage.py rerender_posts [--all]

Bump threads.rendering.RENDER_VERSION with such a change, deploy, then run
this: it renders the posts of older versions, in batches, under the topic locks.
"""

from django.core.management.base import BaseCommand

from threads import services


class Command(BaseCommand):
    help = "Render posts of older render versions again (all posts with --all)."

    def add_arguments(self, parser):
        parser.add_argument(
            "--all", action="store_true", dest="everything", help="render every post again"
        )

    def handle(self, *args, everything: bool, verbosity: int, **options) -> None:
        count = services.posts_rerender(everything=everything)
        if verbosity:
            self.stdout.write(f"Rendered {count} post(s).")
