"""Independent, reproducible random streams: one per (seed, component, part).

A stream never depends on how many numbers another component drew, so adding an episode or
changing one log family leaves every other file byte-identical.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(part: str | int) -> int:
    return part if isinstance(part, int) else zlib.crc32(part.encode())


def rng_for(seed: int, *parts: str | int) -> np.random.Generator:
    return np.random.Generator(np.random.PCG64(np.random.SeedSequence(seed, spawn_key=tuple(map(_key, parts)))))
