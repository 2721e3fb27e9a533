"""gunicorn as `make serve` and production run it (forum/gunicorn.conf.py)."""

import runpy
import socket
import threading

from .servers import GUNICORN_CONFIG

CONFIG = runpy.run_path(str(GUNICORN_CONFIG))


def test_slow_clients_do_not_keep_others_waiting(start_server):
    """Clients sending their headers a byte at a time hold a thread each, not a worker.

    More of them than there are workers (but fewer than a worker's threads, so that
    however they are shared out each worker keeps one free) and everyone else is
    still answered at once.
    """
    server = start_server()
    request = b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: " + b"slow" * 100 + b"\r\n\r\n"
    slow = [
        socket.create_connection(("127.0.0.1", server.port), timeout=10)
        for _ in range(CONFIG["threads"] - 1)
    ]
    assert len(slow) > CONFIG["workers"]
    sent = 0
    stop = threading.Event()

    def dribble() -> None:
        nonlocal sent
        while sent < len(request) - 1 and not stop.wait(0.02):  # at most 9 s
            for client in slow:
                client.sendall(request[sent : sent + 1])
            sent += 1

    dribbler = threading.Thread(target=dribble)
    dribbler.start()
    try:
        stop.wait(0.5)  # every slow client has begun its request
        answers = [server.get("/") for _ in range(10)]
    finally:
        stop.set()
        dribbler.join()

    assert 0 < sent < len(request) - 1  # the slow requests were still coming in
    assert [answer.status for answer in answers] == [200] * 10
    slowest = max(answer.seconds for answer in answers)
    print(f"\n{len(slow)} slow clients: the slowest of 10 other requests took {slowest:.3f} s")
    assert slowest < 2  # milliseconds; held up behind a slow client, it would time out
    for client in slow:  # and the slow clients are answered once they are done
        client.sendall(request[sent:])
        assert client.recv(100).startswith(b"HTTP/1.1 200 OK")
        client.close()
