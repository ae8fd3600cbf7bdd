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


class Probe:
    """A peer whose reachability follows a script (the last answer repeats)."""

    def __init__(self, *answers: bool) -> None:
        self.answers = list(answers)
        self.calls = 0

    async def __call__(self) -> bool:
        self.calls += 1
        return self.answers.pop(0) if len(self.answers) > 1 else self.answers[0]


async def test_a_peer_that_refused_is_retried_the_moment_it_answers() -> None:
    from connectors.backoff import wait_for_peer

    probe = Probe(False, False, True)
    assert await wait_for_peer(30.0, probe, down=True, interval_s=0.01) is True
    assert probe.calls == 3
    probe = Probe(True)  # already back at the first probe
    assert await wait_for_peer(30.0, probe, down=True, interval_s=0.01) is True and probe.calls == 1


async def test_a_peer_that_answers_is_left_alone_for_the_whole_step() -> None:
    from connectors.backoff import wait_for_peer

    probe = Probe(True)
    assert await wait_for_peer(0.3, probe, down=False, interval_s=0.05) is False
    assert 2 <= probe.calls <= 7, "probed every interval, never more"
    # ... unless it goes away and comes back within the step
    probe = Probe(True, False, True)
    assert await wait_for_peer(30.0, probe, down=False, interval_s=0.01) is True and probe.calls == 3


async def test_tcp_probe_sees_a_listening_port_and_a_closed_one() -> None:
    import asyncio
    import socket

    from connectors.backoff import tcp_reachable

    server = await asyncio.start_server(lambda r, w: w.close(), "127.0.0.1", 0)
    port = server.sockets[0].getsockname()[1]
    assert await tcp_reachable("127.0.0.1", port)
    server.close()
    await server.wait_closed()
    with socket.socket() as s:  # a port nobody listens on
        s.bind(("127.0.0.1", 0))
        closed = s.getsockname()[1]
    assert not await tcp_reachable("127.0.0.1", closed)
