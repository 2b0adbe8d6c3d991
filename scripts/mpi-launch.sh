# shellcheck shell=bash
# Sourced by the example and benchmark scripts: a local mpirun command line.
#
# mpi_launch_cmd N  fills the array MPI_LAUNCH with "mpirun -n N" plus the flags this
# machine needs. Override the launcher with SYNTHMPI_MPIRUN (e.g. "srun" inside a Slurm
# allocation, where it is split on spaces and gets "-n N" appended).

mpi_launch_cmd() {
  local n=$1 cores
  if [ -n "${SYNTHMPI_MPIRUN:-}" ]; then
    read -r -a MPI_LAUNCH <<<"$SYNTHMPI_MPIRUN"
    MPI_LAUNCH+=(-n "$n")
    return 0
  fi
  MPI_LAUNCH=(mpirun -n "$n")

  # Open MPI refuses to start as root unless told that this is intended (containers, CI)
  if [ "$(id -u)" -eq 0 ]; then
    MPI_LAUNCH+=(--allow-run-as-root)
  fi

  # on SIGTERM or Ctrl-C, mpirun passes the signal on and kills the ranks one second later;
  # ten seconds let them finish the release chunk they are writing and remove the partial file
  MPI_LAUNCH+=(--mca odls_base_sigkill_timeout 10)

  # by default Open MPI starts no more ranks than cores: allow more on a small machine
  cores=$(nproc 2>/dev/null || echo 1)
  if [ "$cores" -lt "$n" ]; then
    MPI_LAUNCH+=(--oversubscribe)
  fi
}
