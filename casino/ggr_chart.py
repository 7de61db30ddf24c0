"""The support page's chart of daily GGR per provider: the geometry of an SVG bar chart,
computed here, drawn by casino/templates/reports.html as inline SVG elements -- no script,
no image fetched, so the page's Content-Security-Policy stays default-src 'none'.

One chart per currency (amounts of two currencies do not add up): a group of bars per day,
one bar per provider, up from the zero line for a day the casino won, down for one the
players won; the y axis labelled in major units.
"""
from dataclasses import dataclass, field
from datetime import timedelta

from .currencies import exponent, grouped

WIDTH, HEIGHT = 960, 240
LEFT, RIGHT, TOP, BOTTOM = 90, 10, 12, 28
PALETTE = ("#1d3557", "#e76f51", "#2a9d8f", "#e9c46a", "#8d5fd3", "#f4a261", "#457b9d", "#b5838d")


@dataclass
class Bar:
    day: str
    provider: str
    ggr: int
    x: float
    y: float
    width: float
    height: float
    color: str
    label: str


@dataclass
class Chart:
    currency: str
    width: int = WIDTH
    height: int = HEIGHT
    bars: list = field(default_factory=list)
    ticks: list = field(default_factory=list)      # (y, label)
    days: list = field(default_factory=list)       # (x, label), a label every few days
    legend: list = field(default_factory=list)     # (provider, color)
    zero: float = 0.0
    left: int = LEFT
    right: int = WIDTH - RIGHT


def _step(span):
    """A round step -- 1, 2 or 5 times a power of ten -- that cuts span into at most 5 parts."""
    magnitude = 10 ** (len(str(span // 5)) - 1)
    return next(magnitude * f for f in (1, 2, 5, 10) if span <= 5 * magnitude * f)


def charts(rows, start, end):
    """Charts of GGR rows grouped by day and provider (casino/reports.py), one per currency,
    over the days start..end."""
    days = [start + timedelta(days=n) for n in range((end - start).days + 1)]
    found = []
    # A row of no provider (the casino's bonus completions: NGR's, with no GGR) is no bar.
    played = [r for r in rows if r["provider"] is not None]
    for currency in sorted({r["currency"] for r in played}):
        mine = [r for r in played if r["currency"] == currency]
        providers = sorted({r["provider"] for r in mine})
        colors = {p: PALETTE[n % len(PALETTE)] for n, p in enumerate(providers)}
        values = {(r["day"], r["provider"]): r["ggr"] for r in mine}
        low, high = min(0, *values.values()), max(0, *values.values())
        step = _step(max(high - low, 10 ** exponent(currency)))
        low, high = (low // step) * step, -((-high) // step) * step
        plot_top, plot_bottom = TOP, HEIGHT - BOTTOM

        def y(value, low=low, high=high, plot_top=plot_top, plot_bottom=plot_bottom):
            return plot_bottom - (value - low) * (plot_bottom - plot_top) / (high - low)

        chart = Chart(currency, zero=y(0), legend=[(p, colors[p]) for p in providers])
        chart.ticks = [(y(v), grouped(v, currency)) for v in range(low, high + 1, step)]
        slot = (WIDTH - LEFT - RIGHT) / len(days)
        bar = slot * 0.8 / len(providers)
        every = max(1, len(days) // 12)
        for n, day in enumerate(days):
            x0 = LEFT + n * slot + slot * 0.1
            if n % every == 0:
                chart.days.append((LEFT + (n + 0.5) * slot, day.strftime("%d %b")))
            for k, provider in enumerate(providers):
                value = values.get((day.isoformat(), provider), 0)
                top, bottom = sorted((y(value), y(0)))
                chart.bars.append(Bar(day.isoformat(), provider, value, x0 + k * bar, top, bar,
                                      max(bottom - top, 0.5), colors[provider],
                                      f"{day.isoformat()} {provider}: GGR {grouped(value, currency)} {currency}"))
        found.append(chart)
    return found
