"""Check that every topic's MPTT trees agree with the posts' parent links.

    manage.py check_trees [--fix]

Exits non-zero, naming each problem, when something is broken. With --fix
it rebuilds only the broken trees from the parent links (under the same
locks as every other write) and recounts the topics' replies.
"""

from django.core.management.base import BaseCommand, CommandError

from threads import selectors, services


class Command(BaseCommand):
    help = "Check the stored trees and reply counts; --fix rebuilds only what is broken."

    def add_arguments(self, parser):
        parser.add_argument("--fix", action="store_true", help="rebuild the broken trees")

    def handle(self, *args, fix: bool, verbosity: int, **options) -> None:
        problems = selectors.tree_problems()
        for problem in problems:
            self.stderr.write(problem.message)
        if problems and fix:
            services.trees_repair(
                tree_ids=[p.tree_id for p in problems if p.tree_id is not None],
                topic_ids=[p.topic_id for p in problems if p.topic_id is not None],
            )
            if remaining := selectors.tree_problems():
                for problem in remaining:
                    self.stderr.write(problem.message)
                raise CommandError(f"{len(remaining)} problem(s) remain after the repair.")
            self.stdout.write(f"Repaired {len(problems)} problem(s); the trees are consistent now.")
            return
        if problems:
            raise CommandError(
                f"{len(problems)} problem(s) found; run with --fix to rebuild the broken trees."
            )
        if verbosity:
            self.stdout.write("All trees and reply counts are consistent.")
