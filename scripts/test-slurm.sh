#!/usr/bin/env bash
# End-to-end test of scripts/slurm/ on a throwaway single-node Slurm cluster
# brought up on this machine (and torn down on any exit): a 2 M-word corpus
# sanitized in 8 shards must equal the single-process run byte for byte, with
# the same ledger; then a shard killed mid-run, and the whole array
# resubmitted, must redo only that shard and give the same result again.
#
# Run time: about 1 min on the 2-core development machine (60 s with builds
# running alongside: set-up 2 s, reference 20 s, 8 shards 14 s, kill 15 s,
# resubmission 8 s). Not part of CI: needs root (it runs munged and the Slurm
# daemons, and puts a fresh MUNGE key in /etc/munge for the duration) and the
# default embedding (scripts/setup.sh).
#
#   scripts/test-slurm.sh     # DPSANITIZE=path overrides the binary
set -euo pipefail

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
B=$(realpath -e "${DPSANITIZE:-$ROOT/build/apps/dpsanitize/dpsanitize}")
SUBMIT=$ROOT/scripts/slurm/submit.sh
N=8
VICTIM=$((N - 1)) # the last shard starts last: the others are done or running when it dies
HOST=$(hostname -s)

fail() {
  echo "test-slurm: FAILED: $*" >&2
  exit 1
}
T0=$SECONDS
phase_start=$SECONDS
phase() { # report the phase that just ended
  printf 'test-slurm: %-34s %4d s\n' "$1" $((SECONDS - phase_start))
  phase_start=$SECONDS
}

[[ $(id -u) -eq 0 ]] || fail "needs root (munged, slurmctld, slurmd)"
"$ROOT/scripts/install-slurm.sh"
[[ $("$B" --help) == *--shard* ]] || fail "$B has no --shard option"
export DPSANITIZE=$B # for submit.sh
emb=${DPSANITIZE_EMBEDDING:-${XDG_DATA_HOME:-$HOME/.local/share}/dpsanitize/glove.6B.100d.dpsemb}
[[ -f $emb ]] || fail "no embedding at $emb (run scripts/setup.sh)"
if pgrep -x munged >/dev/null || pgrep -x slurmctld >/dev/null || pgrep -x slurmd >/dev/null; then
  fail "munged or a Slurm daemon already runs here; this test brings up its own"
fi

# --- bring-up, with the teardown armed first -------------------------------
T=$(mktemp -d /tmp/test-slurm.XXXXXX)
chmod 755 "$T"
pids=()  # daemons, stopped in reverse order
jobs_=() # every job submitted
made_run_munge=0
key_saved=0
teardown() {
  local rc=$?
  set +e
  if ((${#jobs_[@]})); then
    scancel "${jobs_[@]}" 2>/dev/null
    for _ in $(seq 50); do # let slurmd end the jobs' processes before it goes
      [[ -z $(squeue -h -o %i 2>/dev/null) ]] && break
      sleep 0.2
    done
  fi
  for ((k = ${#pids[@]} - 1; k >= 0; k--)); do
    kill "${pids[k]}" 2>/dev/null
    for _ in $(seq 50); do
      kill -0 "${pids[k]}" 2>/dev/null || break
      sleep 0.1
    done
    kill -9 "${pids[k]}" 2>/dev/null
    wait "${pids[k]}" 2>/dev/null
  done
  if ((key_saved)); then
    cp -p "$T/munge.key.orig" /etc/munge/munge.key
  fi
  ((made_run_munge)) && rm -rf /run/munge
  if ((rc != 0)); then
    for f in "$T"/munged.log "$T"/slurmctld.log "$T"/slurmd.log; do
      [[ -f $f ]] && { echo "--- last lines of $f" >&2; tail -n 15 "$f" >&2; }
    done
  fi
  rm -rf "$T"
  echo "test-slurm: total $((SECONDS - T0)) s, exit $rc" >&2
  exit "$rc"
}
trap teardown EXIT
trap 'exit 130' INT
trap 'exit 143' TERM

# MUNGE authenticates every Slurm message; a fresh key, readable by munge only.
if [[ -f /etc/munge/munge.key ]]; then
  cp -p /etc/munge/munge.key "$T/munge.key.orig"
  key_saved=1
fi
install -d -o munge -g munge -m 700 /etc/munge
(umask 077 && head -c 1024 /dev/urandom >/etc/munge/munge.key)
chown munge:munge /etc/munge/munge.key
chmod 400 /etc/munge/munge.key
if [[ ! -d /run/munge ]]; then
  made_run_munge=1
  install -d -o munge -g munge -m 755 /run/munge # socket; no systemd to make it
fi
install -d -o munge -g munge -m 700 "$T/munge"
# As the munge user (munged refuses root without --force); setpriv execs, so
# $! is munged itself.
setpriv --reuid=munge --regid=munge --init-groups /usr/sbin/munged --foreground \
  --log-file="$T/munge/munged.log" --pid-file="$T/munge/munged.pid" \
  --seed-file="$T/munge/munged.seed" >"$T/munged.log" 2>&1 &
pids+=($!)
for _ in $(seq 50); do
  { munge -n </dev/null | unmunge; } >/dev/null 2>&1 && break
  sleep 0.1
done
munge -n </dev/null | unmunge >/dev/null || fail "munged does not answer"

# Clients find this file through SLURM_CONF: nothing in /etc/slurm changes.
mkdir -p "$T/state" "$T/spool"
export SLURM_CONF=$T/slurm.conf
cat >"$SLURM_CONF" <<EOF
ClusterName=dpstest
SlurmctldHost=$HOST
SlurmUser=root
SlurmdUser=root
AuthType=auth/munge
StateSaveLocation=$T/state
SlurmdSpoolDir=$T/spool
SlurmctldPidFile=$T/slurmctld.pid
SlurmdPidFile=$T/slurmd.pid
MailProg=/bin/true
# No cgroups here: processes are tracked by parentage, tasks not confined.
ProctrackType=proctrack/linuxproc
TaskPlugin=task/none
# CPUs only: with memory consumable a job without --mem takes the whole node.
SelectType=select/cons_tres
SelectTypeParameters=CR_CPU
ReturnToService=2
MpiDefault=none
# Finished jobs stay visible to scontrol for the checks.
MinJobAge=900
NodeName=$HOST CPUs=2 State=UNKNOWN
PartitionName=debug Nodes=ALL Default=YES MaxTime=INFINITE State=UP
EOF
# In the foreground (-D), so that $! is the daemon; no log file set: they log
# to stderr.
slurmctld -D -f "$SLURM_CONF" >"$T/slurmctld.log" 2>&1 &
pids+=($!)
slurmd -D -f "$SLURM_CONF" >"$T/slurmd.log" 2>&1 &
pids+=($!)
for _ in $(seq 120); do
  [[ $(sinfo -h -n "$HOST" -o %t 2>/dev/null) == idle ]] && break
  sleep 0.5
done
[[ $(sinfo -h -n "$HOST" -o %t 2>/dev/null) == idle ]] || fail "node $HOST did not become idle"
phase "Slurm up (munged, slurmctld, slurmd)"

# --- corpus, key, single-process reference ---------------------------------
# Sample sentences cut and spliced at random (fixed seed): varied lines.
python3 - "$ROOT"/data/sample/*.txt >"$T/corpus.txt" <<'EOF'
import random, sys
lines = [l.split() for f in sys.argv[1:] for l in open(f, encoding="utf-8") if l.strip()]
r, words = random.Random(14), 0
while words < 2_000_000:
    a, b = r.choice(lines), r.choice(lines)
    line = a[: r.randrange(len(a)) + 1] + b[r.randrange(len(b)):]
    print(" ".join(line))
    words += len(line)
EOF
head -c 32 /dev/urandom >"$T/key"
chmod 600 "$T/key"
opts=(--key-file "$T/key" --eps 3 --embedding "$emb")
echo "test-slurm: corpus $(wc -l <"$T/corpus.txt") lines, $(wc -w <"$T/corpus.txt") words"
"$B" -q "${opts[@]}" "$T/corpus.txt" "$T/ref.txt"
phase "reference run (1 process)"

# --- helpers ----------------------------------------------------------------
submit() { # OUT -> sets array, merge
  local line
  line=$("$SUBMIT" "$T/corpus.txt" "$1" "$N" "${opts[@]}")
  echo "test-slurm: $line"
  array=$(sed -n 's/.*array_job=\([0-9]*\).*/\1/p' <<<"$line")
  merge=$(sed -n 's/.*merge_job=\([0-9]*\).*/\1/p' <<<"$line")
  [[ -n $array && -n $merge ]] || fail "submit.sh printed no job ids"
  jobs_+=("$array" "$merge")
}
field() { # JOB KEY: a field of scontrol show job (an array task as ARRAY_TASK)
  scontrol -o show job "$1" | tr ' ' '\n' | sed -n "s/^$2=//p" | head -n 1
}
wait_gone() { # JOB (an array job covers all its tasks): until none is queued or running
  for _ in $(seq 1200); do
    [[ -z $(squeue -h -j "$1" -t PD,CF,R,CG -o %i 2>/dev/null) ]] && return 0
    sleep 0.5
  done
  fail "job $1 still queued after 10 min"
}
check_result() { # DIR
  cmp "$1/out.txt" "$T/ref.txt" || fail "$1/out.txt differs from the single-process output"
  python3 - "$1/out.txt.ledger.json" "$T/ref.txt.ledger.json" <<'EOF' || fail "merged ledger differs from the reference"
import json, sys
merged, ref = (json.load(open(p)) for p in sys.argv[1:])
skip = {"created_utc", "tool", "outputs", "merged_from"}
bad = sorted(k for k in set(merged) | set(ref) if k not in skip and merged.get(k) != ref.get(k))
if bad:
    sys.exit("fields differ: " + ", ".join(bad))
if len(merged["merged_from"]) != 8 or len(merged["outputs"]) != 8:
    sys.exit("merged ledger does not list 8 shards")
EOF
  "$B" ledger verify "$1/out.txt.ledger.json" >/dev/null || fail "ledger verify of $1 failed"
  # No corpus text in any log: no line of 40+ characters of the corpus.
  if grep -rqF -f <(awk 'length >= 40' "$T/corpus.txt" | head -n 2000) "$1/out.txt.logs"; then
    fail "corpus text in $1/out.txt.logs"
  fi
}

# --- 8 shards in one go ------------------------------------------------------
mkdir "$T/run1"
submit "$T/run1/out.txt"
wait_gone "$merge"
[[ $(field "$merge" JobState) == COMPLETED ]] ||
  fail "merge job $merge: $(field "$merge" JobState) ($(field "$merge" Reason))"
check_result "$T/run1"
phase "8 shards + merge, checked"

# --- a shard killed mid-run, then the array resubmitted -----------------------
mkdir "$T/run2"
submit "$T/run2/out.txt"
victim_part=$(printf '%s/run2/out.txt.part%05d' "$T" "$VICTIM")
# Its temporary output exists from the moment dpsanitize writes: mid-run.
for _ in $(seq 6000); do
  compgen -G "$T/run2/.${victim_part##*/}.dpsanitize-tmp-*" >/dev/null && break
  sleep 0.05
done
compgen -G "$T/run2/.${victim_part##*/}.dpsanitize-tmp-*" >/dev/null ||
  fail "shard $VICTIM never started writing"
victim_job=$(squeue -h -j "${array}_$VICTIM" -o %A)
victim_pid=""
for p in $(scontrol listpids "$victim_job" 2>/dev/null | awk 'NR > 1 { print $1 }'); do
  [[ $(readlink "/proc/$p/exe" 2>/dev/null) == */dpsanitize ]] && victim_pid=$p
done
[[ -n $victim_pid ]] || fail "no dpsanitize process in job ${array}_$VICTIM"
kill -9 "$victim_pid"
echo "test-slurm: killed shard $VICTIM (job ${array}_$VICTIM, pid $victim_pid) with SIGKILL"
wait_gone "$array"
[[ $(field "${array}_$VICTIM" JobState) == FAILED ]] ||
  fail "shard $VICTIM ended $(field "${array}_$VICTIM" JobState): it finished before the kill?"
# afterok can no longer be met: the merge job would wait for ever.
[[ $(field "$merge" JobState) == PENDING ]] || fail "merge job $merge ran after a failed shard"
scancel "$merge"
[[ ! -e $victim_part && ! -e $victim_part.ledger.json ]] ||
  fail "the killed shard left $victim_part or its ledger"
[[ ! -e $T/run2/out.txt ]] || fail "a final output exists after a failed shard"
declare -A before
for ((i = 0; i < N; i++)); do
  ((i == VICTIM)) && continue
  p=$(printf '%s/run2/out.txt.part%05d' "$T" "$i")
  [[ -f $p ]] || fail "shard $i did not write $p"
  before[$i]=$(stat -c '%i %Y' "$p" "$p.ledger.json")
done
leftover=$(compgen -G "$T/run2/.*dpsanitize-tmp-*" | wc -l || true)
echo "test-slurm: temporary files left by SIGKILL: $leftover (never under the final name)"
phase "kill of one shard, checked"

first=$array
submit "$T/run2/out.txt"
wait_gone "$merge"
[[ $(field "$merge" JobState) == COMPLETED ]] ||
  fail "merge job $merge after the resubmission: $(field "$merge" JobState)"
for ((i = 0; i < N; i++)); do
  p=$(printf '%s/run2/out.txt.part%05d' "$T" "$i")
  log=$T/run2/out.txt.logs/shard-${array}_$i.out
  if ((i == VICTIM)); then
    grep -q skipped "$log" && fail "shard $i skipped although it had no output"
    [[ -f $p ]] || fail "the resubmitted shard $i wrote no $p"
  else
    grep -q skipped "$log" || fail "shard $i did not report a skip: $(cat "$log")"
    [[ $(stat -c '%i %Y' "$p" "$p.ledger.json") == "${before[$i]}" ]] ||
      fail "shard $i rewrote $p although it was done"
  fi
done
echo "test-slurm: resubmission (array $array after $first): shard $VICTIM redone, $((N - 1)) skipped"
check_result "$T/run2"
phase "resubmission + merge, checked"
echo "test-slurm: OK"
