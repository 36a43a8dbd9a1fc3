"""Is a prompt in a call's recording? Both are 8 kHz mono 16-bit WAV; the prompt's loudness
envelope (the RMS of 20 ms frames) is slid along the recording's, and the best normalised
correlation says how well it matches there (1.0: the same sound). An envelope survives the
codec and the mixing a recording goes through, and needs no numpy."""

from __future__ import annotations

import array
import math
import wave
from pathlib import Path

FRAME_S = 0.02
HOPS = 4  # the recording's envelope is taken every 5 ms, so a prompt matches at any offset


def envelope(path: Path, hops: int = 1) -> list[float]:
    with wave.open(str(path), "rb") as wav:
        if wav.getsampwidth() != 2 or wav.getnchannels() != 1:
            raise ValueError(f"{path}: not mono 16-bit")
        rate, raw = wav.getframerate(), wav.readframes(wav.getnframes())
    samples = array.array("h", raw)
    step = max(hops, int(rate * FRAME_S))
    return [math.sqrt(sum(s * s for s in samples[i:i + step]) / step)
            for i in range(0, len(samples) - step + 1, step // hops)]


def _centred(values: list[float]) -> tuple[list[float], float]:
    mean = sum(values) / len(values)
    centred = [v - mean for v in values]
    return centred, math.sqrt(sum(v * v for v in centred))


def best_match(prompt: Path, recording: Path) -> float:
    """The highest normalised correlation of ``prompt``'s envelope at any offset of
    ``recording``'s (0.0 when the recording is shorter than the prompt)."""
    needle, haystack = envelope(prompt), envelope(recording, HOPS)
    span = (len(needle) - 1) * HOPS + 1
    if not needle or len(haystack) < span:
        return 0.0
    template, norm = _centred(needle)
    best = 0.0
    for offset in range(len(haystack) - span + 1):
        window, window_norm = _centred(haystack[offset:offset + span:HOPS])
        if norm and window_norm:
            best = max(best, sum(a * b for a, b in zip(template, window, strict=True)) / (norm * window_norm))
    return best
