"""Sending the outbox (threads.services.mail)."""

from django_tasks import task

from .. import services


@task()
def mail_send(mail_id: int) -> None:
    """Send one queued mail, once (`services.mail_send`)."""
    services.mail_send(mail_id=mail_id)
