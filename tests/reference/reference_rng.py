"""Seeded numbers shared with the TypeScript tests.

A port of lib/util/rng.ts (splitmix32 seeding, xoshiro128** steps, `uniform(lo, hi)`), plus the per-tensor
seed rule of tests/helpers/reference.ts. Both sides do the same IEEE double operations and round to float32
the same way, so a tensor drawn here is bit-identical to the one the tests draw: random weights never need
to be committed, only the rule that makes them.
"""

import numpy as np

M32 = 0xFFFFFFFF


def _splitmix32(seed):
    s = seed & M32

    def step():
        nonlocal s
        s = (s + 0x9E3779B9) & M32
        z = s
        z = ((z ^ (z >> 16)) * 0x85EBCA6B) & M32
        z = ((z ^ (z >> 13)) * 0xC2B2AE35) & M32
        return (z ^ (z >> 16)) & M32

    return step


def _rotl(x, k):
    return ((x << k) | (x >> (32 - k))) & M32


class Rng:
    """xoshiro128** seeded through splitmix32, step for step as `createRng` in lib/util/rng.ts."""

    def __init__(self, seed):
        sm = _splitmix32(int(seed))
        self.s = [sm(), sm(), sm(), sm()]
        if not any(self.s):
            self.s[0] = 1

    def next_u32(self):
        s = self.s
        result = (_rotl((s[1] * 5) & M32, 7) * 9) & M32
        t = (s[1] << 9) & M32
        s[2] ^= s[0]
        s[3] ^= s[1]
        s[1] ^= s[2]
        s[0] ^= s[3]
        s[2] ^= t
        s[3] = _rotl(s[3], 11)
        return result

    def next(self):
        """Uniform float in [0, 1), as `Rng.next`."""
        return self.next_u32() / 4294967296

    def uniform(self, lo, hi):
        """Uniform float in [lo, hi), as `Rng.uniform` (same operations in the same order)."""
        return lo + (hi - lo) * (self.next_u32() / 4294967296)


def tensor_seed(seed, name):
    """The seed of one named tensor: FNV-1a (32-bit) over the UTF-8 bytes of `name`, started from `seed`."""
    h = (0x811C9DC5 ^ (seed & M32)) & M32
    for byte in name.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & M32
    return h


def uniform_tensor(seed, name, shape, low, high):
    """float32 array of `shape` (row-major) drawn as U[low, high) from the generator of `tensor_seed(seed, name)`."""
    rng = Rng(tensor_seed(seed, name))
    n = int(np.prod(shape)) if len(shape) else 1
    values = [rng.uniform(low, high) for _ in range(n)]
    return np.asarray(values, dtype=np.float64).astype(np.float32).reshape(shape)
