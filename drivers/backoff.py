"""Jittered exponential backoff for reconnecting drivers (serial, LLRP, ...).

"Full jitter": attempt *n* waits a uniform random time in ``[0, min(cap, base * factor**n)]``
(with a floor of ``min_delay``), so a lane full of readers that lost power together does not
reconnect in lock-step.  :meth:`Backoff.reset` after a connection that stayed up.

>>> b = Backoff(base=0.5, factor=2.0, cap=8.0, rng=random.Random(1))
>>> delays = [b.next_delay() for _ in range(6)]
>>> all(0.0 <= d <= 8.0 for d in delays), b.attempt
(True, 6)
>>> [round(b.ceiling(n), 1) for n in range(6)]
[0.5, 1.0, 2.0, 4.0, 8.0, 8.0]
>>> b.reset(); b.attempt
0

``jitter=0`` gives the plain exponential sequence (useful in tests):

>>> b = Backoff(base=0.1, cap=1.0, jitter=0.0)
>>> [round(b.next_delay(), 2) for _ in range(5)]
[0.1, 0.2, 0.4, 0.8, 1.0]
"""

from __future__ import annotations

import asyncio
import random
from dataclasses import dataclass, field


@dataclass
class Backoff:
    """Delays for successive reconnect attempts.

    ``jitter`` is the fraction of the ceiling that is randomised: 1.0 is full jitter
    (uniform in ``[0, ceiling]``), 0.0 none, 0.5 uniform in ``[ceiling/2, ceiling]``.
    """

    base: float = 0.5
    factor: float = 2.0
    cap: float = 30.0
    jitter: float = 1.0
    min_delay: float = 0.0
    rng: random.Random = field(default_factory=random.Random, repr=False)
    attempt: int = 0

    def __post_init__(self) -> None:
        if self.base <= 0 or self.factor < 1 or self.cap < self.base or not 0.0 <= self.jitter <= 1.0:
            raise ValueError(f"invalid backoff parameters: {self!r}")

    def ceiling(self, attempt: int) -> float:
        """The un-jittered delay for ``attempt`` (0-based)."""
        # Cap the exponent so a long outage cannot overflow the float.
        return min(self.cap, self.base * self.factor ** min(attempt, 64))

    def next_delay(self) -> float:
        """The delay before the next attempt; advances the attempt counter."""
        top = self.ceiling(self.attempt)
        self.attempt += 1
        low = top * (1.0 - self.jitter)
        return max(self.min_delay, self.rng.uniform(low, top))

    async def sleep(self) -> float:
        """``await asyncio.sleep(next_delay())``; returns the delay slept."""
        delay = self.next_delay()
        await asyncio.sleep(delay)
        return delay

    def reset(self) -> None:
        self.attempt = 0
