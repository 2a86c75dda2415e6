"""Run the nginx example of docs/deploy.md in front of two real webhook workers (by hand).

Not part of the test suite: CI has no nginx. Needs nginx (`apt-get install -y nginx`) and the
PostgreSQL server binaries the tests use.

    .venv/bin/python scripts/nginx_check.py

What it does: takes the ```nginx block from docs/deploy.md, swaps ``listen 443 ssl`` and the
certificate lines for a loopback port (no TLS) and the upstream ports for two free ones, runs
``nginx -t`` and nginx itself (foreground, its files in a temporary directory, no root needed),
starts a throwaway PostgreSQL, ``mestring db upgrade``, two ``mestring run --webhook`` workers
whose webhook URL is nginx, and the local Bot API delivering webhooks to it. Then 20 people
send 10 commands each, one worker is SIGKILLed, they send 5 more, and every person must have
every answer in order; ``/healthz`` through nginx must still answer, a GET of the webhook 403,
another path 404, an oversized body 413. Prints what it checked and exits non-zero on failure.
"""

from __future__ import annotations

import asyncio
import itertools
import os
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
from asyncio.subprocess import DEVNULL, Process
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402

from bot.local_api import Limits, LocalBotApi  # noqa: E402
from tests.fixtures.postgres import (  # noqa: E402
    PostgresCluster,
    _find_binaries,
    _Runner,
    _start_cluster,
)

MESTRING = str(Path(sys.executable).with_name("mestring"))
PEOPLE = range(4_100_000, 4_100_020)
COMMANDS = ("/help", "/privacy", "/language")
SECRET = "nginx-check-secret-" + "n" * 24


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def example_config() -> str:
    text = (ROOT / "docs" / "deploy.md").read_text()
    match = re.search(r"```nginx\n(.*?)```", text, re.S)
    if match is None:
        raise SystemExit("no ```nginx block in docs/deploy.md")
    return match.group(1)


def loopback_config(example: str, nginx_port: int, workers: list[int], tmp: Path) -> Path:
    site = example.replace("listen 443 ssl;", f"listen 127.0.0.1:{nginx_port};")
    site = "\n".join(line for line in site.splitlines() if "ssl_certificate" not in line)
    for default, port in zip(("127.0.0.1:8441", "127.0.0.1:8442"), workers, strict=True):
        assert default in site, default
        site = site.replace(default, f"127.0.0.1:{port}")
    (tmp / "mestring.conf").write_text(site)
    main = tmp / "nginx.conf"
    main.write_text(f"""
daemon off;
worker_processes 1;
pid {tmp}/nginx.pid;
error_log {tmp}/error.log warn;
events {{ worker_connections 256; }}
http {{
    access_log {tmp}/access.log;
    client_body_temp_path {tmp}/client_body;
    proxy_temp_path {tmp}/proxy;
    fastcgi_temp_path {tmp}/fastcgi;
    uwsgi_temp_path {tmp}/uwsgi;
    scgi_temp_path {tmp}/scgi;
    include {tmp}/mestring.conf;
}}
""")
    return main


async def until(check, limit: float = 90.0) -> None:  # type: ignore[no-untyped-def]
    async with asyncio.timeout(limit):
        while True:
            if await check():
                return
            await asyncio.sleep(0.1)  # polling other processes' progress


def main() -> None:
    nginx = shutil.which("nginx") or "/usr/sbin/nginx"
    binaries = _find_binaries()
    if not Path(nginx).exists() or binaries is None:
        raise SystemExit("needs nginx and the PostgreSQL server binaries")
    tmp = Path(tempfile.mkdtemp(prefix="mestring-nginx-"))
    tmp.chmod(0o755)  # nginx's worker runs as nobody when started by root
    pg_base = Path(tempfile.mkdtemp(prefix="mestring-nginx-pg-"))
    cluster = _start_cluster(binaries, pg_base)
    try:
        cluster.execute("CREATE DATABASE nginx_check")
        nginx_port, ports = free_port(), [free_port(), free_port()]
        conf = loopback_config(example_config(), nginx_port, ports, tmp)
        tested = subprocess.run([nginx, "-t", "-c", str(conf), "-p", str(tmp)],  # noqa: S603
                                capture_output=True, text=True, check=False)
        print(f"$ nginx -t -c {conf}\n{tested.stderr.strip()}")
        if tested.returncode:
            raise SystemExit("nginx -t failed")
        asyncio.run(check(cluster, [nginx, "-c", str(conf), "-p", str(tmp)], nginx_port, ports))
    finally:
        _Runner(pg_base)(binaries["pg_ctl"], "-D", pg_base / "data", "-m", "immediate", "-w",
                         "stop", check=False)
        shutil.rmtree(pg_base, ignore_errors=True)
        shutil.rmtree(tmp, ignore_errors=True)
    print("nginx check passed")


async def check(cluster: PostgresCluster, nginx: list[str], nginx_port: int,
                ports: list[int]) -> None:
    url = cluster.url("nginx_check")
    processes: list[Process] = []
    try:
        processes.append(await asyncio.create_subprocess_exec(
            *nginx, stdout=DEVNULL, stderr=DEVNULL))
        async with LocalBotApi(limits=Limits.disabled()) as api, aiohttp.ClientSession() as http:
            env = {k: v for k, v in os.environ.items() if not k.startswith("MESTRING_")} | {
                "MESTRING_TELEGRAM_TOKEN": api.token, "MESTRING_TELEGRAM_API_URL": api.base_url,
                "MESTRING_DATABASE_URL": url, "MESTRING_SECRET_KEY": "k" * 40,
                "MESTRING_WEBHOOK_SECRET": SECRET, "MESTRING_LOG_LEVEL": "WARNING"}
            upgrade = await asyncio.create_subprocess_exec(MESTRING, "db", "upgrade", env=env)
            assert await upgrade.wait() == 0
            public = f"http://127.0.0.1:{nginx_port}"
            workers = [await asyncio.create_subprocess_exec(
                MESTRING, "run", "--webhook", "--webhook-url", f"{public}/telegram",
                "--port", str(port), env=env, stdout=DEVNULL, start_new_session=True)
                for port in ports]
            processes += workers
            for port in ports:
                async def healthy(port: int = port) -> bool:
                    try:
                        async with http.get(f"http://127.0.0.1:{port}/healthz") as r:
                            return r.status == 200
                    except (aiohttp.ClientError, OSError):
                        return False
                await until(healthy)
            for user in PEOPLE:
                api.add_user(user, "P", language_code="da").started = True
            sent = 0
            turn = itertools.cycle(COMMANDS)
            for _ in range(10):
                command = next(turn)
                for user in PEOPLE:
                    api.send_text(user, command)
                    sent += 1

            async def answered(count: int) -> bool:
                """Each person has ``count`` answers (one answered twice counts once)."""
                return all(len(list(itertools.groupby(m.text for m in api.messages_to(u))))
                           >= count for u in PEOPLE)

            await until(lambda: answered(5))
            os.killpg(workers[0].pid, signal.SIGKILL)
            await workers[0].wait()
            print(f"SIGKILLed worker on port {ports[0]} after {sent} updates were sent")
            for _ in range(5):
                command = next(turn)
                for user in PEOPLE:
                    api.send_text(user, command)
                    sent += 1
            await until(lambda: answered(15))
            texts = {u: [m.text for m in api.messages_to(u)] for u in PEOPLE}
            collapsed = {u: [t for t, _ in itertools.groupby(ts)] for u, ts in texts.items()}
            reference = collapsed[PEOPLE[0]]
            assert len(reference) == 15, len(reference)
            for user, answers in collapsed.items():
                if answers != reference:
                    short = {t: n for n, t in enumerate(dict.fromkeys(reference))}
                    print(f"out of order for {user}: "
                          f"{[short.get(t, t[:30]) for t in texts[user]]} expected "
                          f"{[short[t] for t in reference]}")
            assert all(c == reference for c in collapsed.values()), "answers out of order"
            repeats = sum(map(len, texts.values())) - 15 * len(PEOPLE)
            print(f"{sent} updates through nginx, all {15 * len(PEOPLE)} answers in order "
                  f"({repeats} repeated after the kill); webhook POSTs that failed and were "
                  f"sent again: {api.webhooks.failed_attempts}")
            async with http.get(f"{public}/healthz") as r:
                assert r.status == 200, r.status
            async with http.get(f"{public}/telegram") as r:
                assert r.status == 403, r.status
            async with http.get(f"{public}/other") as r:
                assert r.status == 404, r.status
            async with http.post(f"{public}/telegram", data=b"x" * (2 << 20)) as r:
                assert r.status == 413, r.status
            print("/healthz via nginx 200 with one worker dead; GET /telegram 403; "
                  "/other 404; 2 MB body 413")
            info = await (await http.get(f"{api.bot_api_url}{api.token}/getWebhookInfo")).json()
            print(f"getWebhookInfo: url={info['result']['url']} "
                  f"pending={info['result']['pending_update_count']}")
    finally:
        for process in reversed(processes):
            if process.returncode is None:
                process.send_signal(signal.SIGTERM)
                try:
                    await asyncio.wait_for(process.wait(), 30)
                except TimeoutError:
                    process.kill()


if __name__ == "__main__":
    main()
