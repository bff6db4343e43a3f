"""An RFC 3161 time-stamping authority on loopback: ``openssl ts -reply`` behind a tiny HTTP
server, with a root CA and a TSA certificate generated for the test (critical EKU timeStamping).
"""

from __future__ import annotations

import subprocess
import tempfile
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import TracebackType
from typing import Self

_EXT = ("basicConstraints=CA:FALSE\nkeyUsage=critical,digitalSignature,nonRepudiation\n"
        "extendedKeyUsage=critical,timeStamping\n")
_CNF = """[ tsa ]
default_tsa = tsa_config1
[ tsa_config1 ]
serial = {dir}/tsaserial
signer_cert = {dir}/tsa.pem
certs = {dir}/ca.pem
signer_key = {dir}/tsa.key
signer_digest = sha256
default_policy = 1.2.3.4.1
digests = sha256, sha512
accuracy = secs:1
ess_cert_id_alg = sha256
"""


def _openssl(*args: str, cwd: Path, data: bytes | None = None) -> bytes:
    done = subprocess.run(["openssl", *args], cwd=cwd, input=data, capture_output=True,
                          timeout=60, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"openssl {args[0]} failed: {done.stderr.decode(errors='replace')}")
    return done.stdout


def make_authority(folder: Path, name: str = "Test TSA") -> None:
    """ca.pem/ca.key, tsa.pem/tsa.key and tsa.cnf in ``folder``."""
    folder.mkdir(parents=True, exist_ok=True)
    _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", "ca.key", "-out",
             "ca.pem", "-days", "3650", "-subj", f"/CN={name} Root", "-addext",
             "basicConstraints=critical,CA:TRUE", "-addext",
             "keyUsage=critical,keyCertSign,cRLSign", cwd=folder)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "tsa.key", "-out", "tsa.csr",
             "-subj", f"/CN={name}", cwd=folder)
    (folder / "ext.cnf").write_text(_EXT)
    _openssl("x509", "-req", "-in", "tsa.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
             "-CAcreateserial", "-days", "825", "-extfile", "ext.cnf", "-out", "tsa.pem",
             cwd=folder)
    (folder / "tsaserial").write_text("01\n")
    (folder / "tsa.cnf").write_text(_CNF.format(dir=folder))


class TsaServer:
    """``with TsaServer() as tsa:`` ``tsa.url`` answers ``application/timestamp-query`` POSTs;
    ``tsa.ca_pem`` is the root to trust; ``tsa.fail_with`` makes it answer that HTTP status."""

    def __init__(self) -> None:
        self._tmp = tempfile.TemporaryDirectory(prefix="tsa-")
        self.folder = Path(self._tmp.name)
        make_authority(self.folder)
        self.ca_pem = self.folder / "ca.pem"
        self.requests = 0
        self.fail_with: int | None = None
        self._lock = threading.Lock()
        self._httpd: ThreadingHTTPServer | None = None
        self.url = ""

    def reply(self, query: bytes) -> bytes:
        """The DER TimeStampResp ``openssl ts -reply`` gives for ``query``."""
        with self._lock:  # openssl ts -reply updates the serial file
            self.requests += 1
            path = self.folder / f"q{self.requests}.tsq"
            path.write_bytes(query)
            out = self.folder / f"r{self.requests}.tsr"
            _openssl("ts", "-reply", "-config", str(self.folder / "tsa.cnf"), "-queryfile",
                     str(path), "-out", str(out), cwd=self.folder)
            return out.read_bytes()

    def __enter__(self) -> Self:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:  # noqa: N802 (http.server's name)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length)
                if server.fail_with is not None:
                    self.send_error(server.fail_with)
                    return
                if self.headers.get("Content-Type") != "application/timestamp-query":
                    self.send_error(415)
                    return
                data = server.reply(body)
                self.send_response(200)
                self.send_header("Content-Type", "application/timestamp-reply")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, format: str, *args: object) -> None:  # noqa: A002
                pass

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self._httpd.serve_forever, daemon=True).start()
        self.url = f"http://127.0.0.1:{self._httpd.server_address[1]}/tsa"
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
        self._tmp.cleanup()
