#!/usr/bin/env bash
# A real single-node Slurm for the Slurm executor's tests (shared/slurm.md's recipe).
#
#   scripts/slurm.sh start DIR   installs slurm-wlm and munge when missing (apt-get, as root),
#                                starts munged, slurmctld and slurmd with their state under DIR,
#                                waits for the node to be idle, and prints, as shell assignments:
#                                  SLURM_CONF=DIR/slurm.conf   every Slurm client needs it
#                                  BAKEOFF_TEST_SLURM_DIR=DIR  (jobcomp: DIR/log/jobcomp.txt)
#   scripts/slurm.sh stop DIR    stops the three daemons by their pid files; idempotent
#
# The node is `localhost` with features `llama,cpu` in partition `bench` (the default). The
# packages are the slow part (~1 minute): they are installed once and kept; everything else
# is made anew under DIR at every start (well under a second), so no state leaks between runs.
set -euo pipefail
log() { echo "slurm: $*" >&2; }
command=${1:?usage: scripts/slurm.sh start|stop DIR}
dir=${2:?usage: scripts/slurm.sh start|stop DIR}

stop_pid_file() {
    local file=$1 pid
    [ -s "$file" ] || return 0
    pid=$(cat "$file")
    if kill -0 "$pid" 2>/dev/null; then
        kill "$pid" 2>/dev/null || true
        for _ in $(seq 50); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
        kill -9 "$pid" 2>/dev/null || true
    fi
    rm -f "$file"
}

stop() {
    stop_pid_file "$dir/slurmd.pid"
    stop_pid_file "$dir/slurmctld.pid"
    stop_pid_file "$dir/munge/munged.pid"
}

case $command in
    stop) stop; exit 0 ;;
    start) ;;
    *) log "unknown command \`$command\` (start or stop)"; exit 2 ;;
esac

[ "$(id -u)" = 0 ] || { log "run me as root (apt-get, munge's key, slurmd)"; exit 1; }
"$(dirname "$0")/apt-install.sh" slurm-wlm munge
# Debian starts the services it installs where it can; ours run with their own configuration.
for service in slurmctld slurmd munge; do
    systemctl stop "$service" >/dev/null 2>&1 || true
done

# Whatever an earlier start left in DIR goes first.
stop
rm -rf "$dir"
mkdir -p "$dir/spool" "$dir/state" "$dir/log" "$dir/munge"
chmod 755 "$dir" "$dir/munge"
chown munge:munge "$dir/munge"
[ -f /etc/munge/munge.key ] || /usr/sbin/mungekey -c >&2
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
su -s /bin/sh munge -c "/usr/sbin/munged --socket=$dir/munge/munge.socket.2 --pid-file=$dir/munge/munged.pid" >&2

cpus=$(nproc)
memory=$(( $(awk '/^MemTotal:/ { print int($2 / 1024) }' /proc/meminfo) - 1024 ))
cat > "$dir/slurm.conf" <<EOF
ClusterName=bakeoff-test
SlurmctldHost=localhost
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
AuthInfo=socket=$dir/munge/munge.socket.2
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
JobAcctGatherType=jobacct_gather/none
JobCompType=jobcomp/filetxt
JobCompLoc=$dir/log/jobcomp.txt
SelectType=select/cons_tres
SelectTypeParameters=CR_Core
ReturnToService=2
MinJobAge=600
KillWait=5
MailProg=/bin/true
SchedulerParameters=batch_sched_delay=0
StateSaveLocation=$dir/state
SlurmdSpoolDir=$dir/spool
SlurmctldPidFile=$dir/slurmctld.pid
SlurmdPidFile=$dir/slurmd.pid
SlurmctldLogFile=$dir/log/slurmctld.log
SlurmdLogFile=$dir/log/slurmd.log
NodeName=localhost CPUs=$cpus RealMemory=$memory Feature=llama,cpu State=UNKNOWN
PartitionName=bench Nodes=localhost Default=YES MaxTime=INFINITE State=UP
EOF
export SLURM_CONF=$dir/slurm.conf
slurmctld -c -f "$SLURM_CONF"
slurmd -N localhost -f "$SLURM_CONF"
for _ in $(seq 100); do
    state=$(sinfo -h -N -o '%t' 2>/dev/null || true)
    [ "$state" = idle ] && break
    sleep 0.1
done
if [ "$state" != idle ]; then
    log "the node is \`${state:-unknown}\`, not idle, after 10 s; see $dir/log"
    stop
    exit 1
fi
log "slurmctld, slurmd and munged run under $dir"
echo "SLURM_CONF=$dir/slurm.conf"
echo "BAKEOFF_TEST_SLURM_DIR=$dir"
