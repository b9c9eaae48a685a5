"""The timeline picture's cost: matplotlib PNG (the older picture, baseline) against the inline SVG, side by side.

Runs the seed incident against the simulated account once, then renders its timeline N times each way in this
process (the first matplotlib call, which imports and builds its font cache, is reported apart).
Last line: `timeline-speedup: <png/svg>`.
"""

from __future__ import annotations

import os
import statistics
import time

from kit.collect.live import collect_live
from kit.diagnose import diagnose
from kit.simulate import SimulatedAccount
from kit.views.timeline import points_from_timeline, timeline_png, timeline_svg

ROUNDS = 20


def main() -> None:
    with SimulatedAccount(scenarios=["seed"]) as sim:
        os.environ.update(sim.environ())
        seeded = sim.scenario("seed")
        points = points_from_timeline(diagnose(collect_live(seeded.instance_id, seeded.region)).timeline)
    start = time.perf_counter()
    timeline_png(points, "first")
    first_png = time.perf_counter() - start
    figures = {}
    for name, draw in (("png (matplotlib)", timeline_png), ("svg (direct)", timeline_svg)):
        times = []
        for _ in range(ROUNDS):
            start = time.perf_counter()
            draw(points, "seed")
            times.append(time.perf_counter() - start)
        figures[name] = statistics.median(times)
    print(f"points: {len(points)}; first matplotlib picture (import, fonts): {first_png * 1000:.0f} ms")
    for name, seconds in figures.items():
        print(f"{name:18} median of {ROUNDS}: {seconds * 1000:8.2f} ms")
    print(f"timeline-speedup: {figures['png (matplotlib)'] / figures['svg (direct)']:.0f}")


if __name__ == "__main__":
    main()
