#!/usr/bin/env bash
# Submits a sharded dpsanitize job to Slurm: an array of N shard tasks
# (sanitize-array.sbatch) and a merge job (merge.sbatch) that runs only if
# every shard succeeded. Prints the job ids.
#
#   scripts/slurm/submit.sh IN OUT N [dpsanitize options...]
#   scripts/slurm/submit.sh /shared/in.txt /shared/out/out.txt 8 --key-file /shared/k --eps 3
#
# IN must be a regular file (shards seek in it). IN, OUT's folder and the
# key file must be visible from every node; jobs start in the current folder.
# With --key-file the result is byte-identical to one unsharded run with that
# key; without it each shard draws a fresh key. After a failure, run the same
# command again: shards whose part verifies are skipped (--skip-done).
# DPSANITIZE names the binary (default: dpsanitize on PATH, else this
# checkout's build); sbatch options come from SBATCH_* variables
# (SBATCH_PARTITION, SBATCH_TIMELIMIT, ...). Logs: OUT.logs/.
set -euo pipefail

if (($# < 3)) || [[ ! $3 =~ ^[1-9][0-9]*$ ]]; then
  echo "usage: $0 IN OUT N [dpsanitize options...]" >&2
  exit 2
fi
in=$(realpath -e -- "$1")
out=$(realpath -m -- "$2")
n=$3
shift 3
if [[ ! -f $in ]]; then
  echo "submit: $in is not a regular file" >&2
  exit 2
fi

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
bin=${DPSANITIZE:-$(command -v dpsanitize || echo "$here/../../build/apps/dpsanitize/dpsanitize")}
# Absolute: Slurm runs a copy of each script from its spool folder.
export DPSANITIZE
DPSANITIZE=$(realpath -e -- "$bin")
logs=$out.logs
mkdir -p "$logs" # Slurm does not create log folders

array=$(sbatch --parsable --export=ALL --array="0-$((n - 1))" --output="$logs/shard-%A_%a.out" \
  "$here/sanitize-array.sbatch" "$in" "$out" "$n" "$@")
array=${array%%;*} # "id;cluster" on multi-cluster set-ups
merge=$(sbatch --parsable --export=ALL --dependency="afterok:$array" --output="$logs/merge-%j.out" \
  "$here/merge.sbatch" "$out" "$n")
merge=${merge%%;*}
echo "array_job=$array merge_job=$merge logs=$logs"
