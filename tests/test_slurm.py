"""The Slurm profile against a real single-node Slurm started here (Debian's slurmctld, slurmd
and munge).  Installs the packages with apt-get when they are missing and this runs as root;
skips with the reason otherwise."""

import os
import shutil
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import small_config, workflow_env

REPO = Path(__file__).resolve().parents[1]
SNAKEMAKE = str(Path(sys.executable).with_name("snakemake"))
CONF = Path("/etc/slurm/slurm.conf")
MARK = "# sparseace test cluster"
PACKAGES = ["slurmctld", "slurmd", "munge", "slurm-client"]


def ensure_slurm():
    if os.geteuid() != 0:
        pytest.skip("starting slurmctld/slurmd needs root")
    if not all(shutil.which(b) for b in ("slurmctld", "slurmd", "munged", "sbatch", "squeue")):
        if not shutil.which("apt-get"):
            pytest.skip("Slurm is not installed and apt-get is not available")
        env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
        subprocess.run(["apt-get", "update", "-q"], check=True, env=env, capture_output=True)
        subprocess.run(["apt-get", "install", "-y", "-q", *PACKAGES], check=True, env=env,
                       capture_output=True)
    if CONF.exists() and MARK not in CONF.read_text():
        pytest.skip(f"{CONF} belongs to an existing Slurm installation: not touching it")


@pytest.fixture(scope="module")
def cluster(tmp_path_factory):
    ensure_slurm()
    tmp = tmp_path_factory.mktemp("slurm")
    host = socket.gethostname()
    mem = int(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**20 * 0.8)
    CONF.parent.mkdir(parents=True, exist_ok=True)
    CONF.write_text(f"""{MARK}
ClusterName=sparseace-test
SlurmctldHost={host}
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation={tmp}/state
SlurmdSpoolDir={tmp}/spool
SlurmctldPidFile={tmp}/slurmctld.pid
SlurmdPidFile={tmp}/slurmd.pid
SlurmctldLogFile={tmp}/slurmctld.log
SlurmdLogFile={tmp}/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
SelectType=select/cons_tres
SelectTypeParameters=CR_Core_Memory
MpiDefault=none
AccountingStorageType=accounting_storage/none
JobAcctGatherType=jobacct_gather/none
ReturnToService=2
MinJobAge=600
SlurmctldPort=16817
SlurmdPort=16818
NodeName={host} CPUs={os.cpu_count()} RealMemory={mem} State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
""")
    for d in ("state", "spool"):
        (tmp / d).mkdir()
    if subprocess.run(["pgrep", "-x", "munged"], capture_output=True).returncode:
        Path("/run/munge").mkdir(exist_ok=True)
        shutil.chown("/run/munge", "munge", "munge")
        subprocess.run(["runuser", "-u", "munge", "--", "/usr/sbin/munged"], check=True)
    subprocess.run(["/usr/sbin/slurmctld"], check=True)
    time.sleep(2)
    subprocess.run(["/usr/sbin/slurmd"], check=True)
    for _ in range(30):
        state = subprocess.run(["sinfo", "-h", "-o", "%t"], capture_output=True, text=True)
        if state.stdout.strip() == "idle":
            break
        time.sleep(1)
    else:
        pytest.fail(f"Slurm node did not come up: {state.stdout} {state.stderr}")
    yield tmp
    for pidfile in ("slurmd.pid", "slurmctld.pid"):
        if (tmp / pidfile).exists():
            subprocess.run(["kill", (tmp / pidfile).read_text().strip()])
    CONF.unlink()


@pytest.mark.slow
def test_workflow_jobs_run_through_slurm_with_the_profile(cluster, tmp_path, mirror):
    configfile = small_config(tmp_path)
    target = "results/fits/zuo_Mo/basis.json"
    slurm_logs = tmp_path / "slurm_logs"  # the plugin deletes successful jobs' logs unless kept
    out = subprocess.run(
        [SNAKEMAKE, "--snakefile", str(REPO / "Snakefile"), "--directory", str(tmp_path),
         "--configfile", str(configfile), "--profile", str(REPO / "workflow/profiles/slurm"),
         "--slurm-status-command", "squeue", "--slurm-init-seconds-before-status-checks", "2",
         "--slurm-logdir", str(slurm_logs), "--slurm-keep-successful-logs",
         "--default-resources", "slurm_partition=debug", "mem_mb=1000", "runtime=10",
         "--jobs", "4", target, "results/data/zuo_Mo/split.json"],
        capture_output=True, text=True, env=workflow_env(SPARSEACE_MIRROR=str(mirror)),
        timeout=600)
    assert out.returncode == 0, out.stdout[-3000:] + out.stderr[-3000:]
    assert (tmp_path / target).exists()
    logs = list(slurm_logs.rglob("*.log"))
    rules = {part for p in logs for part in p.relative_to(slurm_logs).parts
             if part.startswith("rule_")}
    assert rules >= {"rule_fetch", "rule_split", "rule_basis"}, logs
