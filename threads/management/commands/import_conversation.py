"""Import ConversationJS markdown files into the forum.

    manage.py import_conversation FILE [FILE ...] --moderator NAME [--category SLUG]
                                  [--allow-staff-handles] [--dry-run]

Every topic of every file is imported into one category (the default category
unless --category names another), in one transaction: a problem anywhere
(reported as FILE:LINE: reason) imports nothing. The moderator must moderate
that category.
"""

from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from threads import conversation, permissions, selectors, services
from threads.models import Category, User


class Command(BaseCommand):
    help = "Import every topic of ConversationJS markdown files, all or nothing."

    def add_arguments(self, parser):
        parser.add_argument("files", nargs="+", metavar="FILE", help="a ConversationJS file")
        parser.add_argument(
            "--moderator",
            required=True,
            metavar="NAME",
            help="the username of the moderator who imports (the import is theirs)",
        )
        parser.add_argument(
            "--category",
            metavar="SLUG",
            help="the slug of the category the topics go into; default: the default category",
        )
        parser.add_argument(
            "--allow-staff-handles",
            action="store_true",
            help="import messages by staff accounts too (refused without it)",
        )
        parser.add_argument(
            "--dry-run",
            action="store_true",
            help="check the files and say what would be imported, without writing anything",
        )

    def handle(
        self,
        *args,
        files: list[str],
        moderator: str,
        category: str | None,
        allow_staff_handles: bool,
        dry_run: bool,
        verbosity: int,
        **options,
    ) -> None:
        try:
            documents = [conversation.read(_read(name), filename=name) for name in files]
            place = category_named(category) if category else services.default_category()
            acting = User.objects.named(moderator).first()
            # Read as the moderator sees it, so that it carries their rights there.
            seen = acting and selectors.visible_categories(acting).filter(pk=place.pk).first()
            if not seen or permissions.moderation_refusal(acting, seen):
                raise CommandError(
                    f"--moderator: @{moderator} is not a moderator of {place.name} ({place.slug})."
                )
            summary = services.conversation_import(
                documents=documents,
                moderator=acting,
                category=seen,
                allow_staff_handles=allow_staff_handles,
                dry_run=dry_run,
                progress=self._progress if verbosity and self.stderr.isatty() else None,
            )
        except conversation.ConversationError as error:
            raise CommandError(str(error)) from None
        except services.Refused as refused:  # rights taken away meanwhile
            raise CommandError(f"--moderator: {refused.message}") from None
        if verbosity:
            accounts = f"{len(summary.new_accounts)} new account(s)"
            if summary.new_accounts:
                accounts += f" ({summary.new_accounts_named})"
            what = f"{summary.topics} topic(s), {summary.posts} post(s), {accounts} into {place}"
            if dry_run:
                self.stdout.write(f"Dry run: the files are valid and would import {what}.")
            else:
                self.stdout.write(self.style.SUCCESS(f"Imported {what}."))
                if summary.new_accounts:
                    self.stdout.write(
                        "New accounts cannot log in until a moderator activates them in the admin."
                    )

    def _progress(self, stage: str, done: int, total: int) -> None:
        label = {"render": "Rendering Markdown", "write": "Writing posts"}[stage]
        self.stderr.write(f"\r{label}: {done:,}/{total:,}", ending="\n" if done == total else "")


def category_named(slug: str) -> Category:
    """The category of this slug, or a CommandError that lists the slugs there are."""
    try:
        return Category.objects.get(slug=slug)
    except Category.DoesNotExist:
        slugs = ", ".join(Category.objects.order_by("slug").values_list("slug", flat=True))
        raise CommandError(
            f"--category: no category has the slug {slug!r}; the categories are: {slugs}."
        ) from None


def _read(name: str) -> bytes:
    try:
        return Path(name).read_bytes()
    except OSError as error:
        raise conversation.ConversationError(name, error.strerror or "cannot be read") from None
