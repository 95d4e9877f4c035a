"""`evmon app`: the real command starts the app on 127.0.0.1 and stops it with itself."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import pytest
from click.testing import CliRunner

from evmon.app.launch import app_command, secrets_files
from evmon.cli import cli
from evmon.processes import free_port, wait_ready


def test_app_command_is_local_headless_untracked_and_guarded() -> None:
    command = app_command("127.0.0.1", 8501)
    assert command[1:4] == ["-m", "streamlit", "run"] and command[4].endswith("streamlit_app/serve.py")
    assert {"--server.address=127.0.0.1", "--server.headless=true", "--browser.gatherUsageStats=false"} <= set(command)
    # a config.toml cannot turn off Streamlit's XSRF protection or its CORS check
    assert {"--server.enableXsrfProtection=true", "--server.enableCORS=true"} <= set(command)
    help_text = CliRunner().invoke(cli, ["app", "--help"]).output
    assert "--ui-url" in help_text and "127.0.0.1" in help_text


def test_allow_writes_is_an_option_of_evmon_app() -> None:
    result = CliRunner().invoke(cli, ["app", "--help"])
    assert (result.exit_code, result.stderr) == (0, "")
    words = " ".join(result.stdout.split())  # the help is wrapped to the terminal's width
    assert (
        "--allow-writes Allow re-runs and saves from the app on a --host other than 127.0.0.1 "
        "(app.writes: false still wins)." in words
    )
    wrong = CliRunner().invoke(cli, ["app", "--allow-writes=yes"])
    assert wrong.exit_code == 2 and "Option '--allow-writes' does not take a value." in wrong.stderr


def test_the_secrets_file_beside_projects_yaml_is_read_last(tmp_path: Path) -> None:
    files = secrets_files(tmp_path / "projects.yaml")
    assert files[-1] == tmp_path / ".streamlit" / "secrets.toml"  # later files win in Streamlit
    command = app_command("127.0.0.1", 8501, files)
    assert command[-len(files) :] == [f"--secrets.files={f}" for f in files]


def test_evmon_app_serves_and_stops_on_sigterm(demo_dir: Path, tmp_path: Path) -> None:
    port = free_port()
    env = {**os.environ, "EVMON_WORKSPACE": str(tmp_path / "workspace")}
    env.pop("DO_NOT_TRACK", None)  # the command sets it for the app itself
    evmon = Path(sys.executable).with_name("evmon")
    process = subprocess.Popen(
        [str(evmon), "app", "-c", str(demo_dir / "projects.yaml"), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        wait_ready(url + "/_stcore/health", timeout=120)
        with urllib.request.urlopen(url, timeout=10) as page:
            assert page.status == 200
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
        output = process.stdout.read().decode() if process.stdout else ""
        assert f"evmon app: {url}" in output
        assert (
            "evmon app: writes allowed: the app listens on 127.0.0.1 (loopback), for browsers on this machine\n"
            in output
        )
        assert (
            "evmon app: answers requests for localhost, 127.0.0.1, ::1 "
            "(others get 403: add names to app.allowed_hosts in projects.yaml)\n" in output
        )
        with pytest.raises((urllib.error.URLError, ConnectionError)):
            urllib.request.urlopen(url + "/_stcore/health", timeout=5)
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
