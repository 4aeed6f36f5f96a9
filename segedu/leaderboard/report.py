"""The leaderboard as tables and pictures: medians over seeds, accuracy against cost, the claims.

Everything here reads records (:mod:`segedu.leaderboard.records`) and counts only those whose
training ran every step; records stopped early are listed apart. Used by the benchmark to write
``results/leaderboard.md`` and ``.png``, and by notebook 09::

    rows = cost_rows(records)            # one dict per (run, track, labelled): medians and costs
    plot_cost(records, x="latency_ms")   # mIoU against CPU latency, one marker per run, per track
"""

from __future__ import annotations

import html
import io
import json
import os
import statistics
from pathlib import Path

from segedu import files
from segedu.experiments.results import counted, medians
from segedu.leaderboard.records import check_records, describe_key, load_runs, records_document
from segedu.leaderboard.verdicts import Verdict, check_claims

COSTS = {
    "latency_ms": "CPU latency per image (ms)",
    "params": "parameters",
    "train_seconds": "training time (s)",
}
"""Cost fields of a record that :func:`plot_cost` can put on its x axis, with axis labels."""

MARKERS = "osD^vP*Xhp<>"


def _fmt(value, digits: int = 3) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def claims_markdown(claims: list[Verdict]) -> str:
    """The claims as a Markdown table: claim, holds in every seed, smallest per-seed value, every seed."""
    if not claims:
        return "*These records decide none of the course's claims (the runs they compare are missing).*"
    lines = ["| claim | holds in every seed | needs | smallest | per seed |", "|---|---|---|---|---|"]
    for claim in claims:
        per_seed = "median" if not claim.seeds else ", ".join(f"{value:+.3f}" for value in claim.per_seed)
        lines.append(f"| {claim.text} | {'yes' if claim.holds else '**no**'} | {claim.needs:+.2f} | "
                     f"{claim.smallest:+.3f} | {per_seed} |")
    return "\n".join(lines)


def render_markdown(records: list[dict], claims: list[Verdict], note: str = "") -> str:
    """The leaderboard as Markdown: one table per track (medians over seeds), the claims, and the
    records that do not count (stopped before the end of their recipe). ``note`` goes under the title."""
    table = medians(records)
    lines = ["# segedu leaderboard", "",
             "Medians over seeds, scored on the test scenes; RF is the receptive field of the centre pixel",
             "(measured on the track's images, so at most their side); latency is one image of the track's size",
             "on one CPU thread. Regenerate with `make bench`.", ""]
    if note:
        lines += [note, ""]
    for track in dict.fromkeys(key[1] for key in table):
        rows = sorted(((k, v) for k, v in table.items() if k[1] == track), key=lambda kv: -(kv[1]["miou"] or 0))
        size, steps = rows[0][1]["image_size"], rows[0][1]["steps"]
        height, width = (size, size) if isinstance(size, int) else (size or (None, None))
        lines += [f"## {track}" + (f" ({height} x {width} images, {steps} steps)" if size else ""), "",
                  "| run | seeds | mIoU | boundary IoU | small | medium | large | params | RF px | train s | latency ms |",
                  "|---|---|---|---|---|---|---|---|---|---|---|"]
        for (run, _, labelled), row in rows:
            name = f"{run} ({labelled} labelled)" if labelled else run
            rf = (row["receptive_field"] or ["-"])[0]
            params = "-" if row["params"] is None else f"{row['params'] / 1e6:.2f} M"
            lines.append(
                f"| {name} | {row['seeds']} | {_fmt(row['miou'])} | {_fmt(row['boundary'])} | {_fmt(row['small'])} | "
                f"{_fmt(row['medium'])} | {_fmt(row['large'])} | {params} | {rf} | "
                f"{_fmt(row['train_seconds'], 0)} | {_fmt(row['latency_ms'], 1)} |")
        lines.append("")
    if claims:
        lines += ["## The course's claims", "", claims_markdown(claims), ""]
    stopped = [record for record in records if not record.get("completed")]
    if stopped:
        lines += ["## Runs that do not count", "",
                  "Stopped before the end of their recipe (undertrained): left out of every median and claim.", ""]
        lines += [f"* {describe_key(r)}: {r.get('stopped_by')} after {r.get('steps_done')} of {r.get('steps')} steps"
                  for r in stopped]
        lines.append("")
    return "\n".join(lines)


def plot_leaderboard(records: list[dict]):
    """Bar chart of mIoU per track and run (median over seeds, a dot per seed); returns the Figure."""
    from matplotlib.figure import Figure  # matplotlib: heavy, and only the pictures need it

    kept = counted(records)
    tracks = list(dict.fromkeys(r["track"] for r in kept))
    figure = Figure(figsize=(3.2 * max(len(tracks), 1), 3.6), layout="constrained")
    axes = figure.subplots(1, max(len(tracks), 1), squeeze=False)[0]
    for ax, track in zip(axes, tracks, strict=False):
        runs = list(dict.fromkeys((r["run"], r.get("labelled")) for r in kept if r["track"] == track))
        for x, (run, labelled) in enumerate(runs):
            values = [r["miou"] for r in kept if r["track"] == track and r["run"] == run
                      and r.get("labelled") == labelled]
            ax.bar(x, statistics.median(values), color="#4c72b0", alpha=0.8)
            ax.plot([x] * len(values), values, "k.", markersize=4)
        ax.set_xticks(range(len(runs)), [f"{run}@{labelled}" if labelled else run for run, labelled in runs],
                      rotation=60, ha="right", fontsize=8)
        ax.set_ylim(0, 1)
        ax.set_title(track)
        ax.grid(axis="y", alpha=0.3)
    axes[0].set_ylabel("test mIoU")
    return figure


def png_bytes(figure) -> bytes:
    """``figure`` rendered as PNG bytes (110 dpi)."""
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=110)
    return buffer.getvalue()


# -- accuracy against cost (notebook 09) ---------------------------------------------------------------


def cost_rows(records: list[dict]) -> list[dict]:
    """One row per (run, track, labelled), medians over seeds, best mIoU first within each track.

    Keys: ``run, track, labelled, seeds, miou, boundary, params, receptive_field`` (pixels, the
    centre pixel's), ``latency_ms, train_seconds, miou_per_ms`` (median mIoU / median latency).
    """
    rows = []
    for (run, track, labelled), row in medians(records).items():
        latency = row["latency_ms"]
        rows.append({
            "run": run, "track": track, "labelled": labelled, "seeds": row["seeds"], "miou": row["miou"],
            "boundary": row["boundary"], "params": row["params"],
            "receptive_field": (row["receptive_field"] or [None])[0],
            "latency_ms": latency, "train_seconds": row["train_seconds"],
            "miou_per_ms": None if not latency or row["miou"] is None else row["miou"] / latency,
        })
    tracks = list(dict.fromkeys(row["track"] for row in rows))
    return sorted(rows, key=lambda row: (tracks.index(row["track"]), -(row["miou"] or 0)))


def markdown_table(rows: list[dict]) -> str:
    """``rows`` of :func:`cost_rows` as one Markdown table (without ``miou_per_ms``: notebook 09's exercise 1
    asks the learner to find the best ratio)."""
    lines = ["| track | run | seeds | mIoU | params | RF px | latency ms | train s |",
             "|---|---|---|---|---|---|---|---|"]
    for row in rows:
        name = f"{row['run']} ({row['labelled']} labelled)" if row["labelled"] else row["run"]
        params = "-" if row["params"] is None else f"{row['params'] / 1e6:.2f} M"
        lines.append(f"| {row['track']} | {name} | {row['seeds']} | {_fmt(row['miou'])} | {params} | "
                     f"{row['receptive_field'] or '-'} | {_fmt(row['latency_ms'], 1)} | "
                     f"{_fmt(row['train_seconds'], 0)} |")
    return "\n".join(lines)


def plot_cost(records: list[dict], x: str = "latency_ms", title: str | None = None):
    """Median mIoU against a cost (``x``: a key of :data:`COSTS`), one panel per track, one marker
    per run (runs with a ``labelled`` limit are left out). Returns the matplotlib Figure.

    Every run keeps its colour and marker in every panel, and no two runs share both (colours
    repeat only after 20 runs, markers after 12); in each panel the runs are drawn worst first, so the
    best run's marker is on top where markers overlap.
    """
    from matplotlib import colormaps  # matplotlib: heavy, pictures only
    from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter  # matplotlib: heavy, pictures only

    from segedu.viz import new_figure  # imports matplotlib: heavy, pictures only

    if x not in COSTS:
        raise ValueError(f"x must be one of {tuple(COSTS)}, got {x!r}")
    rows = [row for row in cost_rows(records) if not row["labelled"] and row[x]]
    tracks = list(dict.fromkeys(row["track"] for row in rows))
    if not tracks:
        raise ValueError(f"no record with an mIoU and a {x} to plot")
    runs = list(dict.fromkeys(row["run"] for row in rows))
    figure = new_figure(figsize=(3.6 * len(tracks) + 1.4, 3.4), layout="constrained")
    axes = figure.subplots(1, len(tracks), squeeze=False, sharey=True)[0]
    strong_and_light = colormaps["tab20"].colors
    colours = strong_and_light[0::2] + strong_and_light[1::2]  # ten strong colours, then their light partners
    for ax, track in zip(axes, tracks, strict=True):
        track_rows = sorted((r for r in rows if r["track"] == track), key=lambda r: r["miou"])  # best drawn last
        for rank, row in enumerate(track_rows):
            index = runs.index(row["run"])
            ax.plot(row[x], row["miou"], MARKERS[index % len(MARKERS)], color=colours[index % len(colours)],
                    markersize=8, markeredgecolor="black", markeredgewidth=0.5, zorder=2 + rank, label=row["run"])
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
    figure.legend(handles.values(), handles.keys(), loc="outside right center", fontsize="small", title="run")
    figure.suptitle(title or "Accuracy against cost (up and to the left is better)")
    return figure


def _short_number(value, _position=None) -> str:
    """Tick label: 0.5, 3, 150, 20k, 1.5M."""
    for scale, suffix in ((1e6, "M"), (1e3, "k")):
        if value >= scale:
            return f"{value / scale:g}{suffix}"
    return f"{value:g}"


# -- your own runs ---------------------------------------------------------------------------------------

RUN_COLUMNS = (
    ("run", "run"), ("track", "track"), ("miou", "mIoU"), ("pixel_accuracy", "pixel acc."),
    ("boundary", "boundary IoU"), ("small", "small"), ("medium", "medium"), ("large", "large"),
    ("params", "parameters"), ("steps", "steps"), ("train_seconds", "train s"), ("source", "from"),
)


def _run_row(record: dict) -> dict:
    sizes = record.get("size_iou") or {}
    steps = record.get("steps_done")
    if steps is not None and not record.get("completed"):
        steps = f"{steps} of {record.get('steps')} (stopped)"
    return {"run": record.get("run"), "track": record.get("track"), "miou": record.get("miou"),
            "pixel_accuracy": record.get("pixel_accuracy"), "boundary": record.get("boundary"),
            "small": sizes.get("small"), "medium": sizes.get("medium"), "large": sizes.get("large"),
            "params": record.get("params"), "steps": steps, "train_seconds": record.get("train_seconds"),
            "source": record.get("source")}


def _cell(key: str, value) -> str:
    if value is None:
        return "-"
    if key == "params":
        return f"{value / 1e6:.2f} M" if value >= 1e5 else f"{value:,}"
    if key == "train_seconds":
        return f"{value:.0f}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)


class RunTable:
    """Records shown as a table (text ``repr`` and HTML in notebooks).

    Attributes:
        rows: one dict per record (keys of :data:`RUN_COLUMNS`).
        missing: run names that were asked for but have no record.
    """

    def __init__(self, records: list[dict], missing=()):
        self.rows = [_run_row(record) for record in records]
        self.missing = list(missing)

    def __len__(self) -> int:
        return len(self.rows)

    def __iter__(self):
        return iter(self.rows)

    def _columns(self):
        return [(key, title) for key, title in RUN_COLUMNS if any(row[key] is not None for row in self.rows)]

    def __repr__(self) -> str:
        if not self.rows:
            return "RunTable(no recorded runs)" + self._missing_note()
        columns = self._columns()
        cells = [[title for _, title in columns]] + [[_cell(k, row[k]) for k, _ in columns] for row in self.rows]
        widths = [max(len(line[i]) for line in cells) for i in range(len(columns))]
        lines = ["  ".join(text.ljust(width) for text, width in zip(line, widths, strict=True)) for line in cells]
        return "\n".join(lines) + self._missing_note()

    def _missing_note(self) -> str:
        return "\nnot recorded yet (run their notebook first): " + ", ".join(self.missing) if self.missing else ""

    def _repr_html_(self) -> str:
        columns = self._columns()
        head = "".join(f"<th>{html.escape(title)}</th>" for _, title in columns)
        body = "".join("<tr>" + "".join(f"<td>{html.escape(_cell(k, row[k]))}</td>" for k, _ in columns) + "</tr>"
                       for row in self.rows)
        note = f"<p>{html.escape(self._missing_note().strip())}</p>" if self.missing else ""
        return f"<table><tr>{head}</tr>{body}</table>{note}"


def my_runs(runs=None, track: str | None = None, path=None) -> RunTable:
    """A :class:`RunTable` of the latest record per (run, track) of your notebooks.

    ``runs``: only these run names, in this order; ``track``: only this track.
    """
    records = [r for r in load_runs(path) if track is None or r.get("track") == track]
    latest = {}
    for record in sorted(records, key=lambda r: r.get("date") or ""):
        latest.pop((record["run"], record["track"]), None)  # re-insert: keep the order of the latest runs
        latest[(record["run"], record["track"])] = record
    records = list(latest.values())
    missing = []
    if runs is not None:
        runs = list(runs)
        missing = [run for run in runs if not any(r["run"] == run for r in records)]
        records = sorted((r for r in records if r["run"] in runs), key=lambda r: runs.index(r["run"]))
    return RunTable(records, missing)


# -- the three files of a leaderboard ------------------------------------------------------------------


def write_leaderboard(records: list[dict], folder, note: str = "") -> str:
    """Write ``leaderboard.json``, ``.md`` and ``.png`` of ``records`` into ``folder``, as one unit.

    Everything is checked and made in memory first; then the three files are written to temporary
    files and renamed over the old ones, so that an error never leaves a new ``.json`` beside an old
    ``.md``. Returns the Markdown.
    """
    folder = Path(folder)
    check_records(records, "the leaderboard's records")
    markdown = render_markdown(records, check_claims(records), note)
    contents = {
        "leaderboard.json": (json.dumps(files.plain(records_document(records)), indent=1) + "\n").encode(),
        "leaderboard.md": markdown.encode(),
        "leaderboard.png": png_bytes(plot_leaderboard(records)),
    }
    folder.mkdir(parents=True, exist_ok=True)
    temporaries = {}
    try:
        for name, data in contents.items():
            temporaries[name] = files.write_atomically(folder / f".{name}.{os.getpid()}.staged",
                                                       lambda file, data=data: file.write(data), binary=True)
        for name, temporary in temporaries.items():
            os.replace(temporary, folder / name)
    finally:
        for temporary in temporaries.values():
            temporary.unlink(missing_ok=True)
    return markdown
