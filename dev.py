#!/usr/bin/env python3
"""Developer entry point: a fresh clone needs only python3 (and Node.js for the npm test peer).

    python3 dev.py serve [args...]        run `chargedeck serve` from the project's .venv
    python3 dev.py test [pytest args...]  bootstrap, then ruff, ruff format, mypy and pytest
    python3 dev.py lint                   bootstrap, then ruff, ruff format and mypy only
    python3 dev.py bench [args...]        run bench/run.py with the .venv python

Bootstrap creates `.venv` on first use and runs `pip install -e '.[test]'` again only when
pyproject.toml changed since the last install (a hash stamp lives in .venv). `test` also runs
`npm ci` in tests/peers when its lock file changed, starts the local PostgreSQL when
127.0.0.1:5432 does not answer and Mosquitto (MQTT) when 127.0.0.1:1883 does not. Nothing
here prompts: CI runs it with no standard input. Standard library only, so that it runs
before anything is installed.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import NoReturn

MIN_PYTHON = (3, 11)  # pyproject.toml requires-python
ROOT = Path(__file__).resolve().parent
VENV = ROOT / ".venv"
VENV_BIN = VENV / ("Scripts" if os.name == "nt" else "bin")
VENV_PYTHON = VENV_BIN / ("python.exe" if os.name == "nt" else "python")
VENV_STAMP = VENV / ".chargedeck-install-stamp"
EXTRAS = "test"
# Files whose change means the venv must be reinstalled. A constraints file joins this list
# the day the project adds one.
INSTALL_INPUTS = (ROOT / "pyproject.toml",)

PEERS = ROOT / "tests" / "peers"
PEERS_STAMP = PEERS / "node_modules" / ".chargedeck-install-stamp"
NPM_INPUTS = (PEERS / "package.json", PEERS / "package-lock.json")
MIN_NODE_MAJOR = 18  # ocpp-rpc 2.2.1 needs Node >= 17.3 (AbortSignal); 18 is the oldest LTS

# The machine's PostgreSQL (see the project's machine notes): trust auth on 127.0.0.1:5432.
PG_HOST = "127.0.0.1"
PG_PORT = 5432
PG_START_TIMEOUT_S = 60.0  # a cold cluster start with crash recovery takes a few seconds

# The machine's Mosquitto: tests/server/test_mqtt_input.py publishes readings to it.
MQTT_HOST = "127.0.0.1"
MQTT_PORT = 1883  # the IANA port of unencrypted MQTT
MQTT_START_TIMEOUT_S = 10.0  # mosquitto binds its port well within a second
NATS_HOST = "127.0.0.1"
NATS_PORT = 4222  # NATS' registered client port
MOSQUITTO_PLACES = ("/usr/sbin/mosquitto", "/usr/local/sbin/mosquitto")  # sbin: not on every PATH

BENCH_SCRIPT = ROOT / "bench" / "run.py"


def say(message: str) -> None:
    """Print one progress line, flushed so it interleaves correctly with child output."""
    print(f"dev.py: {message}", flush=True)


def fail(message: str, code: int = 1) -> NoReturn:
    print(f"dev.py: error: {message}", file=sys.stderr, flush=True)
    raise SystemExit(code)


def venv_env() -> dict[str, str]:
    """The environment for children: the venv first on PATH, never an interactive prompt."""
    env = dict(os.environ)
    env["VIRTUAL_ENV"] = str(VENV)
    env["PATH"] = os.pathsep.join([str(VENV_BIN), env.get("PATH", "")])
    env.pop("PYTHONHOME", None)
    env["PIP_NO_INPUT"] = "1"
    env["PIP_DISABLE_PIP_VERSION_CHECK"] = "1"
    env["npm_config_update_notifier"] = "false"
    return env


def run(argv: Sequence[str | Path], *, cwd: Path = ROOT) -> int:
    """Run a child with stdin closed (CI has none; nothing may wait for an answer)."""
    completed = subprocess.run(
        [str(arg) for arg in argv], cwd=cwd, env=venv_env(), stdin=subprocess.DEVNULL, check=False
    )
    return completed.returncode


def digest(paths: Sequence[Path], *extra: str) -> str:
    """A hash of the files (absent ones count as empty) and extra strings."""
    sha = hashlib.sha256()
    for path in paths:
        sha.update(path.name.encode())
        sha.update(path.read_bytes() if path.is_file() else b"<absent>")
    for text in extra:
        sha.update(text.encode())
    return sha.hexdigest()


def stamp_matches(stamp: Path, expected: str) -> bool:
    try:
        return stamp.read_text(encoding="utf-8").strip() == expected
    except OSError:
        return False


@contextlib.contextmanager
def bootstrap_lock() -> Iterator[None]:
    """Serialise bootstraps of this checkout: two engineers' runs must not pip install at once."""
    tag = hashlib.sha256(str(ROOT).encode()).hexdigest()[:12]
    lock_path = Path(tempfile.gettempdir()) / f"chargedeck-dev-{tag}.lock"
    with lock_path.open("w") as lock_file:
        try:
            import fcntl
        except ImportError:  # Windows: no concurrent runs to guard against in practice
            yield
            return
        try:
            fcntl.flock(lock_file, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            say("another dev.py run is bootstrapping this checkout; waiting for it")
            fcntl.flock(lock_file, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock_file, fcntl.LOCK_UN)


def venv_python_works() -> bool:
    if not VENV_PYTHON.exists():
        return False
    probe = subprocess.run(
        [str(VENV_PYTHON), "-c", "import sys; sys.exit(sys.version_info < (3, 11))"],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        check=False,
    )
    return probe.returncode == 0


def ensure_venv() -> None:
    """Create .venv if needed and (re)install the project when its install inputs changed."""
    if not venv_python_works():
        if VENV.exists():
            say(f"{VENV.name} is broken or too old for Python >= 3.11; recreating it")
            shutil.rmtree(VENV)
        say(f"creating {VENV.name} with {sys.executable} (Python {sys.version.split()[0]})")
        if run([sys.executable, "-m", "venv", VENV]) != 0:
            fail(f"`{sys.executable} -m venv {VENV}` failed (Debian: apt-get install python3-venv)")
    pyvenv_cfg = VENV / "pyvenv.cfg"
    pyvenv_text = pyvenv_cfg.read_text(encoding="utf-8") if pyvenv_cfg.is_file() else ""
    expected = digest(INSTALL_INPUTS, EXTRAS, pyvenv_text)
    if stamp_matches(VENV_STAMP, expected):
        return
    reason = "first install" if not VENV_STAMP.exists() else "pyproject.toml changed"
    say(f"installing chargedeck[{EXTRAS}] into {VENV.name} ({reason}); this takes a minute")
    started = time.monotonic()
    VENV_STAMP.unlink(missing_ok=True)  # a failed install must not look current
    pip: list[str | Path] = [VENV_PYTHON, "-m", "pip", "install", "--quiet"]
    if run([*pip, "--progress-bar", "off", "--editable", f".[{EXTRAS}]"]) != 0:
        fail(f"`pip install -e '.[{EXTRAS}]'` failed (see pip's output above)")
    VENV_STAMP.write_text(expected + "\n", encoding="utf-8")
    say(f"installed in {time.monotonic() - started:.0f} s")


def node_major(node: str) -> int:
    version = subprocess.run(
        [node, "--version"], capture_output=True, text=True, stdin=subprocess.DEVNULL, check=False
    ).stdout.strip()
    try:
        return int(version.lstrip("v").split(".")[0])
    except ValueError:
        return 0


def install_with_apt(missing: str, *packages: str) -> bool:
    """On a Debian CI machine running as root, install the packages; else do nothing."""
    if os.environ.get("CI") != "true" or not hasattr(os, "geteuid") or os.geteuid() != 0:
        return False
    if shutil.which("apt-get") is None:
        return False
    say(f"{missing} not found; CI=true and root: apt-get install -y {' '.join(packages)}")
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    for argv in (["apt-get", "update", "-q"], ["apt-get", "install", "-y", "-q", *packages]):
        if subprocess.run(argv, env=env, stdin=subprocess.DEVNULL, check=False).returncode != 0:
            return False
    return True


def install_node_with_apt() -> bool:
    """On a Debian CI machine running as root, install Node.js and npm; else do nothing."""
    return install_with_apt("node/npm", "nodejs", "npm")


def ensure_npm_peers() -> None:
    """Install tests/peers/node_modules from the committed lock file when it changed."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if (node is None or npm is None) and install_node_with_apt():
        node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        fail(
            "the npm test peer (tests/peers) needs Node.js >= 18 and npm on PATH, and "
            f"{'node' if node is None else 'npm'} is missing. Install them from the machine's "
            "packages (Debian: `sudo apt-get install nodejs npm`); as root with CI=true, "
            "dev.py does that itself."
        )
    if node_major(node) < MIN_NODE_MAJOR:
        fail(f"{node} is older than Node.js {MIN_NODE_MAJOR}; ocpp-rpc needs a newer one")
    expected = digest(NPM_INPUTS, str(node_major(node)))
    if stamp_matches(PEERS_STAMP, expected):
        return
    reason = "first install" if not PEERS_STAMP.parent.exists() else "package-lock.json changed"
    say(f"installing the npm test peers in {PEERS.relative_to(ROOT)} ({reason})")
    if run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], cwd=PEERS) != 0:
        fail("`npm ci` in tests/peers failed (see npm's output above)")
    PEERS_STAMP.write_text(expected + "\n", encoding="utf-8")


def postgres_ready() -> bool:
    """True when PostgreSQL accepts connections on PG_HOST:PG_PORT."""
    pg_isready = shutil.which("pg_isready")
    if pg_isready is not None:
        argv = [pg_isready, "-q", "-h", PG_HOST, "-p", str(PG_PORT), "-t", "2"]
        return subprocess.run(argv, stdin=subprocess.DEVNULL, check=False).returncode == 0
    try:
        with socket.create_connection((PG_HOST, PG_PORT), timeout=2):
            return True
    except OSError:
        return False


def ensure_postgres() -> None:
    """Start the machine's PostgreSQL cluster if it is down; fail loudly if it cannot be had.

    Tests that need PostgreSQL must fail rather than skip, so a silent skip cannot hide a broken
    store on PostgreSQL.
    """
    if postgres_ready():
        return
    say(f"PostgreSQL is not answering on {PG_HOST}:{PG_PORT}; starting it")
    pg_ctlcluster = shutil.which("pg_ctlcluster")
    config_dir = Path("/etc/postgresql")
    versions = sorted(p.name for p in config_dir.iterdir()) if config_dir.is_dir() else []
    if pg_ctlcluster is None or not versions:
        fail(
            f"PostgreSQL is not running on {PG_HOST}:{PG_PORT} and no Debian cluster was found "
            "to start (pg_ctlcluster, /etc/postgresql/<version>/main). Start one there with "
            "trust auth; the tests need it."
        )
    for version in versions:
        argv = [pg_ctlcluster, "--skip-systemctl-redirect", version, "main", "start"]
        subprocess.run(argv, stdin=subprocess.DEVNULL, check=False)
    deadline = time.monotonic() + PG_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if postgres_ready():
            say("PostgreSQL is up")
            return
        time.sleep(0.5)
    fail(
        f"PostgreSQL did not accept connections on {PG_HOST}:{PG_PORT} within "
        f"{PG_START_TIMEOUT_S:.0f} s after `pg_ctlcluster ... main start`; see "
        f"/var/log/postgresql/. The tests need it."
    )


def mosquitto_ready() -> bool:
    """True when something accepts connections on MQTT_HOST:MQTT_PORT."""
    try:
        with socket.create_connection((MQTT_HOST, MQTT_PORT), timeout=2):
            return True
    except OSError:
        return False


def find_mosquitto() -> str | None:
    found = shutil.which("mosquitto")
    if found is not None:
        return found
    return next((place for place in MOSQUITTO_PLACES if os.access(place, os.X_OK)), None)


def ensure_mosquitto() -> None:
    """Start an MQTT broker on MQTT_HOST:MQTT_PORT if none answers; fail loudly if none can be
    had (the MQTT input tests must fail rather than skip, like the PostgreSQL ones). The tests
    also start brokers of their own and publish with mosquitto_pub, so both must be installed."""
    mosquitto = find_mosquitto()
    if (mosquitto is None or shutil.which("mosquitto_pub") is None) and install_with_apt(
        "mosquitto or mosquitto_pub", "mosquitto", "mosquitto-clients"
    ):
        mosquitto = find_mosquitto()
    if shutil.which("mosquitto_pub") is None:
        fail(
            "mosquitto_pub is not installed; the MQTT input tests publish with it. Install it "
            "from the machine's packages (Debian: `sudo apt-get install mosquitto-clients`)."
        )
    if mosquitto is None:
        fail(
            f"mosquitto is not installed; the MQTT input tests need it (on {MQTT_HOST}:"
            f"{MQTT_PORT} and on ports of their own). Install it from the machine's packages "
            "(Debian: `sudo apt-get install mosquitto`)."
        )
    if mosquitto_ready():
        return
    say(f"no MQTT broker answers on {MQTT_HOST}:{MQTT_PORT}; starting {mosquitto} -d")
    # Without a configuration file Mosquitto 2 listens on the loopback interface only.
    argv = [mosquitto, "-d", "-p", str(MQTT_PORT)]
    subprocess.run(argv, stdin=subprocess.DEVNULL, check=False)
    deadline = time.monotonic() + MQTT_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if mosquitto_ready():
            say("Mosquitto is up")
            return
        time.sleep(0.2)
    fail(
        f"Mosquitto did not accept connections on {MQTT_HOST}:{MQTT_PORT} within "
        f"{MQTT_START_TIMEOUT_S:.0f} s after `{' '.join(argv)}` (is the port taken, or is a "
        "system service holding it?). The MQTT input tests need it."
    )


def ensure_nats_and_haproxy() -> None:
    """The cluster tests (tests/cluster) need NATS with JetStream on NATS_HOST:NATS_PORT and the
    haproxy binary: start NATS if none answers, install what is missing on CI; fail loudly
    otherwise (like PostgreSQL: a skipped cluster test proves nothing)."""
    if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
        install_with_apt("haproxy", "haproxy")
        if shutil.which("haproxy") is None and not Path("/usr/sbin/haproxy").exists():
            fail(
                "haproxy is not installed; the cluster tests put it in front of three nodes "
                "(Debian: `sudo apt-get install haproxy`)."
            )
    nats_server = shutil.which("nats-server") or "/usr/sbin/nats-server"
    if not Path(nats_server).exists():
        install_with_apt("nats-server", "nats-server")
    if _answers(NATS_HOST, NATS_PORT):
        return
    if not Path(nats_server).exists():
        fail(
            f"no NATS answers on {NATS_HOST}:{NATS_PORT} and nats-server is not installed; the "
            "cluster tests need it (Debian: `sudo apt-get install nats-server`)."
        )
    say(f"no NATS answers on {NATS_HOST}:{NATS_PORT}; starting {nats_server} with JetStream")
    store = Path(tempfile.gettempdir()) / "chargedeck-nats"
    argv = [nats_server, "-a", NATS_HOST, "-p", str(NATS_PORT), "-js", "-sd", str(store)]
    subprocess.Popen(
        argv,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,  # outlives this run, as the PostgreSQL and Mosquitto it starts
    )
    deadline = time.monotonic() + MQTT_START_TIMEOUT_S
    while time.monotonic() < deadline:
        if _answers(NATS_HOST, NATS_PORT):
            say("NATS is up")
            return
        time.sleep(0.2)
    fail(f"NATS did not accept connections on {NATS_HOST}:{NATS_PORT} after `{' '.join(argv)}`")


def _answers(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=2):
            return True
    except OSError:
        return False


def static_checks() -> list[tuple[str, list[str | Path]]]:
    py = VENV_PYTHON
    return [
        ("ruff check", [py, "-m", "ruff", "check"]),
        ("ruff format --check", [py, "-m", "ruff", "format", "--check"]),
        ("mypy --strict", [py, "-m", "mypy", "--strict"]),  # files: [tool.mypy] in pyproject
    ]


def run_steps(steps: Sequence[tuple[str, Sequence[str | Path]]]) -> int:
    """Run every step even after a failure (all findings in one CI run); one summary line."""
    failed: list[str] = []
    first_code = 0
    for name, argv in steps:
        say(f"--- {name}")
        started = time.monotonic()
        code = run(argv)
        elapsed = time.monotonic() - started
        if code == 0:
            say(f"{name}: ok ({elapsed:.1f} s)")
            continue
        why = "no tests collected" if name == "pytest" and code == 5 else f"exit {code}"
        say(f"{name}: FAILED, {why} ({elapsed:.1f} s)")
        failed.append(f"{name} ({why})")
        first_code = first_code or code
    names = ", ".join(name for name, _ in steps)
    if failed:
        print(f"dev.py: FAILED: {'; '.join(failed)}", file=sys.stderr, flush=True)
        return first_code
    say(f"all passed: {names}")
    return 0


CHROMIUM = Path("/usr/bin/chromium")


def ensure_chromium() -> None:
    """Debian's chromium for the web UI tests (tests/web): Playwright drives it by path, since
    Playwright's own browser download is unreachable here; fail loudly rather than skip."""
    if not CHROMIUM.exists():
        install_with_apt("chromium", "chromium")
    if not CHROMIUM.exists():
        fail(
            f"{CHROMIUM} is not installed; the web UI tests drive it with Playwright. Install "
            "it from the machine's packages (Debian: `sudo apt-get install chromium`)."
        )


def command_test(args: Sequence[str]) -> int:
    with bootstrap_lock():
        ensure_venv()
        ensure_npm_peers()
        ensure_postgres()
        ensure_mosquitto()
        ensure_chromium()
        ensure_nats_and_haproxy()
    pytest_args = list(args) if args else ["-q", "--durations=20"]  # the slowest, in every CI log
    pytest: list[str | Path] = [VENV_PYTHON, "-m", "pytest", "-p", "no:cacheprovider", *pytest_args]
    return run_steps([*static_checks(), ("pytest", pytest)])


def command_lint(args: Sequence[str]) -> int:
    if args:
        fail("`dev.py lint` takes no arguments")
    with bootstrap_lock():
        ensure_venv()
    return run_steps(static_checks())


def exec_in_venv(argv: Sequence[str | Path]) -> NoReturn:
    """Replace this process, so signals (Ctrl-C, SIGTERM) reach the program directly."""
    args = [str(arg) for arg in argv]
    sys.stdout.flush()
    os.execve(args[0], args, venv_env())  # noqa: S606 - a fixed program from our own .venv


def command_serve(args: Sequence[str]) -> int:
    with bootstrap_lock():
        ensure_venv()
    chargedeck = VENV_BIN / ("chargedeck.exe" if os.name == "nt" else "chargedeck")
    if not chargedeck.exists():
        fail(f"{chargedeck} is missing after the install; is [project.scripts] intact?")
    exec_in_venv([chargedeck, "serve", *args])


def command_bench(args: Sequence[str]) -> int:
    with bootstrap_lock():
        ensure_venv()
    if not BENCH_SCRIPT.is_file():
        fail(f"{BENCH_SCRIPT.relative_to(ROOT)} does not exist yet")
    exec_in_venv([VENV_PYTHON, BENCH_SCRIPT, *args])


COMMANDS = {
    "serve": command_serve,
    "test": command_test,
    "lint": command_lint,
    "bench": command_bench,
}


def main(argv: Sequence[str]) -> int:
    if sys.version_info < MIN_PYTHON:
        fail(f"Python {'.'.join(map(str, MIN_PYTHON))} or newer is needed, this is {sys.version}")
    if not argv or argv[0] in {"-h", "--help", "help"}:
        print(__doc__)
        return 0 if argv else 2
    command = COMMANDS.get(argv[0])
    if command is None:
        fail(f"unknown command {argv[0]!r}; expected one of: {', '.join(COMMANDS)}", code=2)
    try:
        return command(argv[1:])
    except KeyboardInterrupt:
        print("dev.py: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
