"""Reading the leaderboard (notebook 08): accuracy against cost, from benchmark records.

Records are the dicts of :func:`segedu.bench.train_and_score` (one per run and seed), as
stored in ``results/leaderboard.json``. The medians over seeds come from
:func:`segedu.bench.medians`; this module adds what the notebook shows beside them::

    rows = cost_rows(records)           # one dict per (model, track, labelled): medians and costs
    plot_cost(records, x="latency_ms")  # mIoU against CPU latency, one marker per model, per track
"""

from __future__ import annotations

from segedu import bench

COSTS = {
    "latency_ms": "CPU latency per image (ms)",
    "params": "parameters",
    "train_seconds": "training time (s)",
}
"""Cost columns of a record that :func:`plot_cost` can put on its x axis, with axis labels."""

MARKERS = "osD^vP*Xhp<>"


def cost_rows(records: list[dict]) -> list[dict]:
    """One row per (model, track, labelled), medians over seeds, best mIoU first within each track.

    Keys: ``model, track, labelled, seeds, miou, boundary, params, receptive_field`` (pixels, the
    centre pixel's), ``latency_ms, train_seconds, miou_per_ms`` (median mIoU / median latency).
    """
    rows = []
    for (model, track, labelled), row in bench.medians(records).items():
        latency = row["latency_ms"]
        rows.append({
            "model": model, "track": track, "labelled": labelled, "seeds": row["seeds"], "miou": row["miou"],
            "boundary": row["boundary"], "params": row["params"], "receptive_field": row["receptive_field"][0],
            "latency_ms": latency, "train_seconds": row["train_seconds"],
            "miou_per_ms": None if not latency or row["miou"] is None else row["miou"] / latency,
        })
    tracks = list(dict.fromkeys(row["track"] for row in rows))
    return sorted(rows, key=lambda row: (tracks.index(row["track"]), -(row["miou"] or 0)))


def markdown_table(rows: list[dict]) -> str:
    """``rows`` of :func:`cost_rows` as one Markdown table."""

    def fmt(value, digits=3):
        return "-" if value is None else f"{value:.{digits}f}"

    lines = ["| track | model | seeds | mIoU | params | RF px | latency ms | train s | mIoU per ms |",
             "|---|---|---|---|---|---|---|---|---|"]
    for row in rows:
        name = f"{row['model']} ({row['labelled']} labelled)" if row["labelled"] else row["model"]
        lines.append(f"| {row['track']} | {name} | {row['seeds']} | {fmt(row['miou'])} | "
                     f"{row['params'] / 1e6:.2f} M | {row['receptive_field']} | {fmt(row['latency_ms'], 1)} | "
                     f"{fmt(row['train_seconds'], 0)} | {fmt(row['miou_per_ms'], 4)} |")
    return "\n".join(lines)


def plot_cost(records: list[dict], x: str = "latency_ms", title: str | None = None):
    """Median mIoU against a cost (``x``: a key of :data:`COSTS`), one panel per track, one marker
    per model (runs with a ``labelled`` limit are left out). Returns the matplotlib Figure."""
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

    from segedu.viz import new_figure

    if x not in COSTS:
        raise ValueError(f"x must be one of {tuple(COSTS)}, got {x!r}")
    rows = [row for row in cost_rows(records) if not row["labelled"] and row[x] is not None]
    tracks = list(dict.fromkeys(row["track"] for row in rows))
    if not tracks:
        raise ValueError("no record with an mIoU and a cost to plot")
    models = list(dict.fromkeys(row["model"] for row in rows))
    figure = new_figure(figsize=(3.6 * len(tracks) + 1.4, 3.4), layout="constrained")
    axes = figure.subplots(1, len(tracks), squeeze=False, sharey=True)[0]
    for ax, track in zip(axes, tracks, strict=True):
        for row in (r for r in rows if r["track"] == track):
            index = models.index(row["model"])
            ax.plot(row[x], row["miou"], MARKERS[index % len(MARKERS)], color=f"C{index % 10}", markersize=8,
                    label=row["model"])
        ax.set_xscale("log")
        values = [row[x] for row in rows if row["track"] == track]
        narrow = max(values) < 4 * min(values)  # a narrow range: more ticks, or there would be none
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 1.5, 2.0, 3.0, 5.0, 7.0) if narrow else (1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(_short_number))
        ax.xaxis.set_minor_formatter(NullFormatter())
        ax.margins(x=0.25, y=0.15)
        ax.set_title(track)
        ax.set_xlabel(COSTS[x])
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("test mIoU (median over seeds)")
    handles = {}
    for ax in axes:
        for handle, label in zip(*ax.get_legend_handles_labels(), strict=True):
            handles.setdefault(label, handle)
    figure.legend(handles.values(), handles.keys(), loc="outside right center", fontsize="small", title="model")
    figure.suptitle(title or "Accuracy against cost (up and to the left is better)")
    return figure


def _short_number(value, _position=None) -> str:
    """Tick label: 0.5, 3, 150, 20k, 1.5M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


def claims_markdown(claims: list) -> str:
    """The claims of :func:`segedu.story.check_claims` as a Markdown table (claim, held, numbers)."""
    if not claims:
        return "*These records decide none of the course's claims (the runs they compare are missing).*"
    lines = ["| claim | held in every seed | numbers |", "|---|---|---|"]
    lines += [f"| {claim.text} | {'yes' if claim.holds else '**no**'} | {claim.detail} |" for claim in claims]
    return "\n".join(lines)
