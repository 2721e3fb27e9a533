"""How gunicorn runs the forum: `make serve`, production and the tests all start it with
`gunicorn -c forum/gunicorn.conf.py --bind ...`, so they share these worker options.

Threaded workers: each worker waits for a new connection's first bytes in its event
loop, and a connection still sending its request holds one thread, not the worker.
A few slow clients (headers sent a byte at a time) therefore cannot keep the forum
from answering everyone else, with no proxy in front; more than workers x threads of
them at once can, which a buffering proxy such as nginx prevents.
"""

wsgi_app = "forum.wsgi"
worker_class = "gthread"
workers = 2
threads = 8
# gunicornc's control socket would be one path ($HOME/.gunicorn/gunicorn.ctl) for every
# gunicorn a user runs, such as two servers on one machine, or the tests'.
control_socket_disable = True
