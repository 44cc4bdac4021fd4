"""Azurite (the Azure Storage emulator, from the npm registry) on 127.0.0.1 for the tests.

`azurite` (module fixture): installs Azurite from tests/azurite/package.json (a pinned version and
its lock file) into tests/azurite/node_modules (git-ignored) with `npm ci` when it is missing, then
starts `azurite-blob --blobHost 127.0.0.1 --blobPort 0 --inMemoryPersistence` with a test account
(AZURITE_ACCOUNTS) and yields (blob endpoint, account, key). The tests skip, saying why, only when
node or npm is not installed.
"""

from __future__ import annotations

import base64
import os
import queue
import re
import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path

import pytest

AZURITE_DIR = Path(__file__).resolve().parent / "azurite"
BIN = AZURITE_DIR / "node_modules" / ".bin" / "azurite-blob"
ACCOUNT = "costdeckdev"
KEY = base64.b64encode(b"costdeck-azurite-test-key-not-a-secret-0123456789").decode()


def ensure_installed() -> None:
    if shutil.which("node") is None or shutil.which("npm") is None:
        pytest.skip("node and npm are needed to run Azurite (the Azure Storage emulator): install Node.js 18+")
    if BIN.exists():
        return
    cmd = "ci" if (AZURITE_DIR / "package-lock.json").exists() else "install"
    proc = subprocess.run(["npm", cmd, "--prefix", str(AZURITE_DIR), "--no-audit", "--no-fund", "--loglevel=error"],
                          capture_output=True, text=True, timeout=900)
    if proc.returncode != 0 or not BIN.exists():
        raise RuntimeError(f"npm {cmd} of Azurite failed: {proc.stderr.strip()[-500:]}")


@pytest.fixture(scope="module")
def azurite(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[str, str, str]]:
    ensure_installed()
    work = tmp_path_factory.mktemp("azurite")
    env = {**os.environ, "AZURITE_ACCOUNTS": f"{ACCOUNT}:{KEY}"}
    proc = subprocess.Popen([str(BIN), "--blobHost", "127.0.0.1", "--blobPort", "0", "--inMemoryPersistence",
                             "--skipApiVersionCheck"],
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env, cwd=work)
    lines: queue.Queue[str] = queue.Queue()

    def pump() -> None:
        assert proc.stdout is not None
        for line in proc.stdout:
            lines.put(line)

    threading.Thread(target=pump, daemon=True).start()
    url = None
    seen = []
    try:
        while url is None:
            try:
                line = lines.get(timeout=60)
            except queue.Empty:
                raise RuntimeError("Azurite did not start in 60 s: " + " | ".join(seen[-5:])) from None
            seen.append(line.strip())
            m = re.search(r"listens on (http://127\.0\.0\.1:\d+)", line)
            if m:
                url = m.group(1)
        yield url, ACCOUNT, KEY
    finally:
        proc.kill()  # in-memory: nothing to flush (a graceful stop waits ~10 s for idle connections)
        proc.wait(timeout=10)
