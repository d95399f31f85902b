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
Hostile servers (issue 14 items 5 and 6):
    oversize     no Content-Length, the file and then `bytes` more (default 256 MiB) until the
                 client hangs up: a body larger than published
    drip         headers at once, then the body one byte every `seconds` (default 1)
    drip_headers the status line and headers one byte every `seconds` (default 1)
    bad_length   Content-Length: not-a-number, then the body, then the connection is closed
    gzip         the body gzip-compressed on the fly, Content-Encoding: gzip (the index too)
    gzip_label   the stored bytes as they are, labelled Content-Encoding: gzip (object-store
                 metadata on a .tar.gz)
    https_to_http  on the TLS listener, /dl/<file> -> http://127.0.0.1:<plain port>/go/<file>
    redirect_other /dl/<file> -> http://127.0.0.2:<other port>/go/<file>, another origin
    auth_required  the origin (not the other listener) answers 401 with a Basic challenge to every
                 file request without an Authorization header
The Go module proxy (with --goproxy DIR, a tree of testbed.goproxy):
    /goproxy/<path>                 DIR/<path>: GOPROXY=http://127.0.0.1:P/goproxy, the checksum database
                                    proxied at /goproxy/sumdb/<name>/ (supported, latest, lookup/, tile/),
                                    or GOSUMDB="<vkey> http://127.0.0.1:P/goproxy/sumdb/<name>"
    /goproxy404/..., /goproxy410/..., /goproxy500/...   always that status (GOPROXY list fall-through)
Its faults (the lying ones serve what the tree keeps under DIR/_testbed/):
    zip_tampered        a .zip request gets a valid zip whose go.env has other bytes
    sumdb_bad_signature latest and lookup answers with the signature's bytes flipped
    sumdb_other_key     latest and lookup answers signed by another key of the same name
    sumdb_no_line       a lookup answers another record of the log (proven, signed) without the
                        module's go.sum lines (the shape of Go's CVE-2026-42501)
    sumdb_fork          every database answer (latest, lookup, tiles) from a forked log: same key,
                        record 299 different, one record more, inconsistent with the real head
    sumdb_bad_tile      a hash tile (not a data tile) with its first hash's first byte flipped
    sumdb_unsupported   404 for /goproxy/sumdb/<name>/supported
    sumdb_500           HTTP 500 for every /goproxy/sumdb/ request
With count=N the fault hits the next N matching requests, then the server is healthy again
(for retry tests); without count it stays until reset. `bytes` and `seconds` are query
parameters of the fault POST too.

Listeners (one State, one log): the plain one on 127.0.0.1; with --tls-port-file a TLS one on
127.0.0.1 (certificate from testbed.tls, trusted by nothing but the tests); with
--other-port-file a plain one on 127.0.0.2 (another host and port: another origin). Each log
entry names the listener and records the Authorization and Accept-Encoding headers received.

Run: python -m testbed.server --root <mirror tree> [--port 0] [--port-file F]
         [--tls-port-file F] [--other-port-file F] [--goproxy DIR]
Tests that need the TLS or the other listener start their own process with start().
"""

from __future__ import annotations

import argparse
import base64
import contextlib
import gzip
import http.server
import json
import os
import socketserver
import subprocess
import sys
import threading
import time
import urllib.parse
import urllib.request
import zlib

FAULTS = ("http500", "http404", "truncate", "stall", "bad_digest", "redirect_loop", "oversize", "drip",
          "drip_headers", "bad_length", "gzip", "gzip_label", "https_to_http", "redirect_other",
          "auth_required", "zip_tampered", "sumdb_bad_signature", "sumdb_other_key", "sumdb_no_line", "sumdb_fork",
          "sumdb_bad_tile", "sumdb_unsupported", "sumdb_500")
WRONG = "0" * 64
HERE = os.path.dirname(os.path.abspath(__file__))


class State:
    def __init__(self, root: str, goproxy: str = None):
        self.root = root
        self.goproxy = goproxy
        self.lock = threading.Lock()
        self.faults = {}  # name -> {"count": int or None, "seconds": float, "bytes": int}
        self.log = []
        self.ports = {}  # listener kind (plain, tls, other) -> port

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

    @property
    def kind(self) -> str:
        return self.server.kind

    def _send(self, code, body=b"", ctype="text/plain; charset=utf-8", headers=None):
        drip = self.state.take("drip_headers") if self._fault_applies() else None
        if drip:
            return self._drip_headers(code, body, ctype, headers, drip["seconds"])
        self.send_response(code)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _fault_applies(self) -> bool:
        return self.command == "GET" and urllib.parse.urlsplit(self.path).path.startswith(("/dl/", "/go/"))

    def _drip_headers(self, code, body, ctype, headers, seconds):
        head = "HTTP/1.1 %d X\r\nContent-Type: %s\r\nContent-Length: %d\r\n" % (code, ctype, len(body))
        head += "".join("%s: %s\r\n" % kv for kv in (headers or {}).items()) + "\r\n"
        self._record(code)
        try:
            for ch in head.encode():
                self.wfile.write(bytes([ch]))
                self.wfile.flush()
                time.sleep(seconds)
            self.wfile.write(body)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self.close_connection = True

    def _record(self, code, sent=0):
        with self.state.lock:
            self.state.log.append({"method": self.command, "path": self.path, "status": code,
                                   "bytes": sent, "time": time.time(), "listener": self.kind,
                                   "authorization": self.headers.get("Authorization"),
                                   "accept_encoding": self.headers.get("Accept-Encoding")})

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
            default_seconds = 1 if name in ("drip", "drip_headers") else 30
            with self.state.lock:
                self.state.faults[name] = {"count": count, "seconds": float(q.get("seconds", default_seconds)),
                                           "bytes": int(q.get("bytes", 256 << 20))}
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
            location = "/go/" + name
            if self.kind == "tls" and self.state.take("https_to_http"):
                location = "http://127.0.0.1:%d/go/%s" % (self.state.ports["plain"], name)
            elif self.kind != "other" and "other" in self.state.ports and self.state.take("redirect_other"):
                location = "http://127.0.0.2:%d/go/%s" % (self.state.ports["other"], name)
            self._record(302)
            return self._send(302, b"", headers={"Location": location})
        if url.path.startswith("/go/"):
            name = url.path[len("/go/"):]
            if self.state.active("redirect_loop"):
                self.state.take("redirect_loop")
                self._record(302)
                return self._send(302, b"", headers={"Location": "/dl/" + name})
            if self._file_fault(name):
                return None
            return self._file(name)
        for prefix, code in (("/goproxy404/", 404), ("/goproxy410/", 410), ("/goproxy500/", 500)):
            if url.path.startswith(prefix):
                self._record(code)
                return self._send(code, b"goproxy answers %d\n" % code)
        if url.path.startswith("/goproxy/") and self.state.goproxy:
            return self._goproxy(urllib.parse.unquote(url.path[len("/goproxy/"):]))
        self._record(404)
        return self._send(404, b"not found\n")

    def _goproxy(self, rel):  # pylint: disable=too-many-return-statements,too-many-branches
        """The module proxy tree and its checksum database, with the goproxy faults."""
        parts = rel.split("/")
        if not rel or any(p in ("", ".", "..") for p in parts) or parts[0] == "_testbed":
            self._record(404)
            return self._send(404, b"not found\n")
        root = self.state.goproxy
        hostile = os.path.join(root, "_testbed")
        sub = "/".join(parts[2:]) if parts[0] == "sumdb" and len(parts) > 2 else None
        flip_sig = flip_tile = False
        if sub is not None:
            if self.state.take("sumdb_500"):
                self._record(500)
                return self._send(500, b"fault sumdb_500\n")
            if sub == "supported" and self.state.take("sumdb_unsupported"):
                self._record(404)
                return self._send(404, b"fault sumdb_unsupported\n")
            signed = sub == "latest" or sub.startswith("lookup/")
            if self.state.take("sumdb_fork"):
                root = os.path.join(hostile, "fork")
            elif signed and self.state.take("sumdb_other_key"):
                root = os.path.join(hostile, "other-key")
            elif sub.startswith("lookup/") and self.state.take("sumdb_no_line"):
                root = os.path.join(hostile, "no-line")
            if signed and self.state.take("sumdb_bad_signature"):
                flip_sig = True
            if sub.startswith("tile/") and not sub.startswith("tile/8/data/") and self.state.take("sumdb_bad_tile"):
                flip_tile = True
        elif rel.endswith(".zip") and self.state.take("zip_tampered"):
            root = os.path.join(hostile, "tampered")
        path = os.path.join(root, *parts)
        if not os.path.isfile(path):
            self._record(404)
            return self._send(404, b"not found\n")
        if flip_sig or flip_tile:
            with open(path, "rb") as f:
                body = f.read()
            body = _flip_signatures(body) if flip_sig else bytes([body[0] ^ 0xFF]) + body[1:]
            self._record(200, len(body))
            return self._send(200, body, "text/plain; charset=utf-8" if flip_sig else "application/octet-stream")
        return self._stream(path)

    def _stream(self, path):
        size = os.path.getsize(path)
        self.send_response(200)
        self.send_header("Content-Type", "application/octet-stream" if path.endswith(".zip") else
                         "text/plain; charset=utf-8")
        self.send_header("Content-Length", str(size))
        self.end_headers()
        sent = 0
        if self.command != "HEAD":
            try:
                with open(path, "rb") as f:
                    for block in iter(lambda: f.read(1 << 20), b""):
                        self.wfile.write(block)
                        sent += len(block)
            except (BrokenPipeError, ConnectionResetError):
                self.close_connection = True
        self._record(200, sent)

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
        headers = {}
        if self.state.take("gzip"):
            body = gzip.compress(body)
            headers["Content-Encoding"] = "gzip"
        self._record(200, len(body))
        return self._send(200, body, "application/json", headers=headers)

    def _file_fault(self, name) -> bool:
        """Serve a fault for a file request if one is on; True when the request is answered."""
        if "/" in name or name.startswith("."):
            self._record(404)
            self._send(404, b"not found\n")
            return True
        if self.kind != "other" and self.state.active("auth_required") and not self.headers.get("Authorization"):
            self._record(401)
            self._send(401, b"authentication required\n", headers={"WWW-Authenticate": 'Basic realm="mirror"'})
            return True
        for fault, code in (("http500", 500), ("http404", 404)):
            if self.state.take(fault):
                self._record(code)
                self._send(code, b"fault %s\n" % fault.encode())
                return True
        return False

    def _file(self, name):  # pylint: disable=too-many-branches,too-many-statements
        path = os.path.join(self.state.root, name)
        if not os.path.isfile(path) or name.endswith(".json"):
            self._record(404)
            return self._send(404, b"not found\n")
        if name.endswith(".sha256") and self.state.take("bad_digest"):
            return self._send(200, WRONG.encode())
        size = os.path.getsize(path)
        ctype = "application/octet-stream" if not name.endswith(".sha256") else "text/plain; charset=utf-8"
        if self.state.active("drip_headers"):
            with open(path, "rb") as f:
                return self._send(200, f.read(), ctype)
        truncate = self.state.take("truncate")
        stall = self.state.take("stall")
        oversize = self.state.take("oversize")
        drip = self.state.take("drip")
        bad_length = self.state.take("bad_length")
        gzipped = self.state.take("gzip")
        label = self.state.take("gzip_label")
        body = None
        z = None  # an archive gzip-encoded on the fly: compressed as it streams, so no Content-Length
        if gzipped and size < 1 << 20:
            with open(path, "rb") as f:
                body = gzip.compress(f.read())
            size = len(body)
        elif gzipped:
            z = zlib.compressobj(1, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
        self.send_response(200)
        self.send_header("Content-Type", ctype)
        if oversize or z:
            self.send_header("Connection", "close")
        elif bad_length:
            self.send_header("Content-Length", "not-a-number")
            self.send_header("Connection", "close")
        else:
            self.send_header("Content-Length", str(size))
        if gzipped or label:
            self.send_header("Content-Encoding", "gzip")
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
            if body is not None:
                self.wfile.write(body[:limit])
                sent = limit
            else:
                with open(path, "rb") as f:
                    done = 0
                    while done < limit:
                        block = f.read(1 if drip else min(1 << 20, limit - done))
                        if not block:
                            break
                        done += len(block)
                        if z:
                            block = z.compress(block)
                        self.wfile.write(block)
                        sent += len(block)
                        if drip:
                            self.wfile.flush()
                            time.sleep(drip["seconds"])
            if z:
                tail = z.flush()
                self.wfile.write(tail)
                sent += len(tail)
            if oversize:
                zeros = bytes(1 << 16)
                extra = oversize["bytes"]
                while extra > 0:
                    self.wfile.write(zeros[:min(len(zeros), extra)])
                    sent += min(len(zeros), extra)
                    extra -= len(zeros)
        except (BrokenPipeError, ConnectionResetError):
            pass
        self._record(200, sent)
        if truncate or oversize or bad_length or gzipped:
            self.close_connection = True
        return None


def _flip_signatures(note: bytes) -> bytes:
    """A signed note whose every signature has one byte of the Ed25519 signature flipped (the key
    hash before it is kept, so the client finds the key and the signature fails)."""
    out = []
    for line in note.split(b"\n"):
        if line.startswith("\u2014 ".encode()):
            head, sig = line.rsplit(b" ", 1)
            raw = bytearray(base64.b64decode(sig))
            raw[10] ^= 0x01
            line = head + b" " + base64.b64encode(bytes(raw))
        out.append(line)
    return b"\n".join(out)


class Server(socketserver.ThreadingMixIn, http.server.HTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    kind = "plain"


class TLSServer(Server):
    kind = "tls"

    def get_request(self):
        from testbed import tls  # pylint: disable=import-outside-toplevel
        sock, addr = super().get_request()
        if not hasattr(self, "context"):
            self.context = tls.server_context()
        sock.settimeout(30)
        # the handshake happens in the handler's thread, on its first read
        return self.context.wrap_socket(sock, server_side=True, do_handshake_on_connect=False), addr

    def handle_error(self, request, client_address):
        pass  # a client that refuses the test CA ends its handshake: expected, not news


def _listen(cls, host, port, state, port_file, kind=None):
    httpd = cls((host, port), Handler)
    httpd.state = state
    if kind:
        httpd.kind = kind
    state.ports[httpd.kind] = httpd.server_address[1]
    return httpd, port_file


def serve(root: str, port: int = 0, port_file: str = None, tls_port_file: str = None, other_port_file: str = None,
          goproxy: str = None):
    state = State(root, goproxy)
    servers = [_listen(Server, "127.0.0.1", port, state, port_file)]
    if tls_port_file:
        servers.append(_listen(TLSServer, "127.0.0.1", 0, state, tls_port_file))
    if other_port_file:
        servers.append(_listen(Server, "127.0.0.2", 0, state, other_port_file, kind="other"))
    for httpd, dummy in servers[1:]:
        threading.Thread(target=httpd.serve_forever, daemon=True).start()
    for httpd, pf in reversed(servers):  # the plain port file last: it means "all listening"
        if pf:
            tmp = pf + ".tmp"
            with open(tmp, "w") as f:
                f.write(str(httpd.server_address[1]))
            os.replace(tmp, pf)
    servers[0][0].serve_forever()


def main():
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--root", required=True, help="mirror tree (see testbed.mirror)")
    p.add_argument("--port", type=int, default=0, help="port on 127.0.0.1 (0: any free port)")
    p.add_argument("--port-file", help="write the port chosen here once listening")
    p.add_argument("--tls-port-file", help="also listen with TLS on 127.0.0.1 (testbed.tls); write its port here")
    p.add_argument("--other-port-file", help="also listen on 127.0.0.2 (another origin); write its port here")
    p.add_argument("--goproxy", help="module proxy tree (see testbed.goproxy) to serve at /goproxy/")
    a = p.parse_args()
    serve(a.root, a.port, a.port_file, a.tls_port_file, a.other_port_file, a.goproxy)


class Running:
    """A server process started by start(): its URLs, the CA to trust, the control API."""

    def __init__(self, tree, ports, goproxy=None):
        self.tree = tree
        self.goproxy_tree = goproxy
        self.url = "http://127.0.0.1:%d" % ports["plain"]
        self.tls_url = "https://127.0.0.1:%d" % ports["tls"] if "tls" in ports else None
        self.other_url = "http://127.0.0.2:%d" % ports["other"] if "other" in ports else None
        if self.tls_url:
            from testbed import tls  # pylint: disable=import-outside-toplevel
            self.ca = tls.materials()["ca"]

    def _post(self, path):
        req = urllib.request.Request(self.url + path, data=b"", method="POST")
        with urllib.request.urlopen(req, timeout=10) as r:
            return r.read()

    def fault(self, name, **params):
        """Turn a fault on; params: count, seconds, bytes."""
        self._post("/_testbed/fault?" + urllib.parse.urlencode(dict(name=name, **params)))

    def reset(self):
        self._post("/_testbed/reset")

    def log(self):
        with urllib.request.urlopen(self.url + "/_testbed/log", timeout=10) as r:
            return json.loads(r.read())


@contextlib.contextmanager
def start(root, folder, tls=True, other=True, goproxy=None):
    """Run a server process on the mirror tree `root` with the TLS and the other listener (and the
    module proxy tree `goproxy` at /goproxy/); yield Running."""
    files = {"plain": os.path.join(folder, "port")}
    argv = [sys.executable, "-m", "testbed.server", "--root", root, "--port-file", files["plain"]]
    if goproxy:
        argv += ["--goproxy", goproxy]
    if tls:
        from testbed import tls as tls_mod  # pylint: disable=import-outside-toplevel
        tls_mod.materials()  # made here, once, not raced by the server's first handshake
        files["tls"] = os.path.join(folder, "tls-port")
        argv += ["--tls-port-file", files["tls"]]
    if other:
        files["other"] = os.path.join(folder, "other-port")
        argv += ["--other-port-file", files["other"]]
    proc = subprocess.Popen(argv, cwd=os.path.dirname(HERE))
    try:
        deadline = time.time() + 30
        while not os.path.exists(files["plain"]):
            if proc.poll() is not None or time.time() > deadline:
                raise RuntimeError("the mirror server did not start")
            time.sleep(0.05)
        ports = {}
        for kind, f in files.items():
            with open(f) as fh:
                ports[kind] = int(fh.read().strip())
        yield Running(root, ports, goproxy)
    finally:
        proc.terminate()
        proc.wait(10)


if __name__ == "__main__":
    main()
