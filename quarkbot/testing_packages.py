"""System programs that tests need (Debian's chromium, prometheus): installed with apt-get, as
root, when missing, because CI and a fresh machine have neither until something installs them."""

from __future__ import annotations

import fcntl
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest


def debian_program(program: str, package: str, *candidates: str) -> str:
    """The path of ``program`` (or the first existing of ``candidates``), installing Debian's
    ``package`` first when it is missing; the test fails when that cannot be done."""

    def found() -> str | None:
        return next((c for c in candidates if os.path.exists(c)), None) or shutil.which(program)

    path = found()
    if path is None and os.geteuid() == 0:
        # test processes running side by side (pytest-xdist) install one at a time: apt-get
        # refuses to run while another holds dpkg's lock
        with (Path(tempfile.gettempdir()) / "quarkbot-apt-get.lock").open("w") as lock:
            fcntl.flock(lock, fcntl.LOCK_EX)
            path = found()
            if path is None:
                env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
                for command in (["apt-get", "update"], ["apt-get", "install", "-y", package]):
                    subprocess.run(command, env=env, check=True, capture_output=True, timeout=900)  # noqa: S603
                path = found()
    if path is None:
        pytest.fail(f"{program} is missing and cannot be installed: apt-get install {package}")
    return path
