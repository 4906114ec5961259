"""A throttling TCP proxy for tests: in front of a registry on 127.0.0.1, it
holds back the answer to every manifest and blob request by a fixed delay,
so a pull through it is slow in a way a test can count on. Bounded: it
serves until stop(), and every connection ends with its peer."""

import socket
import threading
import time


class SlowProxy:
    def __init__(self, target_port, delay_s):
        self.target_port = target_port
        self.delay_s = delay_s
        self._sock = socket.socket()
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self._sock.listen(64)
        self.port = self._sock.getsockname()[1]
        self._stop = threading.Event()
        self._conns = []

    def start(self):
        threading.Thread(target=self._accept, daemon=True).start()

    def stop(self):
        self._stop.set()
        self._sock.close()
        for c in list(self._conns):
            try:
                c.close()
            except OSError:
                pass

    def _accept(self):
        while not self._stop.is_set():
            try:
                client, _ = self._sock.accept()
            except OSError:
                return
            threading.Thread(target=self._serve, args=(client,),
                             daemon=True).start()

    def _serve(self, client):
        try:
            upstream = socket.create_connection(("127.0.0.1",
                                                 self.target_port), timeout=30)
        except OSError:
            client.close()
            return
        self._conns += [client, upstream]
        threading.Thread(target=self._pipe, args=(upstream, client, False),
                         daemon=True).start()
        self._pipe(client, upstream, True)

    def _pipe(self, src, dst, requests):
        """Copies src to dst; on the request side, a manifest or blob
        request is held back by delay_s before it goes upstream."""
        try:
            while not self._stop.is_set():
                data = src.recv(65536)
                if not data:
                    break
                if requests and (b"/manifests/" in data or b"/blobs/" in data):
                    time.sleep(self.delay_s)
                dst.sendall(data)
        except OSError:
            pass
        finally:
            for s in (src, dst):
                try:
                    s.shutdown(socket.SHUT_RDWR)
                except OSError:
                    pass
