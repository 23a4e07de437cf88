"""The encoder's decisions that need no video: CRF search, scene planning, denoise strength."""

from __future__ import annotations

import itertools
import math

import pytest
from hypothesis import given
from hypothesis import strategies as st

from livecart.video.analysis import MAX_SCENE_S, MIN_SCENE_S, denoise_filter, plan_scenes
from livecart.video.crf import CRF_MIN, FLOOR_DROP, SceneProbes, allocate_crf, search_crf


def curve(slope: float, at23: float):  # type: ignore[no-untyped-def]
    """VMAF falling with CRF, flattening near 100 like the real thing."""
    return lambda crf: min(99.5, at23 - slope * (crf - 23) - 0.02 * (crf - 23) ** 2)


@given(
    slope=st.floats(0.3, 1.6),
    at23=st.floats(80, 99),
    target=st.floats(85, 97),
)
def test_search_meets_the_target_when_it_can(slope: float, at23: float, target: float) -> None:
    measure = curve(slope, at23)
    crf, tried = search_crf(measure, target)
    assert 1 <= len(tried) <= 3
    if measure(CRF_MIN) >= target + 0.5:
        # Secant steps on a smooth curve land within half a VMAF point of the target.
        assert measure(crf) >= target - 0.5


def test_search_settles_near_the_highest_good_crf() -> None:
    measure = curve(1.0, 92.0)  # target 93 is met at CRF 22 (slightly above, the curve bends)
    crf, _ = search_crf(measure, 93.0)
    assert 21.0 <= crf <= 22.5
    assert measure(crf) >= 92.7


def test_search_extrapolates_down_when_every_probe_fails() -> None:
    crf, tried = search_crf(lambda c: 60.0 - c, 99.0, probes=2)
    assert crf < min(c for c, _ in tried)


def test_scenes_merge_short_cuts_and_split_long_scenes() -> None:
    scenes = plan_scenes(70.0, [0.5, 10.0, 11.0, 69.5], fps=25)
    assert scenes[0] == (0.0, 10.0)  # the cut at 0.5 s is too early, 11 s too close to 10
    assert all(e - s <= MAX_SCENE_S + 0.05 for s, e in scenes)
    assert all(e - s >= MIN_SCENE_S for s, e in scenes)
    assert scenes[-1][1] == 70.0
    assert all(a[1] == b[0] for a, b in itertools.pairwise(scenes))


@pytest.mark.parametrize(
    ("sigma", "denoised"), [(0.0, False), (1.0, False), (3.0, True), (9, True)]
)
def test_denoise_only_noisy_pictures(sigma: float, denoised: bool) -> None:
    assert bool(denoise_filter(sigma)) is denoised


# Probe figures of the benchmark's two-shot clip: a zooming fractal (each VMAF point costs
# hundreds of kbit/s) and a zooming test card (cheap).
FRACTAL = SceneProbes(4.0, [(23.0, 90.0, 2400.0), (18.75, 94.3, 4100.0), (19.5, 93.7, 3800.0)])
CARD = SceneProbes(4.0, [(23.0, 97.5, 900.0), (28.0, 94.1, 600.0), (29.0, 91.8, 560.0)])


def bits(scenes: list[SceneProbes], crfs: list[float]) -> float:
    return sum(s.seconds * math.exp(s.log_kbps(c)) for s, c in zip(scenes, crfs, strict=True))


def test_allocation_reaches_the_mean_for_fewer_bits_than_equal_quality() -> None:
    scenes = [FRACTAL, CARD]
    crfs = allocate_crf(scenes, 94.5)
    vmafs = [s.vmaf(c) for s, c in zip(scenes, crfs, strict=True)]
    assert sum(vmafs) / 2 >= 94.5
    assert min(vmafs) >= 94.5 - FLOOR_DROP
    equal = [allocate_crf([s], 94.5)[0] for s in scenes]
    assert bits(scenes, crfs) < 0.9 * bits(scenes, equal)


def test_one_scene_gets_the_highest_crf_that_reaches_the_target() -> None:
    (crf,) = allocate_crf([CARD], 95.0)
    assert CARD.vmaf(crf) >= 95.0 > CARD.vmaf(crf + 0.5)


def test_the_model_never_sells_quality_for_more_crf() -> None:
    odd = SceneProbes(1.0, [(20.0, 93.0, 800.0), (24.0, 93.5, 500.0)])  # a noisy measurement
    assert odd.vmaf(30.0) < odd.vmaf(24.0)
    assert odd.log_kbps(30.0) < odd.log_kbps(24.0)


def test_live_and_encoded_times_map_both_ways() -> None:
    from livecart.features.media.rules import encoded_ms, live_ms

    # Two runs: 4.7 s live with 3 s of pictures from 0.6 s in; then 8.7 s live, 7 s of pictures.
    shifts = [[0, 0, 600, 3000], [4700, 3000, 600, 7000]]
    assert encoded_ms(1000, []) == 1000 == live_ms(1000, [])
    assert encoded_ms(0, shifts) == 0  # before the first picture: the first picture
    assert encoded_ms(1600, shifts) == 1000
    assert encoded_ms(4500, shifts) == 3000  # after the last picture of run 1
    assert encoded_ms(6300, shifts) == 4000
    assert live_ms(4000, shifts) == 6300
    assert live_ms(1000, shifts) == 1600
