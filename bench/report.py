"""Figures, their targets, and how they are shown: a table on the terminal,
JSON for the record, and the lateness plot."""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path


@dataclass
class Figure:
    scenario: str
    name: str
    value: float | None
    unit: str
    target: str = ""
    # Whether the target is met; None when the figure has no target.
    met: bool | None = None
    note: str = ""

    def shown(self) -> str:
        if self.value is None:
            return "n/a"
        if self.value == math.inf:
            return "∞" if self.unit == "×" else "never"
        if self.unit == "s" and abs(self.value) < 0.01:
            return f"{self.value * 1000:.1f} ms"
        if self.unit == "s" and abs(self.value) < 1:
            return f"{self.value * 1000:.0f} ms"
        if abs(self.value) >= 100 or float(self.value).is_integer():
            return f"{self.value:,.0f} {self.unit}".strip()
        return f"{self.value:.2f} {self.unit}".strip()


@dataclass
class Results:
    figures: list[Figure] = field(default_factory=list)
    # Lateness samples per design for the plot, in seconds, and how many
    # posts of each were never published within the run.
    lateness: dict[str, list[float]] = field(default_factory=dict)
    unpublished: dict[str, int] = field(default_factory=dict)
    explain: str = ""
    # The slowest query of each page the admin scenario measured, with its plan.
    plans: dict[str, str] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)

    def add(self, scenario: str, name: str, value: float | None, unit: str, *, target: str = "",
            check: Callable[[float], bool] | None = None, note: str = "") -> Figure:
        met = None if check is None or value is None else bool(check(value))
        figure = Figure(scenario, name, value, unit, target, met, note)
        self.figures.append(figure)
        print(f"  {name}: {figure.shown()}" + (f"  (target {target}: {'met' if met else 'MISSED'})" if target else ""),
              flush=True)
        return figure

    def table(self) -> str:
        lines = ["| scenario | measure | value | target | met |", "|---|---|---|---|---|"]
        for f in self.figures:
            met = "" if f.met is None else ("yes" if f.met else "**no**")
            lines.append(f"| {f.scenario} | {f.name} | {f.shown()} | {f.target} | {met} |")
        return "\n".join(lines)

    def save(self, path: Path) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps({
            "figures": [asdict(f) for f in self.figures],
            "lateness": self.lateness,
            "unpublished": self.unpublished,
            "explain": self.explain,
            "plans": self.plans,
            "notes": self.notes,
        }, indent=1))


def percentile(values: list[float], q: float, *, missing: int = 0) -> float:
    """The q-th percentile (0..100, linear between ranks). Posts that never
    arrived count as infinitely late, so a percentile they reach is inf."""
    data = sorted(values) + [math.inf] * missing
    if not data:
        return math.nan
    rank = (len(data) - 1) * q / 100
    low, high = math.floor(rank), math.ceil(rank)
    if data[high] == math.inf:
        return math.inf
    return data[low] + (data[high] - data[low]) * (rank - low)


def plot_lateness(lateness: dict[str, list[float]], unpublished: dict[str, int], path: Path, *, title: str) -> None:
    """One empirical CDF per design and backlog (solid: nothing else pending,
    dashed: many pending) on a log time axis: how late the n-th percent of
    posts was."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not any(label.endswith("pending") for label in lateness):
        return  # only the burst ran: another load, not plotted
    path.parent.mkdir(parents=True, exist_ok=True)
    fig, ax = plt.subplots(figsize=(10, 6.4), dpi=110)
    colours = {}
    for label, values in lateness.items():
        design, _, pending = label.rpartition(", ")
        if not pending.endswith("pending"):
            continue  # the burst is another load
        colour = colours.setdefault(design, f"C{len(colours)}")
        data = sorted(max(v, 1e-3) for v in values)
        if not data:
            continue
        # Posts never published count in the whole: such a line stops below 100 %.
        missing = unpublished.get(label, 0)
        fractions = [100 * (n + 1) / (len(data) + missing) for n in range(len(data))]
        p99 = percentile(values, 99, missing=missing)
        never = f"; {missing:,} never published" if missing else ""
        ax.step(data, fractions, where="post", linewidth=2, color=colour,
                linestyle="-" if pending.startswith("0 ") else "--", label=f"{label} (p99 {_short(p99)}{never})")
    ax.set_xscale("log")
    ax.set_xlabel("lateness: arrival on the sandbox − scheduled time (seconds, log scale)")
    ax.set_ylabel("posts at most this late (%)")
    ax.set_ylim(0, 101)
    ax.axhline(99, color="grey", linewidth=0.8, linestyle=":")
    ax.grid(True, which="both", alpha=0.3)
    ax.set_title(title)
    fig.legend(loc="lower center", ncol=2, fontsize="small", frameon=False)
    fig.tight_layout(rect=(0, 0.14, 1, 1))
    fig.savefig(path)
    plt.close(fig)


def _short(seconds: float) -> str:
    if seconds == math.inf:
        return "never"
    return f"{seconds * 1000:.0f} ms" if seconds < 1 else f"{seconds:.1f} s"
