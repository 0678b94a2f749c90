"""Vectorised first-order recursive filters with carried state: the detector's DSP building blocks.

Every filter here is the first-order linear recurrence y[n] = a·y[n−1] + u[n], which numpy has no
primitive for (scipy's `lfilter` would do, but the project does not depend on scipy). It is solved
in closed form, y[n] = aⁿ·(a·y[−1] + Σₖ₌₀ⁿ a⁻ᵏ·u[k]), with one `cumsum` per block. Blocks are short
enough that a⁻ᵏ stays below 1e100 (no overflow); within a block the rounding error of the sum,
scaled back by aⁿ, stays at a few ulp of the output, so the result matches the sample-by-sample
loop to about 1e-12 relative whatever the block or packet boundaries.

All arrays are float64 and filtered along the last axis, so one call handles the three components.
"""

from __future__ import annotations

import functools
import math

import numpy as np
import numpy.typing as npt

Array = npt.NDArray[np.float64]

# a⁻ᵏ ≤ e^230 ≈ 1e100 inside a block: far from float64 overflow (1e308) even once multiplied by
# an input of 5000 gal, and the partial sums lose no precision that aⁿ does not scale away.
_MAX_EXPONENT = 230.0


def pole(corner_hz: float, sr: float) -> float:
    """The pole a = exp(−2π·f_c/sr) of a first-order filter with corner `corner_hz` at rate `sr`."""
    return math.exp(-2.0 * math.pi * corner_hz / sr)


@functools.lru_cache(maxsize=64)
def _powers(a: float, block: int) -> tuple[Array, Array]:
    """(a⁻ᵏ, aᵏ) for k = 0 … block−1, read-only (shared between calls through the cache)."""
    k = np.arange(block, dtype=np.float64)
    grow = np.power(a, -k)
    decay = np.power(a, k)
    grow.flags.writeable = False
    decay.flags.writeable = False
    return grow, decay


def recurrence(u: Array, a: float, y0: Array) -> Array:
    """Solve y[n] = a·y[n−1] + u[n] along the last axis of `u`, starting from y[−1] = `y0`.

    Args:
        u: Inputs, shape (..., n).
        a: The pole, 0 < a < 1.
        y0: The output before the first input, shape (...) (the carried state).

    Returns:
        The outputs, same shape as `u`; the new state is the last column.
    """
    if not 0.0 < a < 1.0:
        raise ValueError(f"pole {a} outside (0, 1)")
    n = u.shape[-1]
    out = np.empty_like(u)
    if n == 0:
        return out
    block = max(1, min(n, int(_MAX_EXPONENT / -math.log(a))))
    grow, decay = _powers(a, block)
    carry = np.asarray(y0, dtype=np.float64)
    for start in range(0, n, block):
        stop = min(start + block, n)
        m = stop - start
        sums = np.cumsum(u[..., start:stop] * grow[:m], axis=-1)
        out[..., start:stop] = decay[:m] * (a * carry[..., np.newaxis] + sums)
        carry = out[..., stop - 1]
    return out


def highpass(x: Array, a: float, x_prev: Array, y_prev: Array) -> Array:
    """First-order recursive high-pass (DC blocker): y[n] = a·(y[n−1] + x[n] − x[n−1]).

    Its response is a/(1 − a·z⁻¹)·(1 − z⁻¹): zero gain at DC, −3 dB near f_c for a = pole(f_c).

    Args:
        x: Raw samples, shape (..., n).
        a: The pole.
        x_prev: The raw sample before `x[..., 0]` (state).
        y_prev: The output before the first new one (state).

    Returns:
        The filtered samples; the new state is (`x[..., -1]`, result[..., -1]).
    """
    # x[n] − x[n−1] without np.diff(prepend=…), which costs more than the filter at 100 samples.
    diff = np.empty_like(x)
    diff[..., 0] = x[..., 0] - x_prev
    np.subtract(x[..., 1:], x[..., :-1], out=diff[..., 1:])
    diff *= a
    return recurrence(diff, a, y_prev)


def leaky_integral(x: Array, a: float, dt: float, y_prev: Array) -> Array:
    """Integrate with a leak: y[n] = a·y[n−1] + dt·x[n], i.e. 1/(s + ω_c) instead of 1/s.

    Following a high-pass of the same corner, it equals integration followed by that high-pass,
    so acceleration → displacement needs no separate baseline step after each integration.
    """
    return recurrence(dt * x, a, y_prev)
