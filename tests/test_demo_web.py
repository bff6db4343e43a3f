"""``archiver demo --web``: the demo, then the records desk on loopback with a user per role."""

from __future__ import annotations

import os
import queue
import re
import signal
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import IO

import httpx

from archiver.access.roles import Role
from tests.support.cli import archiver, assert_one_line_error
from tests.support.web import csrf_token

USER_LINE = re.compile(r"^  (demo-[a-z-]+)\t([a-z ]+)\t(\S+)$")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port: int = s.getsockname()[1]
        return port


def test_demo_web_serves_the_desk_to_a_user_per_role(tmp_path: Path) -> None:
    port = free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith("ARCHIVER_")},
           "ARCHIVER_HOME": str(tmp_path / "home")}
    started = subprocess.Popen([sys.executable, "-m", "archiver.cli", "demo", "--web",
                                "--port", str(port)], env=env, stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE, text=True)
    out, err = started.stdout, started.stderr
    assert out is not None and err is not None
    lines: queue.Queue[str | None] = queue.Queue()
    threading.Thread(target=read_lines, args=(out, lines), daemon=True).start()
    shown: list[str] = []
    try:
        while True:
            line = lines.get(timeout=300)
            assert line is not None, "\n".join(shown) + err.read()
            shown.append(line)
            if line.startswith("records desk on "):
                break
        address = line.removeprefix("records desk on ").split()[0]
        assert address == f"http://127.0.0.1:{port}/", line
        # The demo's own report is unchanged and comes first.
        assert any(s.startswith("verify: ") and s.endswith(": ok") for s in shown), shown
        users = {m[2]: (m[1], m[3]) for m in map(USER_LINE.match, shown) if m}
        assert sorted(users) == sorted(role.label for role in Role), shown

        for label, (name, password) in users.items():
            with httpx.Client(base_url=address, timeout=30) as client:
                token = csrf_token(client.get("/sign-in").text)
                signed = client.post("/sign-in", data={"name": name, "password": password,
                                                      "csrf_token": token, "next": "/"})
                assert signed.status_code in (302, 303), (label, signed.text[:300])
                page = client.get("/")
                assert page.status_code == 200 and "<h1>Dashboard</h1>" in page.text, label
                assert "Springfield Police Department" in page.text, label

        # Kept only as hashes: no password is in any file of the demo archive.
        stored = [f.read_bytes() for f in (tmp_path / "home").rglob("*") if f.is_file()]
        assert not [p for _n, p in users.values() if any(p.encode() in b for b in stored)]
    finally:
        started.send_signal(signal.SIGTERM)
        code = started.wait(timeout=60)
    assert code == 0, err.read()


def read_lines(stream: IO[str], into: queue.Queue[str | None]) -> None:
    """Every line of ``stream`` into ``into``, then None at its end."""
    for line in stream:
        into.put(line.rstrip("\n"))
    into.put(None)


def test_web_serve_on_a_taken_port_is_one_line_error(settings_env: dict[str, str]) -> None:
    assert archiver(settings_env, "init").returncode == 0
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = str(taken.getsockname()[1])
        assert_one_line_error(archiver(settings_env, "web", "serve", "--port", port),
                              f"cannot serve on 127.0.0.1:{port}")
