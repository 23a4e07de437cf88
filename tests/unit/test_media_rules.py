"""The video path's pure rules: playlists, PDT correction, server time → video time, 看点."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from livecart.features.media import rules

T0 = datetime(2026, 11, 25, 12, 0, 0, tzinfo=UTC)

RUN = """#EXTM3U
#EXT-X-VERSION:6
#EXT-X-TARGETDURATION:1
#EXT-X-MEDIA-SEQUENCE:0
#EXT-X-PLAYLIST-TYPE:EVENT
#EXT-X-INDEPENDENT-SEGMENTS
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:00.000+0000
r001-00000.ts
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:01.000+0000
r001-00001.ts
#EXTINF:1.000000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:02.000+0000
../../etc/passwd
#EXTINF:0.500000,
#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:03.000+0000
r001-00003.ts
#EXT-X-ENDLIST
"""


def seg(n: int, start_s: float, run: int = 1, dur: float = 1.0) -> rules.Segment:
    return rules.Segment(f"r{run:03d}-{n:05d}.ts", dur, T0 + timedelta(seconds=start_s), run)


def test_parse_keeps_our_segments_only() -> None:
    parsed = rules.parse_run_playlist(RUN, 1)
    assert [s.uri for s in parsed.segments] == ["r001-00000.ts", "r001-00001.ts", "r001-00003.ts"]
    assert parsed.ended
    assert parsed.segments[0].pdt == T0
    assert parsed.segments[2].duration == 0.5


def test_correction_moves_stamps_to_arrival() -> None:
    # Stamped 2 s late: the first two were written in a burst, the rest as they arrived.
    stamped = [seg(i, i + 2.0) for i in range(5)]
    written = [T0 + timedelta(seconds=s) for s in (2.1, 2.15, 3.0, 4.0, 5.0)]
    segs = [
        rules.Segment(s.uri, s.duration, s.pdt, 1, w) for s, w in zip(stamped, written, strict=True)
    ]
    fixed = rules.corrected(segs)
    assert fixed[0].pdt == T0
    assert fixed[4].pdt == T0 + timedelta(seconds=4)


def test_render_joins_runs_with_a_discontinuity_and_ends_with_endlist() -> None:
    text = rules.render_playlist([[seg(0, 0), seg(1, 1)], [seg(0, 10, run=2)]], ended=True)
    assert text.count("#EXT-X-DISCONTINUITY\n") == 1
    assert text.strip().endswith("#EXT-X-ENDLIST")
    assert "#EXT-X-PLAYLIST-TYPE:VOD" in text
    assert "#EXT-X-PROGRAM-DATE-TIME:2026-11-25T12:00:10.000Z" in text
    live = rules.render_playlist([[seg(0, 0)]], ended=False)
    assert "#EXT-X-ENDLIST" not in live
    assert "#EXT-X-PLAYLIST-TYPE:EVENT" in live


def test_video_time_follows_segments_across_a_gap() -> None:
    timeline = rules.Timeline.of([seg(0, 0), seg(1, 1), seg(0, 10, run=2), seg(1, 11, run=2)])
    assert timeline.duration_ms == 4000
    assert timeline.video_ms(T0 - timedelta(seconds=5)) == 0
    assert timeline.video_ms(T0 + timedelta(milliseconds=1500)) == 1500
    assert timeline.video_ms(T0 + timedelta(seconds=5)) == 2000  # in the gap: where run 2 starts
    assert timeline.video_ms(T0 + timedelta(milliseconds=10_250)) == 2250
    assert timeline.video_ms(T0 + timedelta(hours=1)) == 4000


def test_product_markers_and_highlights() -> None:
    timeline = rules.Timeline.of([seg(i, i) for i in range(60)])
    spans = [
        rules.ExplainedSpan(7, T0 + timedelta(seconds=5), T0 + timedelta(seconds=20)),
        rules.ExplainedSpan(8, T0 + timedelta(seconds=20), None),
    ]
    markers = rules.product_markers(spans, timeline, {7: "Tea", 8: "Cup"})
    assert [(m.start_ms, m.end_ms, m.label) for m in markers] == [
        (5000, 20000, "Tea"),
        (20000, 60000, "Cup"),
    ]
    chat = [T0 + timedelta(seconds=31 + i / 10) for i in range(8)]
    chat += [T0 + timedelta(seconds=45), T0 + timedelta(seconds=46)]
    drops = [T0 + timedelta(seconds=52)]
    top = rules.rank_highlights(chat=chat, drops=drops, timeline=timeline, taken=markers)
    assert [(h.start_ms, h.label) for h in top] == [
        (30000, "chat"),
        (50000, "drop"),
        (40000, "chat"),
    ]


def test_chapters_vtt() -> None:
    text = rules.chapters_vtt([(0, 61_500, "Tea --> cup"), (61_500, 3_723_004, "")])
    assert text.startswith("WEBVTT\n\n1\n00:00:00.000 --> 00:01:01.500\nTea → cup\n")
    assert "01:02:03.004" in text
    assert "Chapter 2" in text
