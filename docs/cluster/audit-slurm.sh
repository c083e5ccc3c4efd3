#!/bin/bash
# fcollide audit on a Slurm cluster: one array task per shard, then a dependent merge job.
# Submit with `bash docs/cluster/audit-slurm.sh` (not sbatch): it submits the array and the
# merge. Edit MODEL, N, the audit flags and the #SBATCH lines of your cluster.
set -euo pipefail

MODEL=${MODEL:-model-mlp.safetensors}
N=${N:-16}                      # shards; array indices 0 .. N-1
OUT=${OUT:-audit-run}           # shards in $OUT/shards/$ID, the merge in $OUT/merged
FCOLLIDE=${FCOLLIDE:-fcollide}
AUDIT_FLAGS=${AUDIT_FLAGS:---split train --layer fc1 --measures all}

mkdir -p "$OUT/logs"

# One task per shard. A task that is preempted or times out keeps its checkpoint;
# resubmitting it continues (--resume).
array_job=$(sbatch --parsable \
  --job-name=fcollide-audit \
  --array="0-$((N - 1))" \
  --cpus-per-task=4 --mem=8G --time=04:00:00 \
  --output="$OUT/logs/shard-%a.log" \
  --export=ALL,MODEL="$MODEL",N="$N",OUT="$OUT",FCOLLIDE="$FCOLLIDE",AUDIT_FLAGS="$AUDIT_FLAGS" \
  --wrap='
    set -euo pipefail
    ID=$SLURM_ARRAY_TASK_ID
    RESUME=""
    if [ -f "$OUT/shards/$ID/audit.checkpoint" ]; then RESUME=--resume; fi
    # shellcheck disable=SC2086
    "$FCOLLIDE" audit --model "$MODEL" $AUDIT_FLAGS \
      --shard "$ID/$N" --threads "$SLURM_CPUS_PER_TASK" $RESUME \
      --out "$OUT/shards/$ID"
  ')
echo "submitted array job $array_job ($N shards)"

# The merge runs once every shard has finished (afterok: only if all succeeded).
shard_dirs=()
for ((i = 0; i < N; i++)); do shard_dirs+=("$OUT/shards/$i"); done
merge_job=$(sbatch --parsable \
  --job-name=fcollide-audit-merge \
  --dependency="afterok:$array_job" \
  --cpus-per-task=1 --mem=4G --time=00:30:00 \
  --output="$OUT/logs/merge.log" \
  --wrap="$FCOLLIDE audit merge ${shard_dirs[*]} --out $OUT/merged")
echo "submitted merge job $merge_job: $OUT/merged/report.html when it ends"
