#!/usr/bin/python3
"""plot_bench.py CSV PNG [TITLE] - bar chart of a `locus-bench etl-ffmpeg` run (files/s per
configuration), rendered without a display (matplotlib's Agg backend).

CSV columns: config,kind,seconds,files_s,mb_in_s,mb_out_s,extrapolated (kind: client, cluster,
bare, bare-store). Extrapolated rows are hatched.
"""
import csv
import sys

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402

COLORS = {"client": "#d62728", "cluster": "#1f77b4", "bare": "#2ca02c", "bare-store": "#98df8a"}
LABELS = ["client-side", "in-cluster ETL", "bare compute limit", "bare limit + writing outputs"]


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    with open(sys.argv[1], newline="") as f:
        rows = list(csv.DictReader(f))
    if not rows:
        print("plot_bench.py: no rows", file=sys.stderr)
        return 1
    title = sys.argv[3] if len(sys.argv) > 3 else "locus-bench etl-ffmpeg"
    names = [r["config"] + ("*" if r["extrapolated"] == "1" else "") for r in rows]
    fps = [float(r["files_s"]) for r in rows]
    secs = [float(r["seconds"]) for r in rows]
    fig, ax = plt.subplots(figsize=(10, 0.45 * len(rows) + 1.6), dpi=110)
    bars = ax.barh(range(len(rows)), fps, color=[COLORS.get(r["kind"], "grey") for r in rows],
                   hatch=None)
    for b, r in zip(bars, rows):
        if r["extrapolated"] == "1":
            b.set_hatch("//")
    ax.set_yticks(range(len(rows)))
    ax.set_yticklabels(names)
    ax.invert_yaxis()
    ax.set_xlabel("files/s (higher is better)")
    ax.set_title(title)
    top = max(fps)
    for i, (v, s) in enumerate(zip(fps, secs)):
        ax.text(v + top * 0.01, i, f"{v:.1f} files/s  ({s:.1f} s)", va="center", fontsize=8)
    ax.set_xlim(0, top * 1.35)
    handles = [plt.Rectangle((0, 0), 1, 1, color=c) for c in COLORS.values()]
    ax.legend(handles, LABELS,
              loc="upper center", bbox_to_anchor=(0.5, -0.09 * 14 / (len(rows) + 2)), ncol=4,
              fontsize=8, frameon=False)
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    fig.savefig(sys.argv[2])
    return 0


if __name__ == "__main__":
    sys.exit(main())
