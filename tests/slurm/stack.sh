#!/bin/bash
# A throwaway Slurm accounting stack for the agent's tests (Debian 12's
# Slurm 22.05): munged on the default socket (sacctmgr 22.05 ignores
# AuthInfo=socket=), MariaDB on 127.0.0.1:3307 and slurmdbd on
# 127.0.0.1:16819, all state under $S. No slurmctld: the agent needs
# accounting only, and the test cluster is added with sacctmgr.
# Usage: S=<scratch dir> tests/slurm/stack.sh start|stop
set -euo pipefail
S=${S:?set S to a scratch directory}
export SLURM_CONF=$S/slurm.conf

wait_for() { # wait_for <seconds> <cmd...>
  local t=$1; shift; local end=$((SECONDS + t))
  until "$@" >/dev/null 2>&1; do [ $SECONDS -ge $end ] && { echo "timeout: $*" >&2; return 1; }; sleep 0.2; done
}

start() {
  rm -rf "$S"; mkdir -p "$S"/{munge,db,log,run}
  mkdir -p /run/munge
  dd if=/dev/urandom of="$S/munge/munge.key" bs=1024 count=1 status=none; chmod 600 "$S/munge/munge.key"
  munged --force --key-file="$S/munge/munge.key" --socket=/run/munge/munge.socket.2 \
         --pid-file="$S/run/munged.pid" --log-file="$S/log/munged.log" --seed-file="$S/munge/seed"
  mariadb-install-db --no-defaults --datadir="$S/db" --user=root \
         --auth-root-authentication-method=normal --skip-test-db > "$S/log/mariadb-install.log" 2>&1
  mariadbd --no-defaults --datadir="$S/db" --socket="$S/run/mysqld.sock" --pid-file="$S/run/mysqld.pid" \
         --port=3307 --bind-address=127.0.0.1 --user=root --skip-name-resolve \
         --innodb-buffer-pool-size=64M --log-error="$S/log/mariadb.err" >/dev/null 2>&1 &
  wait_for 90 mariadb-admin --no-defaults -S "$S/run/mysqld.sock" -uroot ping
  mariadb --no-defaults -S "$S/run/mysqld.sock" -uroot -e \
    "CREATE USER 'slurm'@'127.0.0.1' IDENTIFIED BY 'slurmpw'; GRANT ALL ON slurm_acct_db.* TO 'slurm'@'127.0.0.1';"
  cat > "$S/slurmdbd.conf" <<CONF
AuthType=auth/munge
DbdHost=localhost
DbdAddr=127.0.0.1
DbdPort=16819
SlurmUser=root
LogFile=$S/log/slurmdbd.log
PidFile=$S/run/slurmdbd.pid
StorageType=accounting_storage/mysql
StorageHost=127.0.0.1
StoragePort=3307
StorageUser=slurm
StoragePass=slurmpw
StorageLoc=slurm_acct_db
CONF
  chmod 600 "$S/slurmdbd.conf"
  cat > "$S/slurm.conf" <<CONF
ClusterName=testcluster
SlurmctldHost=localhost(127.0.0.1)
SlurmUser=root
AuthType=auth/munge
CredType=cred/munge
SlurmctldPort=16817
StateSaveLocation=$S/state
AccountingStorageType=accounting_storage/slurmdbd
AccountingStorageHost=127.0.0.1
AccountingStoragePort=16819
NodeName=node1 NodeAddr=127.0.0.1 CPUs=1 RealMemory=1000 State=UNKNOWN
PartitionName=debug Nodes=node1 Default=YES MaxTime=INFINITE State=UP
CONF
  chmod 644 "$S/slurm.conf"
  slurmdbd
  wait_for 90 sacctmgr -n show cluster
  sacctmgr -i add cluster testcluster >/dev/null
}

stop() {
  for p in slurmdbd mysqld munged; do
    f=$S/run/$p.pid; [ -f "$f" ] || continue
    pid=$(cat "$f"); kill "$pid" 2>/dev/null || continue
    for _ in $(seq 1 200); do kill -0 "$pid" 2>/dev/null || break; sleep 0.1; done
  done
}

"$@"
