"""Scale benchmark of 1:1 comparisons: every matching measure at 10^6, 10^7 and 10^8 comparisons.

    python benchmarks/matching_scale.py --sizes 1000,3163,10000 --out benchmarks/matching-scale-results.md

For each size N (photos; N(N-1) ordered comparisons) a worker process draws N seeded embeddings
(``--dim`` dimensions, float32) of N/5 people in four groups, 1% of photos without a template, and
times in one process:

1. **baseline**: a bare numpy matrix product ``x @ x.T`` of the normalised embeddings, the whole
   N x N score matrix at once (the least any all-pairs computation must do; it materialises the
   matrix, which the kit never does);
2. **counts**: ``conformance.pairwise.compare_all_pairs`` with target FMRs 1e-3, 1e-4, 1e-5, blockwise;
3. **measures**: every check of a 1:1 run (``false_match_differential``, ``false_non_match_differential``,
   ``failure_to_acquire_gap``, ``equitability``) with the default policy: 2,000 two-way resamples;
4. **reports**: report.json, report.html and report.md of those results, as a run writes them (the
   HTML with its DET curves, histograms, impostor matrix and disclosure);
5. **dask**: step 2 again as Dask tasks over a dask.array (``--dask-scheduler``, threads by default;
   ``dask-local:2`` starts a LocalCluster of two worker processes), its counts checked equal to step 2's.

Peak RSS (``ru_maxrss``) is read after steps 2-4 and before the baseline allocates its N x N
matrix, so it is the kit's. Ratios to the baseline are what matter: absolute times on a shared
machine drift by tens of percent.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _machine import code_line, machine_line

GROUPS = ("a", "b", "c", "d")


def make_data(n: int, dim: int, seed: int) -> dict[str, object]:
    """Seeded embeddings of n photos: n/5 people, four groups of differing spread, 1% without a template."""
    import numpy as np

    rng = np.random.default_rng(seed)
    people = max(2, n // 5)
    subject = np.sort(rng.integers(0, people, size=n))
    group = subject % len(GROUPS)
    centres = rng.normal(size=(people, dim)).astype(np.float32)
    spread = np.asarray([0.8, 0.9, 1.0, 1.1], dtype=np.float32)[group]
    x = centres[subject] + spread[:, None] * rng.normal(size=(n, dim)).astype(np.float32)
    acquired = rng.random(n) >= 0.01
    return {"x": x, "subject": subject, "group": group, "acquired": acquired, "people": people}


def worker(n: int, dim: int, seed: int, scheduler: str) -> dict[str, object]:
    import numpy as np

    from conformance.checks import biometrics
    from conformance.pairwise import compare_all_pairs
    from conformance.policy import Policy

    data = make_data(n, dim, seed)
    x, subject, group, acquired = data["x"], data["subject"], data["group"], data["acquired"]
    assert isinstance(x, np.ndarray)
    kwargs = {
        "photo_group": group,
        "photo_subject": subject,
        "acquired": acquired,
        "groups": GROUPS,
        "subjects": [str(s) for s in range(int(data["people"]))],  # type: ignore[call-overload]
        "targets": (1e-3, 1e-4, 1e-5),
    }
    rows = x[acquired]
    start = time.perf_counter()
    counts = compare_all_pairs(rows, **kwargs)  # type: ignore[arg-type]
    t_counts = time.perf_counter() - start
    policy = Policy(target_fmr=(1e-3, 1e-4, 1e-5))
    start = time.perf_counter()
    results = []
    for name in ("false_match_differential", "false_non_match_differential"):
        results += getattr(biometrics, name)(counts, reference="a", policy=policy, seed=1)
    results.append(biometrics.failure_to_acquire_gap(counts, reference="a", policy=policy, seed=1))
    results.append(biometrics.equitability(counts, reference="a", policy=policy, seed=1))
    json.dumps([r.to_dict() for r in results], allow_nan=False)  # what the report writer will do
    t_measures = time.perf_counter() - start
    from conformance.reporting import build_report, render_html, render_markdown

    start = time.perf_counter()
    report = build_report(results, context={"seed": 1, "grouping": {"by": ["group"], "reference": "a"}})
    text = json.dumps(report.to_json(), indent=2, allow_nan=False)
    page = render_html(report)
    markdown = render_markdown(report)
    t_reports = time.perf_counter() - start
    sizes = {"json": len(text.encode()), "html": len(page.encode()), "md": len(markdown.encode())}
    peak_kit = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024  # MiB (Linux: KiB)

    dask_seconds: float | None = None
    same = None
    if scheduler != "none":
        start = time.perf_counter()
        if scheduler.startswith("dask-local:"):
            from distributed import Client, LocalCluster

            workers = int(scheduler.partition(":")[2])
            with (
                LocalCluster(
                    n_workers=workers, threads_per_worker=1, host="127.0.0.1", dashboard_address=None, silence_logs=40
                ) as cluster,
                Client(cluster),
            ):
                start = time.perf_counter()  # cluster start-up is not the computation
                other = compare_all_pairs(rows, dask=True, **kwargs)  # type: ignore[arg-type]
                dask_seconds = time.perf_counter() - start
        else:
            other = compare_all_pairs(rows, dask=scheduler, **kwargs)  # type: ignore[arg-type]
            dask_seconds = time.perf_counter() - start
        same = bool(
            (other.impostor_hist == counts.impostor_hist).all()
            and (other.genuine_hist == counts.genuine_hist).all()
            and other.kept_from == counts.kept_from
            and len(other.kept) == len(counts.kept)
        )

    norm = rows / np.linalg.norm(rows, axis=1)[:, None]
    start = time.perf_counter()
    matrix = norm @ norm.T
    t_base = time.perf_counter() - start
    del matrix
    binding = next(r for r in results if r.id == "false_match_differential" and r.details.get("binding"))
    return {
        "n": n,
        "comparisons": counts.comparisons,
        "baseline": t_base,
        "counts": t_counts,
        "measures": t_measures,
        "reports": t_reports,
        "report_kib": {k: round(v / 1024) for k, v in sizes.items()},
        "peak_mib": peak_kit,
        "dask": dask_seconds,
        "dask_same": same,
        "kept": len(counts.kept),
        "thresholds": [r.threshold for r in results if r.id == "false_match_differential"],
        "binding_verdict": binding.verdict,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="1000,3163,10000")
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--seed", type=int, default=20261121)
    parser.add_argument("--dask-scheduler", default="threads", help="threads, synchronous, dask-local:N or none")
    parser.add_argument("--out", type=Path)
    parser.add_argument("--worker", type=int, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(json.dumps(worker(args.worker, args.dim, args.seed, args.dask_scheduler)))
        return
    lines = [
        "# 1:1 comparisons at scale",
        "",
        f"Command: `python benchmarks/matching_scale.py --sizes {args.sizes} --dim {args.dim} "
        f"--dask-scheduler {args.dask_scheduler}`",
        "",
        f"Machine: {machine_line([('numpy', 'numpy'), ('dask', 'dask')])}",
        "",
        f"Code: {code_line()}",
        "",
        "| photos | comparisons | bare `x @ x.T` (s) | counts (s) | every measure (s) | reports (s) | kit total (s) | "
        "kit / baseline | peak RSS (MiB) | report.json / .html / .md (KiB) | Dask counts (s) | Dask = numpy |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---|",
    ]
    for size in (int(s) for s in args.sizes.split(",")):
        done = subprocess.run(
            [
                sys.executable,
                __file__,
                "--worker",
                str(size),
                "--dim",
                str(args.dim),
                "--seed",
                str(args.seed),
                "--dask-scheduler",
                args.dask_scheduler,
            ],
            capture_output=True,
            text=True,
            check=True,
        )
        r = json.loads(done.stdout.strip().splitlines()[-1])
        total = r["counts"] + r["measures"] + r["reports"]
        dask = "-" if r["dask"] is None else f"{r['dask']:.2f}"
        kib = r["report_kib"]
        lines.append(
            f"| {r['n']:,} | {r['comparisons']:,} | {r['baseline']:.2f} | {r['counts']:.2f} | {r['measures']:.2f} | "
            f"{r['reports']:.2f} | {total:.2f} | {total / r['baseline']:.1f} | {r['peak_mib']:.0f} | "
            f"{kib['json']:,} / {kib['html']:,} / {kib['md']:,} | {dask} | {r['dask_same']} |"
        )
        print(lines[-1], flush=True)
    text = "\n".join(lines) + "\n"
    if args.out:
        args.out.write_text(text, encoding="utf-8")
    print(text)


if __name__ == "__main__":
    main()
