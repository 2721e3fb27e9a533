def mails_scheduled(*, immediate: bool, digest: bool) -> None:
    pass
