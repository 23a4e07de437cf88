"""Choosing CRFs for a target VMAF from a few probe encodes. Pure: the probes are passed in."""

from __future__ import annotations

import itertools
import math
from collections.abc import Callable
from dataclasses import dataclass

CRF_MIN = 4.0
CRF_MAX = 42.0
START_CRF = 23.0
# VMAF points lost per CRF step before anything is measured; typical 0.4 (static) to 1.4 (busy).
GUESS_SLOPE = 0.8
MAX_STEP = 8.0
SAFETY_CRF = 0.5  # an interpolated CRF was not measured: step back half a point
FLOOR_DROP = 3.0  # allocate_crf takes no scene more than this below the target
EXTRAPOLATE_CRF = 2.0  # nor this far past its probes: the model is straight


def search_crf(
    measure: Callable[[float], float],
    target: float,
    *,
    probes: int = 3,
    start: float = START_CRF,
) -> tuple[float, list[tuple[float, float]]]:
    """The highest CRF whose VMAF (from `measure(crf)`) is expected to reach `target`.

    Secant steps from `start`; returns (crf, [(crf, vmaf) probed]). A measured CRF that reaches
    the target is preferred to an interpolated one only when interpolation brackets nothing
    better. When no probe reaches the target, the answer is extrapolated (clamped to CRF_MIN).
    """
    tried: list[tuple[float, float]] = []
    crf = _clamp(start)
    for _ in range(max(1, probes)):
        vmaf = measure(crf)
        tried.append((crf, vmaf))
        nxt = _clamp(round(_next_crf(tried, target) * 4) / 4)
        if any(abs(nxt - c) < 0.25 for c, _ in tried):
            break
        crf = nxt
    return _choose(tried, target), tried


def _next_crf(tried: list[tuple[float, float]], target: float) -> float:
    crf, vmaf = tried[-1]
    slope = _slope(tried)
    step = (vmaf - target) / slope
    return crf + max(-MAX_STEP, min(MAX_STEP, step))


def _slope(tried: list[tuple[float, float]]) -> float:
    """VMAF lost per CRF point between the two nearest probes (a guess before there are two)."""
    if len(tried) < 2:
        return GUESS_SLOPE
    (c1, v1), (c2, v2) = sorted(tried[-2:])
    if c2 - c1 < 1e-6 or v1 <= v2:
        return GUESS_SLOPE
    return max(0.1, (v1 - v2) / (c2 - c1))


def _choose(tried: list[tuple[float, float]], target: float) -> float:
    passing = [c for c, v in tried if v >= target]
    failing = [c for c, v in tried if v < target]
    if passing and failing:
        lo = max(passing)
        hi_candidates = [c for c in failing if c > lo]
        if not hi_candidates:
            return lo
        hi = min(hi_candidates)
        v_lo = dict(tried)[lo]
        v_hi = dict(tried)[hi]
        between = lo + (hi - lo) * (v_lo - target) / (v_lo - v_hi)
        return round(max(lo, between - SAFETY_CRF) * 2) / 2
    if passing:
        # Every probe passed: the highest one, nudged up along the slope would be a guess.
        return max(passing)
    lowest = min(tried)
    guess = lowest[0] - (target - lowest[1]) / _slope(tried) - SAFETY_CRF
    return _clamp(round(guess * 2) / 2)


def _clamp(crf: float) -> float:
    return max(CRF_MIN, min(CRF_MAX, crf))


@dataclass(frozen=True)
class SceneProbes:
    """A scene's probe encodes: (crf, vmaf, kbps) points, its length (its weight) and the VMAF
    of a perfect copy (the most any CRF can reach)."""

    seconds: float
    points: list[tuple[float, float, float]]
    ceiling: float = 100.0

    def vmaf(self, crf: float) -> float:
        return _interpolate([(c, v) for c, v, _ in self.points], crf, -GUESS_SLOPE)

    def log_kbps(self, crf: float) -> float:
        # x264's rate roughly halves every 6 CRF points: the slope when one probe is all we have.
        pts = [(c, math.log(max(k, 1e-3))) for c, _, k in self.points]
        return _interpolate(pts, crf, -math.log(2) / 6)


def allocate_crf(
    scenes: list[SceneProbes], target: float, *, floor_drop: float = FLOOR_DROP
) -> list[float]:
    """A CRF per scene so the length-weighted mean VMAF reaches `target` for the fewest bits.

    Equal quality everywhere is not the cheapest way to a mean: a scene where each VMAF point
    costs many bits (fine moving detail) gives up a little, a cheap one gains it back. The trade
    is made with one price per VMAF point (a Lagrange multiplier) found by bisection; no scene is
    taken below `target - floor_drop`, nor more than EXTRAPOLATE_CRF past its probes.
    """
    grids = [_grid(s, target - floor_drop) for s in scenes]
    total = sum(s.seconds for s in scenes)

    def pick(price: float) -> list[tuple[float, float, float]]:
        return [min(g, key=lambda p: math.exp(p[2]) - price * p[1]) for g in grids]

    def mean_vmaf(choice: list[tuple[float, float, float]]) -> float:
        return sum(s.seconds * c[1] for s, c in zip(scenes, choice, strict=True)) / total

    lo, hi = 0.0, 1.0
    while mean_vmaf(pick(hi)) < target and hi < 1e9:
        hi *= 4
    for _ in range(60):
        mid = (lo + hi) / 2
        if mean_vmaf(pick(mid)) >= target:
            hi = mid
        else:
            lo = mid
    return [c[0] for c in pick(hi)]


def _grid(scene: SceneProbes, floor: float) -> list[tuple[float, float, float]]:
    """(crf, vmaf, log kbps) on half-CRF steps around the probes, at or above the floor."""
    crfs = [c for c, _, _ in scene.points]
    lo = max(CRF_MIN, min(crfs) - EXTRAPOLATE_CRF)
    hi = min(CRF_MAX, max(crfs) + EXTRAPOLATE_CRF)
    steps = [lo + 0.5 * i for i in range(int((hi - lo) / 0.5) + 1)]
    grid = [(c, scene.vmaf(c), scene.log_kbps(c)) for c in steps]
    above = [g for g in grid if g[1] >= floor]
    return above or [grid[0]]


def _interpolate(points: list[tuple[float, float]], x: float, default_slope: float) -> float:
    """Piecewise linear through the points, straight on past the ends; falling in x (more CRF
    never buys quality or bits), so a rising end segment gives way to `default_slope`."""
    pts = sorted(dict(points).items())
    if len(pts) == 1:
        (x1, y1), (x2, y2) = pts[0], (pts[0][0] + 1, pts[0][1] + default_slope)
    elif x <= pts[0][0]:
        (x1, y1), (x2, y2) = pts[0], pts[1]
    elif x >= pts[-1][0]:
        (x1, y1), (x2, y2) = pts[-2], pts[-1]
    else:
        (x1, y1), (x2, y2) = next((a, b) for a, b in itertools.pairwise(pts) if a[0] <= x <= b[0])
    slope = (y2 - y1) / (x2 - x1)
    inside = pts[0][0] <= x <= pts[-1][0]
    if slope >= 0 and not inside:
        slope = default_slope
    anchor = (x1, y1) if x <= x1 or inside else (x2, y2)
    return anchor[1] + slope * (x - anchor[0])
