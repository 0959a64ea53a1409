"""GPU shots take turns through a Prefect global concurrency limit, across runs and processes."""

from __future__ import annotations

import threading
import time

import pytest

from reelgate.settings import GenerationSettings

pytestmark = pytest.mark.integration

FAKE_GPU = GenerationSettings(backend="tests.fakes:FakeGpuGenerator", width=320, height=180)


def _hold_in_threads(settings: GenerationSettings, count: int, hold_s: float) -> list[tuple[float, float]]:
    from tasks.generation import gpu_slot

    intervals: list[tuple[float, float]] = []
    errors: list[BaseException] = []

    def work() -> None:
        try:
            with gpu_slot(settings):
                start = time.monotonic()
                time.sleep(hold_s)
                intervals.append((start, time.monotonic()))
        except BaseException as exc:  # surfaced below: a thread's failure must fail the test
            errors.append(exc)

    threads = [threading.Thread(target=work) for _ in range(count)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(300)
    assert not errors, errors
    return sorted(intervals)


def _overlaps(intervals: list[tuple[float, float]]) -> bool:
    return any(b_start < a_end for (_, a_end), (b_start, _) in zip(intervals, intervals[1:]))


def test_one_gpu_slot_serialises_shots_and_two_let_them_overlap(prefect_server):
    from tasks.generation import ensure_gpu_limit

    ensure_gpu_limit(1)
    serial = _hold_in_threads(FAKE_GPU, 3, 0.6)
    print(f"\n1 slot: {[(round(a - serial[0][0], 2), round(b - serial[0][0], 2)) for a, b in serial]}")
    assert len(serial) == 3 and not _overlaps(serial)

    ensure_gpu_limit(2)
    parallel = _hold_in_threads(FAKE_GPU, 2, 1.5)
    assert len(parallel) == 2 and _overlaps(parallel)


def test_backends_without_a_gpu_never_wait_for_a_slot(prefect_server):
    from tasks.generation import ensure_gpu_limit, gpu_slot

    ensure_gpu_limit(1)
    holding = threading.Event()
    release = threading.Event()

    def hold_the_only_slot() -> None:
        with gpu_slot(FAKE_GPU):
            holding.set()
            release.wait(30)

    holder = threading.Thread(target=hold_the_only_slot)
    holder.start()
    try:
        assert holding.wait(30)
        started = time.monotonic()
        with gpu_slot(GenerationSettings(backend="animatic")):
            waited = time.monotonic() - started
        assert waited < 0.5
    finally:
        release.set()
        holder.join(30)


def test_a_shot_reports_how_long_it_queued_for_its_slot(prefect_server):
    """What each shot logs (and bench/scale_out.py adds up): its wait for the slot, apart from its rendering."""
    from tasks.generation import ensure_gpu_limit, gpu_slot

    ensure_gpu_limit(1)
    seen: list[tuple[float, float]] = []  # (measured here from asking to holding, reported by gpu_slot)
    errors: list[BaseException] = []

    def shot() -> None:
        try:
            asked = time.monotonic()
            with gpu_slot(FAKE_GPU) as slot:
                seen.append((time.monotonic() - asked, slot.waited_s))
                time.sleep(0.6)
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=shot) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    assert not errors, errors
    assert len(seen) == 3
    for measured, reported in seen:
        assert reported <= measured < reported + 0.1
    waits = sorted(reported for _, reported in seen)
    assert waits[-1] >= 1.0  # the last of three waited out two holds (0.6 s each) of the only slot
    with gpu_slot(GenerationSettings(backend="animatic")) as slot:
        assert slot.waited_s == 0.0


def test_a_shot_longer_than_its_lease_keeps_its_slot(prefect_server):
    """The lease (generation.gpu_lease_s) bounds how long a dead worker keeps the GPU, not how long a
    live shot may render: a live one renews it, and nobody else gets the slot meanwhile."""
    from tasks.generation import ensure_gpu_limit

    ensure_gpu_limit(1)
    short_lease = FAKE_GPU.model_copy(update={"gpu_lease_s": 60.0})  # the server's minimum
    intervals = _hold_in_threads(short_lease, 2, 75.0)  # each holds its slot past its first lease
    print(f"\nlease 60 s, two 75 s shots: {[(round(a - intervals[0][0], 1), round(b - intervals[0][0], 1)) for a, b in intervals]}")
    assert len(intervals) == 2 and not _overlaps(intervals)
