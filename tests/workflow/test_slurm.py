"""The workflow on a real SLURM: a one-node cluster started by the tests and torn down after.

Runs where the machine allows it: as root on Debian, with Debian's SLURM packages
installed or installable with apt. Elsewhere the tests are skipped with the reason; so
are they when apt cannot install the packages (no network). Once SLURM is installed,
any failure is a real failure.

The session fixture installs ``munge slurmctld slurmd slurm-client`` and, for the
accounting that real clusters have, ``slurmdbd mariadb-server``. It writes a one-node
``slurm.conf`` for this host (the node line from ``slurmd -C``; no cgroups:
``proctrack/linuxproc``, ``task/none``; ``select/cons_tres`` with ``CR_Core_Memory``) and
starts MariaDB, slurmdbd, slurmctld and slurmd directly (no systemd), with their data,
state, ports, logs and pid files in a temporary folder; munged serves the default socket
with a key of its own (slurmd asks slurmctld for its configuration, as on configless
clusters, before it knows any other socket). It waits for the node to be idle and
afterwards cancels what is left and stops every daemon it started by its PID. Every
wait has a deadline, so a scheduler fault fails the tests instead of hanging them.

The workflow runs twice, side by side, with ``--profile`` of a profile derived from
``profiles/slurm``:

* split movies (``frames_per_job``), an account, and the plugin's default status command
  (``sacct``, through slurmdbd): what a cluster with accounting does;
* one job per movie, no account, ``slurm-status-command: squeue`` (``MinJobAge`` 300 s):
  what a cluster without accounting needs, where sacct never sees a job finish.

Both must give the HDF5 numbers of a local run with one job per movie.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from types import SimpleNamespace

import h5py
import numpy as np
import pytest
import yaml

from smlmlp.infofile import TEMPORAL_AVERAGE
from smlmlp.sums_io import load_sums

pytestmark = [pytest.mark.slurm, pytest.mark.workflow]

REPO = Path(__file__).resolve().parents[2]
PACKAGES = ("munge", "slurmctld", "slurmd", "slurm-client", "slurmdbd", "mariadb-server")
COMMANDS = (
    "munged",
    "mungekey",
    "munge",
    "slurmctld",
    "slurmd",
    "slurmdbd",
    "sbatch",
    "squeue",
    "sinfo",
    "sacct",
    "sacctmgr",
    "scontrol",
    "scancel",
    "mariadbd",
    "mariadb-install-db",
    "mariadb",
)
SYSTEM_PATH = "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin"
MUNGE_SOCKET = Path("/run/munge/munge.socket.2")
SLURMD_CONF_CACHE = Path("/run/slurm/conf")
CLUSTER = "smlmlptest"
PARTITION = "smlmlp"
ACCOUNT = "smlmlp"
#: One test cluster per machine at a time (test sessions wait for each other).
LOCK_FILE = Path("/tmp/smlmlp-slurm-test.lock")
LOCK_TIMEOUT_S = 900
APT_TIMEOUT_S = 300
#: apt-get messages that say the registry cannot be reached (refreshing lists won't help)
NETWORK_ERRORS = (
    "Temporary failure resolving",
    "Could not resolve",
    "Could not connect",
    "Unable to connect",
    "Connection timed out",
    "Connection failed",
    "Network is unreachable",
)
COMMAND_TIMEOUT_S = 30
START_TIMEOUT_S = 90
RUN_TIMEOUT_S = 420
STOP_TIMEOUT_S = 20

#: The experiments: 400 frames per channel; split runs: ranges of 200 frames (4 chunks).
N_FRAMES = 400
CHUNK_FRAMES = 50
FRAMES_PER_JOB = 200
CHANNELS = {"slurm_a": ("green", "red"), "slurm_b": ("cam_left", "cam_right")}
N_CHANNELS = sum(len(channels) for channels in CHANNELS.values())


# =============================================================================== helpers
def _which(command: str) -> str | None:
    return shutil.which(command, path=f"{os.environ.get('PATH', '')}:{SYSTEM_PATH}")


def _missing_commands() -> list[str]:
    return [command for command in COMMANDS if _which(command) is None]


def _tail(text: str, lines: int = 15) -> str:
    return "\n".join(text.strip().splitlines()[-lines:])


def _why_not_here() -> str | None:
    """Why SLURM cannot be set up on this machine (None: it can)."""
    if not sys.platform.startswith("linux"):
        return "needs Linux"
    if os.geteuid() != 0:
        return "needs root: installs SLURM and starts its daemons"
    if not Path("/etc/debian_version").exists():
        return "needs Debian: installs SLURM with apt"
    return None


@contextlib.contextmanager
def _services_not_started() -> Iterator[None]:
    """Keep package scripts from starting daemons (Debian's policy-rc.d), if not already."""
    policy = Path("/usr/sbin/policy-rc.d")
    if policy.exists():
        yield
        return
    policy.write_text("#!/bin/sh\n# no service starts while the SLURM test installs\nexit 101\n")
    policy.chmod(0o755)
    try:
        yield
    finally:
        policy.unlink(missing_ok=True)


def _apt_get(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive", "PATH": SYSTEM_PATH}
    options = ("DPkg::Lock::Timeout=120", "Acquire::http::Timeout=30", "Acquire::Retries=1")
    command = ["apt-get", "-q", "-y", *(f"-o{option}" for option in options), *args]
    return subprocess.run(
        command, capture_output=True, text=True, timeout=APT_TIMEOUT_S, env=env, check=False
    )


def _install_slurm_or_skip() -> None:
    """Install the packages when a command is missing; skip when apt cannot."""
    if not _missing_commands():
        return
    if _which("apt-get") is None:
        pytest.skip("SLURM is not installed and there is no apt-get")
    install = ("install", "--no-install-recommends", *PACKAGES)
    try:
        with _services_not_started():
            result = _apt_get(*install)
            unreachable = any(e in result.stdout + result.stderr for e in NETWORK_ERRORS)
            if result.returncode != 0 and not unreachable:  # stale package lists?
                _apt_get("update")
                result = _apt_get(*install)
    except subprocess.TimeoutExpired:
        pytest.skip(f"apt-get did not finish in {APT_TIMEOUT_S} s (package registry?)")
    missing = _missing_commands()
    if result.returncode != 0 or missing:
        pytest.skip(
            f"cannot install {' '.join(PACKAGES)} with apt-get (missing: {', '.join(missing)}):"
            f"\n{_tail(result.stdout + result.stderr)}"
        )


@contextlib.contextmanager
def _machine_lock() -> Iterator[None]:
    """Wait (bounded) until no other test session runs its cluster on this machine."""
    with open(LOCK_FILE, "a") as handle:
        deadline = time.monotonic() + LOCK_TIMEOUT_S
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() > deadline:
                    pytest.fail(
                        f"another SLURM test session held {LOCK_FILE} for {LOCK_TIMEOUT_S} s"
                    )
                time.sleep(1)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _free_ports(count: int) -> list[int]:
    sockets = []
    try:
        for _ in range(count):
            sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
            sock.bind(("127.0.0.1", 0))
            sockets.append(sock)
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


# ============================================================================ the cluster
class OneNodeCluster:
    """MariaDB, slurmdbd, slurmctld and slurmd for this host, their files under ``root``."""

    #: Stopped in this order.
    DAEMONS = ("slurmd", "slurmctld", "slurmdbd", "mariadbd", "munged")

    def __init__(self, root: Path) -> None:
        self.root = root
        self.host = socket.gethostname().split(".")[0]  # hostname -s
        self.conf = root / "slurm.conf"
        self.logs = root / "log"
        self.processes: dict[str, subprocess.Popen[bytes]] = {}
        self.created_dirs: list[Path] = []
        self.started_s = 0.0
        self.munge_note = "own munged"
        self.ports = dict(
            zip(("slurmctld", "slurmd", "slurmdbd", "mariadb"), _free_ports(4), strict=True)
        )
        env = {
            key: value
            for key, value in os.environ.items()
            if not key.startswith(("SLURM_", "SBATCH_", "SQUEUE_", "SALLOC_", "SRUN_", "SACCT"))
        }
        env["SLURM_CONF"] = str(self.conf)
        env["PATH"] = f"{Path(sys.executable).parent}:{env.get('PATH', '')}:{SYSTEM_PATH}"
        self.env = env

    # ------------------------------------------------------------------ commands
    def run(self, *command: str, check: bool = True) -> subprocess.CompletedProcess[str]:
        """A SLURM, munge or MariaDB command against this cluster (bounded)."""
        result = subprocess.run(
            [_which(command[0]) or command[0], *command[1:]],
            capture_output=True,
            text=True,
            env=self.env,
            cwd=self.root,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(command)} failed ({result.returncode}):\n"
                f"{result.stdout}{result.stderr}\n{self.log_tails()}"
            )
        return result

    def _start(self, name: str, *command: str, env: dict[str, str] | None = None) -> None:
        log = open(self.logs / f"{name}.out", "wb")  # noqa: SIM115 (the daemon's output)
        try:
            self.processes[name] = subprocess.Popen(
                [_which(command[0]) or command[0], *command[1:]],
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                env=self.env if env is None else env,
                cwd=self.root,
                start_new_session=True,
            )
        finally:
            log.close()

    def log_tails(self) -> str:
        parts = []
        for path in sorted(self.logs.glob("*")):
            text = path.read_text(errors="replace") if path.is_file() else ""
            parts.append(f"--- {path.name}\n{_tail(text, 20)}")
        return "\n".join(parts)

    def _wait(self, what: str, ready: Callable[[], bool], timeout: float = START_TIMEOUT_S) -> None:
        deadline = time.monotonic() + timeout
        while not ready():
            dead = [name for name, p in self.processes.items() if p.poll() is not None]
            if dead:
                raise AssertionError(
                    f"waiting for {what}: {', '.join(dead)} exited\n{self.log_tails()}"
                )
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not after {timeout} s\n{self.log_tails()}")
            time.sleep(0.3)

    def _ok(self, *command: str) -> Callable[[], bool]:
        return lambda: self.run(*command, check=False).returncode == 0

    def _make_system_dir(self, folder: Path) -> None:
        if not folder.exists():
            folder.mkdir(mode=0o755, parents=True)
            self.created_dirs.append(folder)

    # ----------------------------------------------------------------------- start
    def start(self) -> None:
        started = time.monotonic()
        for folder in ("munge", "state", "spool", "log", "db"):
            (self.root / folder).mkdir(mode=0o700 if folder == "munge" else 0o755)
        self._start_munged()
        self._start_accounting()
        self.write_conf()
        self._start("slurmctld", "slurmctld", "-D", "-i", "-f", str(self.conf))
        self._wait("slurmctld", self._ok("scontrol", "ping"))
        # configless, as on many clusters: slurmd fetches slurm.conf from slurmctld and
        # caches it where the commands inside jobs find it (/run/slurm/conf): the
        # plugin's job step drops SLURM_CONF from the environment of its srun
        self._make_system_dir(SLURMD_CONF_CACHE.parent)
        self._start(
            "slurmd",
            "slurmd",
            "-D",
            f"--conf-server=127.0.0.1:{self.ports['slurmctld']}",
            env={k: v for k, v in self.env.items() if k != "SLURM_CONF"},
        )
        self._wait(f"node {self.host} idle", self._node_idle)
        self.run("sacctmgr", "--immediate", "add", "account", ACCOUNT, f"cluster={CLUSTER}")
        self.run("sacctmgr", "--immediate", "add", "user", "root", f"account={ACCOUNT}")
        self.started_s = time.monotonic() - started

    def _munge_works(self) -> bool:
        if not MUNGE_SOCKET.exists():
            return False
        encode = subprocess.run(
            [_which("munge") or "munge", "-n", "-S", str(MUNGE_SOCKET)],
            capture_output=True,
            timeout=COMMAND_TIMEOUT_S,
            check=False,
        )
        return encode.returncode == 0

    def _start_munged(self) -> None:
        if self._munge_works():  # a munged already serves this machine: use it
            self.munge_note = f"the munged of this machine ({MUNGE_SOCKET})"
            return
        key = self.root / "munge" / "munge.key"
        self.run("mungekey", "--create", f"--keyfile={key}")
        self._make_system_dir(MUNGE_SOCKET.parent)
        self._start(
            "munged",
            "munged",
            "--foreground",
            "--force",
            f"--key-file={key}",
            f"--socket={MUNGE_SOCKET}",
            f"--pid-file={self.root / 'munge' / 'munged.pid'}",
            f"--seed-file={self.root / 'munge' / 'munged.seed'}",
        )
        self._wait("munged", self._munge_works)

    def _start_accounting(self) -> None:
        """MariaDB (TCP on 127.0.0.1 only) and slurmdbd storing into it."""
        data = self.root / "db"
        self.run(
            "mariadb-install-db",
            "--no-defaults",
            f"--datadir={data}",
            "--user=root",
            "--auth-root-authentication-method=normal",
            "--skip-test-db",
        )
        self._start(
            "mariadbd",
            "mariadbd",
            "--no-defaults",
            f"--datadir={data}",
            "--user=root",
            "--bind-address=127.0.0.1",
            f"--port={self.ports['mariadb']}",
            f"--socket={self.root / 'mariadb.sock'}",
            f"--pid-file={self.root / 'mariadbd.pid'}",
            f"--log-error={self.logs / 'mariadb.log'}",
            "--skip-log-bin",
        )
        self._wait(
            "MariaDB",
            self._ok(
                "mariadb",
                "--no-defaults",
                "--host=127.0.0.1",
                f"--port={self.ports['mariadb']}",
                "--user=root",
                "--execute=select 1",
            ),
        )
        dbd = {
            "AuthType": "auth/munge",
            "DbdHost": self.host,
            "DbdAddr": "127.0.0.1",
            "DbdPort": self.ports["slurmdbd"],
            "SlurmUser": "root",
            "PidFile": self.root / "slurmdbd.pid",
            "LogFile": self.logs / "slurmdbd.log",
            "StorageType": "accounting_storage/mysql",
            "StorageHost": "127.0.0.1",
            "StoragePort": self.ports["mariadb"],
            "StorageUser": "root",
            "StorageLoc": "slurm_acct_db",
        }
        path = self.root / "slurmdbd.conf"  # read from the folder of SLURM_CONF
        path.write_text("".join(f"{key}={value}\n" for key, value in dbd.items()))
        path.chmod(0o600)
        self._start("slurmdbd", "slurmdbd", "-D")
        self._wait("slurmdbd", lambda: self._port_open(self.ports["slurmdbd"]))

    @staticmethod
    def _port_open(port: int) -> bool:
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
            sock.settimeout(1)
            return sock.connect_ex(("127.0.0.1", port)) == 0

    def _node_idle(self) -> bool:
        result = self.run("sinfo", "--noheader", "--Node", "--format=%T", check=False)
        return result.returncode == 0 and result.stdout.split() == ["idle"]

    def write_conf(self) -> None:
        node = self.run("slurmd", "-C").stdout.splitlines()[0].strip()
        assert node.startswith(f"NodeName={self.host} "), node
        root = self.root
        settings = {
            "ClusterName": CLUSTER,
            "SlurmctldHost": f"{self.host}(127.0.0.1)",
            "SlurmctldPort": self.ports["slurmctld"],
            "SlurmdPort": self.ports["slurmd"],
            "SlurmctldParameters": "enable_configless",
            "AuthType": "auth/munge",
            "CredType": "cred/munge",
            "SlurmUser": "root",
            "SlurmdUser": "root",
            "StateSaveLocation": root / "state",
            "SlurmdSpoolDir": root / "spool",
            "SlurmctldPidFile": root / "slurmctld.pid",
            "SlurmdPidFile": root / "slurmd.pid",
            "SlurmctldLogFile": self.logs / "slurmctld.log",
            "SlurmdLogFile": self.logs / "slurmd.log",
            "PlugStackConfig": root / "plugstack.conf",
            "ProctrackType": "proctrack/linuxproc",
            "TaskPlugin": "task/none",
            "JobAcctGatherType": "jobacct_gather/none",
            "AccountingStorageType": "accounting_storage/slurmdbd",
            "AccountingStorageHost": "127.0.0.1",
            "AccountingStoragePort": self.ports["slurmdbd"],
            "JobCompType": "jobcomp/none",
            "SelectType": "select/cons_tres",
            "SelectTypeParameters": "CR_Core_Memory",
            "SchedulerType": "sched/backfill",
            "MpiDefault": "none",
            "MailProg": "/bin/true",
            "ReturnToService": 2,
            "JobRequeue": 0,
            # squeue must still show a finished job when snakemake asks (>= 120 s)
            "MinJobAge": 300,
            "KillWait": 5,
            "SlurmctldTimeout": 30,
            "SlurmdTimeout": 60,
        }
        lines = [f"{key}={value}" for key, value in settings.items()]
        lines += [
            f"{node} NodeAddr=127.0.0.1 State=UNKNOWN",
            f"PartitionName={PARTITION} Nodes={self.host} Default=YES MaxTime=INFINITE State=UP",
        ]
        (root / "plugstack.conf").write_text("")
        self.conf.write_text("\n".join(lines) + "\n")

    # ------------------------------------------------------------------------ stop
    def stop(self) -> None:
        """Cancel what is left, stop every daemon by its PID, remove the pid files."""
        try:
            controller = self.processes.get("slurmctld")
            if controller is not None and controller.poll() is None:
                self.run("scancel", f"--partition={PARTITION}", check=False)
                deadline = time.monotonic() + STOP_TIMEOUT_S
                while time.monotonic() < deadline:
                    queue = self.run("squeue", "--noheader", "--format=%T", check=False)
                    if queue.returncode != 0 or not queue.stdout.split():
                        break
                    time.sleep(0.5)
        finally:
            for name in self.DAEMONS:
                process = self.processes.get(name)
                if process is None or process.poll() is not None:
                    continue
                process.terminate()
                try:
                    process.wait(timeout=STOP_TIMEOUT_S)
                except subprocess.TimeoutExpired:
                    process.kill()
                    process.wait(timeout=STOP_TIMEOUT_S)
            for pidfile in (*self.root.glob("*.pid"), *self.root.glob("munge/*.pid")):
                pidfile.unlink(missing_ok=True)
            # slurmd's link to its cached configuration, when it is this cluster's
            cache = SLURMD_CONF_CACHE
            if cache.is_symlink() and str(self.root) in os.readlink(cache):
                cache.unlink()
            for folder in reversed(self.created_dirs):
                with contextlib.suppress(OSError):
                    folder.rmdir()  # only when empty

    # --------------------------------------------------------------------- queries
    def job_states(self, jobids: list[str]) -> dict[str, tuple[str, str]]:
        """Job id -> (state, account) from the accounting database."""
        result = self.run(
            "sacct",
            "--noheader",
            "--allocations",
            "--parsable2",
            "--format=JobID,State,Account",
            f"--jobs={','.join(jobids)}",
        )
        rows = [line.split("|") for line in result.stdout.splitlines() if line.strip()]
        return {row[0]: (row[1], row[2]) for row in rows}


@pytest.fixture(scope="session")
def slurm(tmp_path_factory: pytest.TempPathFactory) -> Iterator[OneNodeCluster]:
    """A running one-node SLURM cluster with accounting (skips where it cannot be set up)."""
    reason = _why_not_here()
    if reason:
        pytest.skip(reason)
    started = time.monotonic()
    with _machine_lock():
        _install_slurm_or_skip()
        installed_s = time.monotonic() - started
        cluster = OneNodeCluster(tmp_path_factory.mktemp("slurm"))
        try:
            cluster.start()
            print(
                f"\nSLURM: packages ready in {installed_s:.1f} s, daemons up in "
                f"{cluster.started_s:.1f} s ({cluster.root}, {cluster.munge_note})"
            )
            yield cluster
        finally:
            cluster.stop()


# ======================================================================== the workflow
def _write_experiments(wf: SimpleNamespace, root: Path) -> None:
    green, _ = wf.simulate(N_FRAMES, sigx_nm=125.0, seed=31)
    red, _ = wf.simulate(N_FRAMES, sigx_nm=150.0, sigy_nm=140.0, seed=32)
    wf.write_tiff(root / "slurm_a" / "green.tif", green)
    wf.write_tiff(root / "slurm_a" / "red.tif", red)
    wf.write_yaml(root / "slurm_a" / "experiment.yaml", {"pixel_nm": 100, "exposure_ms": 20})
    left, _ = wf.simulate(N_FRAMES, sigx_nm=130.0, seed=33)
    right, _ = wf.simulate(N_FRAMES, sigx_nm=145.0, sigy_nm=135.0, seed=34)
    wf.write_tiff(root / "slurm_b" / "cam.tif", np.concatenate([left, right], axis=2))
    wf.write_yaml(root / "slurm_b" / "experiment.yaml", {"pixel_nm": 100, "split": "horizontal"})


def _test_profile(folder: Path, *, accounting: bool) -> Path:
    """``profiles/slurm`` with this cluster's partition (and account), polling quickly.

    ``accounting``: the account replaces the placeholder and job states come from the
    plugin's default, sacct; otherwise no account and squeue.
    """
    profile = yaml.safe_load((REPO / "profiles" / "slurm" / "config.v8+.yaml").read_text())
    resources = dict(profile["default-resources"])
    assert "EDIT-ME" in resources["slurm_partition"] + resources["slurm_account"]
    resources["slurm_partition"] = PARTITION
    if accounting:
        resources["slurm_account"] = ACCOUNT
    else:
        del resources["slurm_account"]
        profile["slurm-no-account"] = True
        profile["slurm-status-command"] = "squeue"
    profile["default-resources"] = resources
    profile.update(
        {
            "jobs": 8,
            "local-cores": 2,
            "latency-wait": 5,
            "slurm-init-seconds-before-status-checks": 1,
            "slurm-keep-successful-logs": True,
        }
    )
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "config.v8+.yaml").write_text(yaml.safe_dump(profile, sort_keys=False))
    return folder


@pytest.fixture(scope="module")
def experiments(wf: SimpleNamespace, tmp_path_factory: pytest.TempPathFactory) -> SimpleNamespace:
    """Small simulated experiments and their local run (one job per movie)."""
    root = tmp_path_factory.mktemp("slurm_workflow")
    _write_experiments(wf, root / "experiments")
    settings = {
        "experiments_dir": str(root / "experiments"),
        "chunk_frames": CHUNK_FRAMES,
        "crop_pix": 25,
        "pixel_nm": 100,
    }
    local = root / "local"
    local.mkdir()
    wf.write_config(local, frames_per_job=0, **settings)
    info_files = [f"results/{experiment}/psf_info.h5" for experiment in CHANNELS]
    result = wf.run_snakemake(local, "--cores", "2", *info_files, timeout=RUN_TIMEOUT_S)
    assert result.returncode == 0, _tail(result.stdout + result.stderr, 60)
    return SimpleNamespace(root=root, settings=settings, local=local)


def _slurm_run(
    wf: SimpleNamespace,
    slurm: OneNodeCluster,
    experiments: SimpleNamespace,
    name: str,
    *,
    frames_per_job: int,
    accounting: bool,
) -> SimpleNamespace:
    workdir = experiments.root / name
    workdir.mkdir()
    wf.write_config(workdir, frames_per_job=frames_per_job, **experiments.settings)
    profile = _test_profile(experiments.root / f"{name}_profile", accounting=accounting)
    started = time.monotonic()
    try:
        result = wf.run_snakemake(
            workdir, "--profile", str(profile), timeout=RUN_TIMEOUT_S, env=slurm.env
        )
    except subprocess.TimeoutExpired as error:
        output = error.stdout or ""
        if isinstance(output, bytes):
            output = output.decode(errors="replace")
        pytest.fail(
            f"the SLURM run did not finish in {RUN_TIMEOUT_S} s\n{_tail(output, 40)}\n"
            f"{slurm.log_tails()}"
        )
    output = result.stdout + result.stderr
    print(f"\n{name}: SLURM run in {time.monotonic() - started:.1f} s")
    return SimpleNamespace(
        name=name,
        workdir=workdir,
        profile=profile,
        result=result,
        output=output,
        slurm=slurm,
        local=experiments.local,
        submitted=sorted(set(re.findall(r"submitted with SLURM jobid (\d+)", output))),
        failure=f"snakemake output:\n{_tail(output, 80)}\n{slurm.log_tails()}",
    )


@pytest.fixture(scope="module")
def slurm_runs(
    wf: SimpleNamespace, slurm: OneNodeCluster, experiments: SimpleNamespace
) -> dict[str, SimpleNamespace]:
    """The two runs, side by side on the cluster (each mostly waits for its jobs'
    states): ``split``, movies split in frame ranges, an account, job states from
    sacct (slurmdbd); ``squeue``, one job per movie, no account, job states from
    squeue."""
    options = {
        "split": {"frames_per_job": FRAMES_PER_JOB, "accounting": True},
        "squeue": {"frames_per_job": 0, "accounting": False},
    }
    with ThreadPoolExecutor(max_workers=len(options)) as pool:
        runs = {
            name: pool.submit(_slurm_run, wf, slurm, experiments, name, **kwargs)
            for name, kwargs in options.items()
        }
        return {name: run.result() for name, run in runs.items()}


@pytest.fixture(scope="module")
def split_run(slurm_runs: dict[str, SimpleNamespace]) -> SimpleNamespace:
    return slurm_runs["split"]


@pytest.fixture(scope="module")
def squeue_run(slurm_runs: dict[str, SimpleNamespace]) -> SimpleNamespace:
    return slurm_runs["squeue"]


# ========================================================================== the tests
def test_split_movies_run_as_slurm_jobs(wf: SimpleNamespace, split_run: SimpleNamespace) -> None:
    """One SLURM job per frame range and one on-time job per experiment, completed under the
    account; merges ran locally."""
    assert split_run.result.returncode == 0, split_run.failure
    n_jobs = N_CHANNELS * (N_FRAMES // FRAMES_PER_JOB)
    counts = wf.job_counts(split_run.output)
    assert counts.get("autocorr") == n_jobs, counts
    assert counts.get("autocorr_merge") == N_CHANNELS, counts
    assert counts.get("on_time") == len(CHANNELS), counts  # one per experiment
    assert len(split_run.submitted) == n_jobs + len(CHANNELS), split_run.failure
    states = split_run.slurm.job_states(split_run.submitted)
    assert states == {jobid: ("COMPLETED", ACCOUNT) for jobid in split_run.submitted}
    _only_heavy_jobs_were_submitted(split_run, n_jobs)
    # the partial sums are temporary: gone once merged
    results = split_run.workdir / "results"
    partial = [p for p in results.rglob("*.parts/*") if "logs" not in p.relative_to(results).parts]
    assert not partial  # the ranges' sums are temporary (their logs stay)


def test_squeue_status_without_account(wf: SimpleNamespace, squeue_run: SimpleNamespace) -> None:
    """The path of clusters without accounting: squeue sees the jobs finish."""
    assert squeue_run.result.returncode == 0, squeue_run.failure
    assert wf.job_counts(squeue_run.output).get("autocorr") == N_CHANNELS
    assert len(squeue_run.submitted) == N_CHANNELS + len(CHANNELS), squeue_run.failure
    _only_heavy_jobs_were_submitted(squeue_run, N_CHANNELS)


def _only_heavy_jobs_were_submitted(run: SimpleNamespace, n_autocorr: int) -> None:
    """The light rules (localrules) ran where snakemake ran: SLURM logs of the jobs that
    stream the movies only (autocorr, and on_time once per experiment)."""
    folder = run.workdir / ".snakemake" / "slurm_logs"
    logs = sorted(folder.rglob("*.log"))
    rules = [path.relative_to(folder).parts[0] for path in logs]
    assert rules.count("rule_autocorr") == n_autocorr, logs
    assert rules.count("rule_on_time") == len(CHANNELS), logs
    assert set(rules) == {"rule_autocorr", "rule_on_time"}, logs


@pytest.mark.parametrize("name", ["split_run", "squeue_run"])
def test_numbers_equal_a_local_run(request: pytest.FixtureRequest, name: str) -> None:
    """The info files of a SLURM run hold the local run's numbers (AC: relative 1e-9)."""
    run = request.getfixturevalue(name)
    assert run.result.returncode == 0, run.failure
    for experiment, channels in CHANNELS.items():
        local_h5 = run.local / "results" / experiment / "psf_info.h5"
        cluster_h5 = run.workdir / "results" / experiment / "psf_info.h5"
        with h5py.File(local_h5, "r") as local, h5py.File(cluster_h5, "r") as cluster:
            assert (
                sorted(local.keys())
                == sorted(cluster.keys())
                == sorted([*channels, TEMPORAL_AVERAGE])
            )
            for channel in channels:
                mine, theirs = cluster[channel], local[channel]
                ac = theirs["ac"][()]
                difference = np.abs(mine["ac"][()] - ac).max()
                assert difference <= 1e-9 * np.abs(ac).max(), (channel, difference)
                for dataset in ("psf", "fit", "spline"):
                    np.testing.assert_allclose(mine[dataset][()], theirs[dataset][()], atol=1e-7)
                for attr in ("sigx_nm", "sigy_nm", "theta_deg", "psf_sigma_nm"):
                    assert mine.attrs[attr] == pytest.approx(theirs.attrs[attr], rel=1e-7)
                for attr in ("n_frames", "source_files", "source_sizes_bytes", "pixel_nm"):
                    np.testing.assert_array_equal(mine.attrs[attr], theirs.attrs[attr])
                assert mine.attrs["n_frames"] == N_FRAMES
                temporal_ac = theirs["temporal/ac"][()]
                difference = np.abs(mine["temporal/ac"][()] - temporal_ac).max()
                assert difference <= 1e-9 * np.abs(temporal_ac).max(), (channel, difference)
            assert cluster.attrs["on_time_frames"] == pytest.approx(
                local.attrs["on_time_frames"], rel=1e-7
            )
            assert json.loads(cluster.attrs["config"]) == json.loads(local.attrs["config"])
        for channel in channels:
            spectrum = run.workdir / "results" / experiment / "autocorr" / f"{channel}.npz"
            assert load_sums(spectrum).total_frames == N_FRAMES


def test_rerun_on_slurm_does_nothing(wf: SimpleNamespace, split_run: SimpleNamespace) -> None:
    assert split_run.result.returncode == 0, split_run.failure
    again = wf.run_snakemake(
        split_run.workdir,
        "--dry-run",
        "--profile",
        str(split_run.profile),
        timeout=120,
        env=split_run.slurm.env,
    )
    output = again.stdout + again.stderr
    assert again.returncode == 0 and "Nothing to be done" in output, _tail(output, 40)
