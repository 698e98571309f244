"""Sticky, monotone canary bucketing of tokens by MurmurHash3.

A token's bucket is ``murmur3_x86_32(token, seed=0)`` as an unsigned 32-bit
integer; it is active at sampling ``p`` when ``bucket < p * 2**32``. Hence:

* **sticky** -- the same token always lands in the same bucket, in every
  process, on every platform and Python version (MurmurHash3 is specified
  bit-for-bit; seed 0 makes it reproducible in any language:
  ``mmh3.hash("token-0", 0, False)``);
* **monotone** -- a token active at ``p`` stays active at every ``p' > p``,
  so raising the canary only ever adds tokens;
* **uniform** -- the fraction of active tokens tracks ``p`` (within 1% over
  100k tokens, checked in the tests).
"""

from __future__ import annotations

import mmh3

__all__ = ["SEED", "bucket", "bucket_fraction", "is_active"]

SEED = 0
_SPACE = 4294967296.0  # 2**32


def bucket(token_id: str | bytes) -> int:
    """The token's unsigned 32-bit bucket."""
    return int(mmh3.hash(token_id, SEED, False))


def bucket_fraction(token_id: str | bytes) -> float:
    """The token's bucket as a fraction in [0, 1): active exactly when this is below the sampling."""
    return bucket(token_id) / _SPACE


def is_active(token_id: str | bytes, sampling: float) -> bool:
    """Whether ``token_id`` is inside a canary of size ``sampling`` (a fraction in [0, 1])."""
    return bool(mmh3.hash(token_id, SEED, False) < sampling * _SPACE)
