# Copyright (c) gofleet developers
# GNU General Public License v3.0+ (see LICENSE or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The local go.dev: serves a mirror tree on 127.0.0.1 with go.dev's URL shapes, and faults.

URL shapes (as go.dev and its storage host serve them):
    /dl/?mode=json                  supported releases (index.json)
    /dl/?mode=json&include=all      every release (index-all.json)
    /dl/<file>                      302 to the storage path /go/<file> (go.dev -> dl.google.com)
    /go/<file>, /go/<file>.sha256   the archive and its sidecar

Fault switches, set by tests through the control API (only one server process is shared by
many tests and by Ansible modules running in other processes or containers):
    POST /_testbed/fault?name=<fault>[&count=N][&seconds=S]   turn a fault on (for N requests)
    POST /_testbed/reset                                      all faults off, log cleared
    GET  /_testbed/log                                        JSON list of served requests

Faults apply to archive and sidecar requests (/dl/<file>, /go/<file>), except `bad_digest`:
    http500      HTTP 500
    http404      HTTP 404
    truncate     full Content-Length announced, half the body sent, connection closed
    stall        headers sent, then nothing for `seconds` (default 30) before the body
    bad_digest   the JSON index and the sidecars carry a wrong sha256 for every file
    redirect_loop  /dl/<file> -> /go/<file> -> /dl/<file> -> ...
With count=N the fault hits the next N matching requests, then the server is healthy again
(for retry tests); without count it stays until reset.

Run: python -m testbed.server --root <mirror tree> [--port 0] [--port-file F]
"""

from __future__ import annotations

import argparse
import http.server
import json
import os
import socketserver
import threading
import time
import urllib.parse

FAULTS = ("http500", "http404", "truncate", "stall", "bad_digest", "redirect_loop")
WRONG = "0" * 64


class State:
    def __init__(self, root: str):
        self.root = root
        self.lock = threading.Lock()
        self.faults = {}  # name -> {"count": int or None, "seconds": float}
        self.log = []

    def take(self, name: str):
        """The fault's settings if it is on (consuming one use when counted), else None."""
        with self.lock:
            f = self.faults.get(name)
            if f is None:
                return None
            if f["count"] is not None:
                f["count"] -= 1
                if f["count"] <= 0:
                    del self.faults[name]
            return f

    def active(self, name: str) -> bool:
        with self.lock:
            return name in self.faults


class Handler(http.server.BaseHTTPRequestHandler):
    server_version = "gofleet-testbed"
    protocol_version = "HTTP/1.1"

    @property
    def state(self) -> State:
        return self.server.state

    def log_message(self, format, *args):  # pylint: disable=redefined-builtin
        pass

    def _send(self, code, body=b"", ctype="text/plain; charset=utf-8", headers=None):
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _record(self, code, sent=0):
        with self.state.lock:
            self.state.log.append({"method": self.command, "path": self.path, "status": code,
                                   "bytes": sent, "time": time.time()})

    def do_POST(self):
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_testbed/reset":
            with self.state.lock:
                self.state.faults.clear()
                self.state.log.clear()
            return self._send(200, b"ok\n")
        if url.path == "/_testbed/fault":
            name = q.get("name", "")
            if name not in FAULTS:
                return self._send(400, ("unknown fault %r; known: %s\n" % (name, ", ".join(FAULTS))).encode())
            count = int(q["count"]) if "count" in q else None
            with self.state.lock:
                self.state.faults[name] = {"count": count, "seconds": float(q.get("seconds", 30))}
            return self._send(200, b"ok\n")
        return self._send(404, b"not found\n")

    def do_HEAD(self):
        self.do_GET()

    def do_GET(self):  # pylint: disable=too-many-return-statements
        url = urllib.parse.urlsplit(self.path)
        q = dict(urllib.parse.parse_qsl(url.query))
        if url.path == "/_testbed/log":
            with self.state.lock:
                body = json.dumps(self.state.log).encode()
            return self._send(200, body, "application/json")
        if url.path in ("/dl/", "/dl") and q.get("mode") == "json":
            return self._index(q.get("include") == "all")
        if url.path.startswith("/dl/"):
            name = url.path[len("/dl/"):]
            if self._file_fault(name):
                return None
            self._record(302)
            return self._send(302, b"", headers={"Location": "/go/" + name})
        if url.path.startswith("/go/"):
            name = url.path[len("/go/"):]
            if self.state.active("redirect_loop"):
                self.state.take("redirect_loop")
                self._record(302)
                return self._send(302, b"", headers={"Location": "/dl/" + name})
            if self._file_fault(name):
                return None
            return self._file(name)
        self._record(404)
        return self._send(404, b"not found\n")

    def _index(self, include_all):
        path = os.path.join(self.state.root, "index-all.json" if include_all else "index.json")
        with open(path, "rb") as f:
            body = f.read()
        if self.state.take("bad_digest"):
            rels = json.loads(body)
            for rel in rels:
                for fl in rel["files"]:
                    fl["sha256"] = WRONG
            body = json.dumps(rels).encode()
        self._record(200, len(body))
        return self._send(200, body, "application/json")

    def _file_fault(self, name) -> bool:
        """Serve a fault for a file request if one is on; True when the request is answered."""
        if "/" in name or name.startswith("."):
            self._record(404)
            self._send(404, b"not found\n")
            return True
        for fault, code in (("http500", 500), ("http404", 404)):
            if self.state.take(fault):
                self._record(code)
                self._send(code, b"fault %s\n" % fault.encode())
                return True
        return False

    def _file(self, name):
        path = os.path.join(self.state.root, name)
        if not os.path.isfile(path) or name.endswith(".json"):
            self._record(404)
            return self._send(404, b"not found\n")
        if name.endswith(".sha256") and self.state.take("bad_digest"):
            return self._send(200, WRONG.encode())
        size = os.path.getsize(path)
        ctype = "application/octet-stream" if not name.endswith(".sha256") else "text/plain; charset=utf-8"
        truncate = self.state.take("truncate")
        stall = self.state.take("stall")
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(size))
        self.end_headers()
        if self.command == "HEAD":
            self._record(200)
            return None
        limit = size // 2 if truncate else size
        sent = 0
        try:
            if stall:
                self.wfile.flush()
                time.sleep(stall["seconds"])
            with open(path, "rb") as f:
                while sent < limit:
                    block = f.read(min(1 << 20, limit - sent))
                    if not block:
                        break
                    self.wfile.write(block)
                    sent += len(block)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._record(200, sent)
        if truncate:
            self.close_connection = True
        return None


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True


def serve(root: str, port: int = 0, port_file: str = None):
    httpd = Server(("127.0.0.1", port), Handler)
    httpd.state = State(root)
    if port_file:
        tmp = port_file + ".tmp"
        with open(tmp, "w") as f:
            f.write(str(httpd.server_address[1]))
        os.replace(tmp, port_file)
    httpd.serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="mirror tree (see testbed.mirror)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--port-file", help="write the port chosen here once listening")
    a = p.parse_args()
    serve(a.root, a.port, a.port_file)


if __name__ == "__main__":
    main()
