"""Startup objects are frozen out of the cyclic collector, and garbage among them is still collected."""

from __future__ import annotations

import asyncio
import gc
import weakref

import pytest

from gateway import gc_tuning


class Node:
    """A BaSyx-like element: it points to its parent and the parent to it (a cycle)."""

    def __init__(self, parent: Node | None = None) -> None:
        self.parent = parent
        self.children: list[Node] = []
        if parent is not None:
            parent.children.append(self)


def test_refreeze_collects_cycles_that_became_garbage_while_frozen() -> None:
    try:
        root = Node()
        old = Node(root)
        Node(old)  # old and its child point to each other
        gone = weakref.ref(old)
        assert gc_tuning.freeze() > 0
        root.children.clear()  # replaced, as through the REST API: now cyclic garbage, but frozen
        del old
        gc.collect()
        assert gone() is not None, "a frozen cycle is out of the collector's reach"
        assert gc_tuning.refreeze() > 0
        assert gone() is None, "renewing the freeze collected it"
        assert root.children == []
    finally:
        gc.unfreeze()


@pytest.mark.slow  # > 3 s on a loaded 2-core box: out of the fast lane
async def test_keep_frozen_freezes_renews_and_unfreezes_when_cancelled() -> None:
    try:
        root = Node()
        task = asyncio.create_task(gc_tuning.keep_frozen(interval_s=0.05))
        await asyncio.sleep(0)  # its first step freezes
        assert gc.get_freeze_count() > 0
        child = Node(root)
        Node(child)
        gone = weakref.ref(child)
        await asyncio.sleep(0.08)  # one renewal: the child is frozen now
        root.children.clear()
        del child
        for _ in range(100):  # the next renewal collects it
            if gone() is None:
                break
            await asyncio.sleep(0.02)
        assert gone() is None
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        assert gc.get_freeze_count() == 0, "a stopped gateway leaves nothing frozen"
    finally:
        gc.unfreeze()
