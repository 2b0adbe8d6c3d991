#!/usr/bin/env bash
# A throwaway one-node Slurm cluster on this machine, for synthmpi's Slurm tests.
#
# usage: tests/slurm/cluster.sh up | down | env | run COMMAND [ARGS...]
#   up    install the daemons if missing (apt-get, as root), write a one-node configuration
#         under $SYNTHMPI_SLURM_DIR, start munged, slurmctld and slurmd, wait for an idle node
#   down  cancel every job, stop the three daemons by their recorded process ids
#   env   print "export SLURM_CONF=..." for a shell that wants to use the cluster
#   run   up, COMMAND, down (also when COMMAND fails)
#
# environment:
#   SYNTHMPI_SLURM_DIR  state directory (default ${TMPDIR:-/tmp}/synthmpi-slurm-$USER)
# Exits 77 when Slurm is neither installed nor installable (no apt-get, or not root), so
# ctest can report the Slurm tests as skipped; 1 when the cluster does not come up.
#
# Everything listens on this host's own address; the munge key is made fresh for each
# cluster and lives only in the state directory.
set -euo pipefail

user=${USER:-$(id -un)}
state=${SYNTHMPI_SLURM_DIR:-${TMPDIR:-/tmp}/synthmpi-slurm-$user}
conf=$state/slurm.conf
export SLURM_CONF=$conf

note() { echo "cluster.sh: $*" >&2; }

# --- installation ----------------------------------------------------------------------
# The daemons, the client commands and munge; libpmix2 gives srun --mpi=pmix.
have_slurm() {
  command -v slurmctld >/dev/null && command -v slurmd >/dev/null &&
    command -v sbatch >/dev/null && command -v munged >/dev/null
}

install_slurm() {
  have_slurm && return 0
  if ! command -v apt-get >/dev/null || [ "$(id -u)" -ne 0 ]; then
    note "SKIP: Slurm is not installed and cannot be (needs apt-get and root)"
    exit 77
  fi
  note "installing slurmctld slurmd slurm-client munge libpmix2 with apt-get"
  local apt=(apt-get -o DPkg::Lock::Timeout=300 -y -q --no-install-recommends)
  DEBIAN_FRONTEND=noninteractive "${apt[@]}" install slurmctld slurmd slurm-client munge \
    libpmix2 >"${TMPDIR:-/tmp}/synthmpi-slurm-apt.log" 2>&1 ||
    { DEBIAN_FRONTEND=noninteractive apt-get -q update >/dev/null 2>&1 &&
      DEBIAN_FRONTEND=noninteractive "${apt[@]}" install slurmctld slurmd slurm-client \
        munge libpmix2 >>"${TMPDIR:-/tmp}/synthmpi-slurm-apt.log" 2>&1; } ||
    { note "SKIP: apt-get could not install Slurm (see ${TMPDIR:-/tmp}/synthmpi-slurm-apt.log)"
      exit 77; }
  have_slurm || { note "SKIP: Slurm still missing after apt-get"; exit 77; }
}

# --- configuration ---------------------------------------------------------------------
# The address the daemons bind: what this host's short name resolves to (IPv4).
host_address() {
  getent ahostsv4 "$1" | awk 'NR == 1 { print $1 }'
}

# slurm.conf for one node described by slurmd -C (its real CPUs and memory, so --mem
# works). Finished jobs stay visible to scontrol for MinJobAge seconds; a short munge
# credential lifetime lets a requeued job start again within seconds; kill_invalid_depend
# ends a job whose dependency can never be met instead of leaving it pending.
write_config() {
  local host=$1 addr=$2 node slurm_user
  node=$(slurmd -C | head -n 1)
  slurm_user=$(id -un)
  cat >"$conf" <<EOF
ClusterName=synthmpi-test
SlurmctldHost=$host($addr)
SlurmUser=$slurm_user
SlurmdUser=$slurm_user
AuthType=auth/munge
CredType=cred/munge
AuthInfo=socket=$state/munge/socket,cred_expire=30
CommunicationParameters=NoCtldInAddrAny,NoInAddrAny
SlurmctldPort=$((6900 + RANDOM % 500))
SlurmdPort=$((7500 + RANDOM % 500))
StateSaveLocation=$state/ctld
SlurmdSpoolDir=$state/spool
SlurmctldPidFile=$state/slurmctld.pid
SlurmdPidFile=$state/slurmd.pid
SlurmctldLogFile=$state/log/slurmctld.log
SlurmdLogFile=$state/log/slurmd.log
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
AccountingStorageType=accounting_storage/none
JobCompType=jobcomp/filetxt
JobCompLoc=$state/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
MpiDefault=none
DependencyParameters=kill_invalid_depend
MinJobAge=600
KillWait=10
MailProg=/bin/true
ReturnToService=2
$node NodeAddr=$addr State=UNKNOWN
PartitionName=test Nodes=ALL Default=YES MaxTime=INFINITE State=UP OverSubscribe=NO
EOF
}

# --- daemons ---------------------------------------------------------------------------
# start NAME COMMAND...: in the background, output to log/NAME.out, pid appended to pids.
start() {
  local name=$1
  shift
  "$@" </dev/null >"$state/log/$name.out" 2>&1 &
  echo "$!" >>"$state/pids"
}

wait_for() {
  local what=$1 tries=$2
  shift 2
  for _ in $(seq "$tries"); do
    "$@" && return 0
    sleep 0.5
  done
  note "$what did not happen"
  return 1
}

node_idle() { [ "$(sinfo -h -o %T 2>/dev/null)" = idle ]; }

up() {
  install_slurm
  [ -f "$state/pids" ] && down
  local host addr
  host=$(hostname -s)
  addr=$(host_address "$host")
  [ -n "$addr" ] || { note "cannot resolve $host"; return 1; }

  # fresh state: munge wants its socket directory 755 and its key 400
  rm -rf "$state"
  mkdir -p "$state"/{munge,ctld,spool,log}
  chmod 755 "$state" "$state/munge"
  head -c 1024 /dev/urandom >"$state/munge/key"
  chmod 400 "$state/munge/key"
  write_config "$host" "$addr"

  start munged munged --foreground --key-file="$state/munge/key" \
    --socket="$state/munge/socket" --pid-file="$state/munge/pid" \
    --seed-file="$state/munge/seed" --log-file="$state/log/munged.log"
  wait_for "munged socket" 50 test -S "$state/munge/socket" || { fail_up; return 1; }
  start slurmctld slurmctld -D -c -f "$conf"
  start slurmd slurmd -D -f "$conf"
  wait_for "an idle node" 120 node_idle || { fail_up; return 1; }
  note "up: SLURM_CONF=$conf, node $host ($addr)"
}

fail_up() {
  note "the cluster did not come up; last log lines:"
  tail -n 15 "$state"/log/* >&2 || true
  down
}

# pids stop in reverse start order: slurmd, slurmctld, munged
down() {
  [ -f "$state/pids" ] || return 0
  squeue -h -o %A 2>/dev/null | xargs -r scancel 2>/dev/null || true
  wait_for "an empty queue" 30 queue_empty || true
  local pid
  for pid in $(tac "$state/pids"); do
    kill "$pid" 2>/dev/null || true
  done
  for pid in $(cat "$state/pids"); do
    for _ in $(seq 100); do
      kill -0 "$pid" 2>/dev/null || break
      sleep 0.1
    done
  done
  rm -f "$state/pids"
  note "down"
}

queue_empty() { [ -z "$(squeue -h 2>/dev/null)" ]; }

case ${1:-} in
  up) up ;;
  down) down ;;
  env) echo "export SLURM_CONF=$conf" ;;
  run)
    shift
    up
    trap down EXIT
    "$@"
    ;;
  *)
    echo "usage: $0 up|down|env|run COMMAND..." >&2
    exit 2
    ;;
esac
