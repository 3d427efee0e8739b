"""Server-rendered line charts (inline SVG, no JavaScript library): the same history gives
the same picture on every reload and in every tab."""

from __future__ import annotations

from dataclasses import dataclass

WIDTH = 320
HEIGHT = 90
PAD_X = 4
PAD_TOP = 8
PAD_BOTTOM = 14


@dataclass(frozen=True)
class Chart:
    id: str
    title: str
    unit: str
    points: str  # SVG polyline points
    area: str  # closed polygon under the line
    last: float | None
    max: float
    min: float
    first_height: int | None
    last_height: int | None
    count: int
    width: int = WIDTH
    height: int = HEIGHT


def line_chart(chart_id: str, title: str, series: list[tuple[int, float | None]], *, unit: str = "") -> Chart:
    """`series` is [(block height, value or None)], oldest first; None values are skipped."""
    values = [(h, float(v)) for h, v in series if v is not None]
    if not values:
        return Chart(chart_id, title, unit, "", "", None, 0.0, 0.0, None, None, 0)
    top = max(v for _, v in values)
    low = min(0.0, min(v for _, v in values))
    span = (top - low) or 1.0
    n = len(values)
    step = (WIDTH - 2 * PAD_X) / max(1, n - 1)
    plot_h = HEIGHT - PAD_TOP - PAD_BOTTOM
    coords = [(PAD_X + i * step if n > 1 else WIDTH / 2, PAD_TOP + plot_h * (1 - (v - low) / span))
              for i, (_, v) in enumerate(values)]
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in coords)
    base = PAD_TOP + plot_h
    area = f"{coords[0][0]:.1f},{base:.1f} {points} {coords[-1][0]:.1f},{base:.1f}"
    return Chart(chart_id, title, unit, points, area, values[-1][1], top, low, values[0][0], values[-1][0], n)


def dashboard_charts(history: list[dict]) -> list[Chart]:
    return [
        line_chart("chart-interval", "Block interval", [(b["height"], b["intervalS"]) for b in history], unit="s"),
        line_chart("chart-cranks", "Cranks per block", [(b["height"], b["cranks"]) for b in history]),
        line_chart("chart-kernel-ms", "Kernel time per block", [(b["height"], b["kernel_time_ms"]) for b in history],
                   unit="ms"),
        line_chart("chart-runqueue", "Run-queue after block", [(b["height"], b["runQueueLength"]) for b in history]),
        line_chart("chart-actionqueue", "Action queue after block",
                   [(b["height"], b["actionQueueLength"]) for b in history]),
    ]
