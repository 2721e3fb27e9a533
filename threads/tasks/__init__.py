"""Background tasks, run by the worker (`manage.py db_worker`), one module per area.

Tasks are thin: each calls one service, which does the work in its own
transactions. Tasks are idempotent: a task run twice, or by two workers at
once, does what it does once (the worker does not retry a task that raises,
so a service that wants another try enqueues the task again itself).
Arguments are ids, never objects: a task reads what is current when it runs.
"""
