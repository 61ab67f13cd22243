"""Tracking and voting: one read per vehicle pass, weighted by confidence, checked by grammar."""

from __future__ import annotations

import numpy as np
from underseal_device.camera.tracking import Tracker, iou
from underseal_device.camera.vote import vote
from underseal_device.ocr.recognizer import Candidate
from underseal_device.reads import Box, PlateRead


def read(
    box: Box, *options: tuple[str, float], det: float = 0.9, chars: float | None = None
) -> PlateRead:
    text, p = options[0]
    return PlateRead(
        box=box,
        quad=np.zeros((4, 2), np.float32),
        detection_confidence=det,
        text=text,
        confidence=p,
        char_confidences=tuple([p if chars is None else chars] * len(text)),
        candidates=tuple(Candidate(t, q) for t, q in options),
        crop=np.full((10, 20, 3), int(p * 255), np.uint8),
    )


def test_iou() -> None:
    assert iou((0, 0, 10, 10), (0, 0, 10, 10)) == 1.0
    assert iou((0, 0, 10, 10), (10, 10, 20, 20)) == 0.0
    assert iou((0, 0, 10, 10), (5, 0, 15, 10)) == 50 / 150


def test_two_vehicles_side_by_side_give_one_pass_each() -> None:
    tracker = Tracker(max_gap=0.25)
    ended = []
    for step in range(6):
        t = step * 0.1
        x = 10 + step * 30  # faster than its own width per frame: matched by centre distance
        ended += tracker.update(
            [
                read((x, 10, x + 20, 20), ("7ABC123", 0.9)),
                read((x, 80, x + 20, 90), ("5KXM209", 0.8)),
            ],
            t,
        )
    assert ended == []
    ended += tracker.update([], 1.0)
    assert len(ended) == 2
    best = sorted(p.best.text for p in ended if p.best)
    assert best == ["5KXM209", "7ABC123"]
    assert all(p.frames == 6 for p in ended)
    assert tracker.tracks == []


def test_a_gap_longer_than_max_gap_splits_a_track_into_two_passes() -> None:
    tracker = Tracker(max_gap=0.3)
    tracker.update([read((0, 0, 20, 10), ("7ABC123", 0.9))], 0.0)
    ended = tracker.update([read((0, 0, 20, 10), ("7ABC123", 0.9))], 1.0)
    assert len(ended) == 1
    assert len(tracker.flush()) == 1


def test_the_vote_is_weighted_by_confidence_and_keeps_runner_ups() -> None:
    reads = [
        read((0, 0, 1, 1), ("7ABC123", 0.9), ("7ABC128", 0.05)),
        read((0, 0, 1, 1), ("7ABC128", 0.6), ("7ABC123", 0.3)),
        read((0, 0, 1, 1), ("7ABC123", 0.8)),
        read((0, 0, 1, 1), ("7ABC128", 0.99), det=0.05),  # a weak detection counts little
    ]
    passed = vote(reads, first_seen=0, last_seen=1)
    assert [r.text for r in passed.readings] == ["7ABC123", "7ABC128"]
    total = 3 * 0.9 + 0.05
    assert passed.readings[0].probability == round((0.9 * 0.9 + 0.9 * 0.3 + 0.9 * 0.8) / total, 6)
    assert sum(r.probability for r in passed.readings) <= 1.0
    # The evidence crop is the most confident frame's.
    assert passed.crop[0, 0, 0] == int(0.9 * 255)


def test_the_per_character_vote_recovers_a_plate_no_frame_read_whole() -> None:
    reads = [
        read((0, 0, 1, 1), ("7ABC12X", 0.5), chars=0.5),
        read((0, 0, 1, 1), ("7AXC123", 0.5), chars=0.5),
        read((0, 0, 1, 1), ("XABC123", 0.5), chars=0.5),
    ]
    passed = vote(reads, first_seen=0, last_seen=1)
    assert "7ABC123" in [r.text for r in passed.readings]


def test_the_grammar_drops_sign_text_and_impossible_reads() -> None:
    passed = vote(
        [read((0, 0, 1, 1), ("CROSSWALK", 0.95), ("ABCDEFGHIJK", 0.03), ("7ABC123", 0.02))],
        first_seen=0,
        last_seen=0,
    )
    assert [r.text for r in passed.readings] == ["7ABC123"]
    assert passed.rejected == 2


def test_reprs_never_show_plate_text() -> None:
    r = read((0, 0, 1, 1), ("7ABC123", 0.9))
    passed = vote([r], first_seen=0, last_seen=0)
    tracker = Tracker()
    tracker.update([r], 0)
    for thing in (passed, passed.readings[0], tracker.tracks[0], tracker):
        assert "7ABC123" not in repr(thing)


def test_a_track_keeps_at_most_max_reads_and_the_best_ones() -> None:
    tracker = Tracker(max_reads=3)
    for i in range(10):
        tracker.update([read((0, 0, 20, 10), ("7ABC123", 0.1 + i * 0.05))], i * 0.01)
    kept = tracker.tracks[0].reads
    assert len(kept) == 3
    assert [round(r.confidence, 2) for r in kept] == [0.45, 0.5, 0.55]
