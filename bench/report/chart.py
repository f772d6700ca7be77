"""The latency chart of a run (``results/latency.png``): read and freshness percentiles."""

from __future__ import annotations

from pathlib import Path

from bench.report.targets import RunResults


def chart(results: RunResults, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    panels: list[tuple[str, list[tuple[str, list[float]]]]] = []
    if results.read is not None:
        for mode in ("saturation", "fixed rate"):
            bars = [
                (r.target, [r.wrk.p50_ms, r.wrk.p99_ms, r.wrk.p999_ms])
                for r in results.read.runs
                if r.mode == mode
            ]
            panels.append((f"GET /status, {mode}", bars))
    if results.freshness is not None:
        f = results.freshness
        panels.append(
            (
                f"freshness at {f.target_rate} ev/s",
                [
                    ("GET /status", [f.p50_ms, f.p99_ms]),
                    ("watch stream", [f.watch.p50_ms, f.watch.p99_ms]),
                ],
            )
        )
    if not panels:
        return
    fig, axes = plt.subplots(1, len(panels), figsize=(5 * len(panels), 4), squeeze=False)
    labels = ["p50", "p99", "p99.9"]
    for ax, (title, bars) in zip(axes[0], panels, strict=True):
        width = 0.8 / max(1, len(bars))
        for i, (name, values) in enumerate(bars):
            xs = [j + i * width for j in range(len(values))]
            ax.bar(xs, values, width, label=name)
        ax.set_xticks([j + 0.4 - width / 2 for j in range(3)], labels)
        ax.set_yscale("log")
        ax.set_ylabel("latency, ms (log)")
        ax.set_title(title)
        ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)
