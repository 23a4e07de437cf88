"""Choosing a CRF for a target VMAF from a few probe encodes. Pure: the probe is passed in."""

from __future__ import annotations

from collections.abc import Callable

CRF_MIN = 12.0
CRF_MAX = 42.0
START_CRF = 23.0
# VMAF points lost per CRF step before anything is measured; typical 0.4 (static) to 1.4 (busy).
GUESS_SLOPE = 0.8
MAX_STEP = 8.0
SAFETY_CRF = 0.5  # an interpolated CRF was not measured: step back half a point


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
