"""A local HTTPS front for the sandbox, so a cold run pays a real TLS handshake.

AWS endpoints are HTTPS; the sandbox is plain HTTP. The bench starts this proxy with a
throw-away CA + `localhost` certificate (openssl CLI) and points the function at
`https://localhost:<port>` with the CA trusted through `SSL_CERT_FILE` (the Rust SDK's root loading,
rustls-native-certs) and `AWS_CA_BUNDLE` (botocore). That file is the system's CA bundle
with the throw-away CA appended, so both runtimes parse a full root store as they would on Lambda
(not one certificate: that would be easier than the real path). Requests are forwarded as they are
(headers, SigV4 signature and all) to the sandbox router, which counts them.
"""

from __future__ import annotations

import http.client
import pathlib
import ssl
import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

HOP = {"connection", "keep-alive", "transfer-encoding", "proxy-connection", "upgrade"}


def make_certs(directory: pathlib.Path) -> tuple[pathlib.Path, pathlib.Path, pathlib.Path]:
    d = directory
    run = lambda *a: subprocess.run(a, cwd=d, check=True, capture_output=True, timeout=60)  # noqa: E731
    run("openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out", "ca.pem",
        "-days", "2", "-subj", "/CN=hookline bench CA")
    run("openssl", "req", "-newkey", "rsa:2048", "-nodes", "-keyout", "leaf.key", "-out", "leaf.csr",
        "-subj", "/CN=localhost")
    (d / "leaf.ext").write_text("basicConstraints=CA:FALSE\nkeyUsage=digitalSignature,keyEncipherment\n"
                                "extendedKeyUsage=serverAuth\nsubjectAltName=DNS:localhost,IP:127.0.0.1\n")
    run("openssl", "x509", "-req", "-in", "leaf.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
        "-out", "leaf.pem", "-days", "2", "-extfile", "leaf.ext")
    return d / "ca.pem", d / "leaf.pem", d / "leaf.key"


class TlsProxy:
    def __init__(self, upstream_host: str, upstream_port: int):
        self.tmp = tempfile.TemporaryDirectory(prefix="hookline-bench-tls-")
        ca, leaf, key = make_certs(pathlib.Path(self.tmp.name))
        self.ca = pathlib.Path(self.tmp.name) / "bundle.pem"
        paths = ssl.get_default_verify_paths()
        system = paths.cafile or paths.openssl_cafile
        system_pem = pathlib.Path(system).read_text() if system and pathlib.Path(system).is_file() else ""
        if "BEGIN CERTIFICATE" not in system_pem:
            raise RuntimeError(f"no system CA bundle at {system!r} to extend")
        self.ca.write_text(system_pem.rstrip("\n") + "\n" + ca.read_text())
        self.system_bundle = system
        up_host, up_port = upstream_host, upstream_port

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            # One write per response, without Nagle: http.server's default (unbuffered headers, then the
            # body) makes two TLS records, and the second waits for the client's delayed ACK (~40 ms)
            # under Nagle's algorithm, a stall of this proxy that no AWS endpoint has.
            disable_nagle_algorithm = True
            wbufsize = 1 << 16

            def log_message(self, *args):
                pass

            def _forward(self):
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else None
                conn = http.client.HTTPConnection(up_host, up_port, timeout=60)
                try:
                    headers = {k: v for k, v in self.headers.items() if k.lower() not in HOP}
                    conn.request(self.command, self.path, body=body, headers=headers)
                    resp = conn.getresponse()
                    data = resp.read()
                    self.send_response(resp.status, resp.reason)
                    for k, v in resp.getheaders():
                        if k.lower() not in HOP and k.lower() != "content-length":
                            self.send_header(k, v)
                    self.send_header("Content-Length", str(len(data)))
                    self.end_headers()
                    self.wfile.write(data)
                finally:
                    conn.close()

            do_GET = do_POST = do_PUT = do_DELETE = do_HEAD = do_PATCH = _forward

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(leaf, key)
        self.server.socket = ctx.wrap_socket(self.server.socket, server_side=True)
        self.server.handle_error = lambda request, address: None
        self.port = self.server.server_address[1]
        self.url = f"https://localhost:{self.port}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def client_env(self) -> dict:
        """What a function needs to trust the proxy (Rust: rustls-native-certs; Python: botocore)."""
        return {"SSL_CERT_FILE": str(self.ca), "AWS_CA_BUNDLE": str(self.ca)}

    def close(self):
        self.server.shutdown()
        self.server.server_close()
        self.tmp.cleanup()
