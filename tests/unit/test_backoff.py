import random

from connectors.backoff import Backoff


def test_grows_to_cap_with_bounded_jitter() -> None:
    b = Backoff(0.5, 8.0, 0.2, rng=random.Random(1))
    delays = [b.next_delay() for _ in range(10)]
    bases = [0.5, 1, 2, 4, 8, 8, 8, 8, 8, 8]
    for d, base in zip(delays, bases, strict=True):
        assert base * 0.8 <= d <= base * 1.2
    b.reset()
    assert b.next_delay() <= 0.6


def test_jitter_differs_between_instances() -> None:
    a = [Backoff(1, 30, 0.2, rng=random.Random(1)).next_delay() for _ in range(1)]
    b = [Backoff(1, 30, 0.2, rng=random.Random(2)).next_delay() for _ in range(1)]
    assert a != b
