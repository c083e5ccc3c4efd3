"""fcollide audit on a Ray cluster: one `ray.remote` task per shard, then the merge.

Each task runs the `fcollide` CLI on its shard (`--shard i/n --out OUT/shards/i`), so a
worker needs the binary on its PATH (or --fcollide PATH) and the model and data at the same
paths (a shared file system); nothing else, not even the Python package. A task that fails
is retried by Ray and resumes from its shard's checkpoint. The merge runs on the driver.

    python audit_ray.py --model model-mlp.safetensors --shards 16 --out audit-run \
        -- --split train --layer fc1 --measures all

Arguments after `--` go to `fcollide audit` unchanged. Start Ray first (`ray start --head`
on the cluster), or let `ray.init()` start a local runtime.
"""
import argparse
import os
import subprocess

import ray


@ray.remote(max_retries=2)
def audit_shard(fcollide, model, shard, n, out, extra, threads):
    """Runs shard `shard`/`n` into `out`; resumes when a checkpoint is there."""
    cmd = [fcollide, "-q", "audit", "--model", model, "--shard", f"{shard}/{n}",
           "--threads", str(threads), "--out", out, *extra]
    if os.path.exists(os.path.join(out, "audit.checkpoint")):
        cmd.append("--resume")
    done = subprocess.run(cmd, capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"shard {shard}/{n} failed: {done.stderr.strip()}")
    return done.stdout.strip()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--shards", type=int, default=4)
    ap.add_argument("--out", default="audit-run")
    ap.add_argument("--fcollide", default="fcollide")
    ap.add_argument("--threads", type=int, default=1, help="threads per shard (and CPUs asked of Ray)")
    ap.add_argument("extra", nargs="*", help="more `fcollide audit` flags, after --")
    a = ap.parse_args()
    ray.init()
    out = os.path.abspath(a.out)
    dirs = [os.path.join(out, "shards", str(i)) for i in range(a.shards)]
    task = audit_shard.options(num_cpus=a.threads)
    refs = [task.remote(a.fcollide, os.path.abspath(a.model), i, a.shards, d, a.extra, a.threads)
            for i, d in enumerate(dirs)]
    for line in ray.get(refs):
        print(line)
    merged = os.path.join(out, "merged")
    subprocess.run([a.fcollide, "audit", "merge", *dirs, "--out", merged], check=True)
    print(f"report: {merged}/report.html")


if __name__ == "__main__":
    main()
