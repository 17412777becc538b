"""A voice-like audio track whose prosody follows the clip's vocal emotion (source-filter synthesis in numpy).

The voice is a harmonic source (a glottal-like pulse train with jitter and shimmer) shaped by vowel formants and a
spectral tilt, plus aspiration noise and short consonant bursts, organised in syllables and phrases. The emotion
sets the pitch level and range, the phrase contour, the syllable rate, the loudness, breathiness, tension (spectral
tilt) and tremor (:class:`ervlight.demo.profiles.Prosody`). The syllable envelope also drives the mouth of the
rendered face, so lips move with the voice. There are no words: the audio carries prosody and voice quality only.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from ervlight.demo.profiles import Prosody, blend_prosody
from ervlight.demo.spec import ClipSpec

__all__ = ["SAMPLE_RATE", "Voice", "synthesize_voice"]

#: Sample rate of the synthetic audio (Hz); the mp4 carries it as AAC at this rate.
SAMPLE_RATE = 16000
_CONTROL = 80  # samples per control step (5 ms)
# (F1, F2, F3) in Hz of five vowels for an adult low voice; scaled by the identity's formant scale.
_VOWELS = np.array(
    [[730, 1090, 2440], [530, 1840, 2480], [270, 2290, 3010], [570, 840, 2410], [300, 870, 2240]]
)
_BANDWIDTHS = np.array([90.0, 110.0, 170.0])


@dataclass(frozen=True)
class Voice:
    """The synthesised track: ``audio`` float32 ``[S]`` in [-1, 1] and ``mouth`` opening per video frame ``[T]``."""

    audio: np.ndarray  # [S]
    mouth: np.ndarray  # [T]


def _syllables(rng: np.random.Generator, duration: float, rate: float, irregular: float) -> np.ndarray:
    """Syllable table ``[N, 4]``: start (s), length (s), vowel index, stress in [0, 1]; phrases split by pauses."""
    rows: list[tuple[float, float, float, float]] = []
    t = float(rng.uniform(0.05, 0.3))
    while t < duration - 0.15:
        for _ in range(int(rng.integers(3, 8))):
            length = float(rng.uniform(0.7, 1.3)) / rate
            if t + length > duration - 0.05:
                break
            rows.append((t, length, float(rng.integers(0, len(_VOWELS))), float(rng.random())))
            t += length
        t += float(rng.uniform(0.12, 0.35) * (1.0 + 2.0 * irregular * rng.random()))
    return np.array(rows, dtype=float).reshape(-1, 4)


def _contours(
    rng: np.random.Generator, syllables: np.ndarray, prosody: Prosody, f0: float, steps: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Pitch (Hz), amplitude and vowel index per control step (``[steps]`` each)."""
    times = np.arange(steps) * _CONTROL / SAMPLE_RATE
    semitones = np.full(steps, prosody.pitch_shift)
    amplitude = np.zeros(steps)
    vowel = np.zeros(steps, dtype=int)
    phrase_start = syllables[0, 0] if len(syllables) else 0.0
    for i, (start, length, v, stress) in enumerate(syllables):
        if i and start - (syllables[i - 1, 0] + syllables[i - 1, 1]) > 0.05:
            phrase_start = start
        inside = (times >= start) & (times < start + length)
        local = (times[inside] - start) / length
        accent = prosody.pitch_range * (0.5 + 2.5 * stress) * np.sin(np.pi * local)
        slope = prosody.final_slope * np.clip((times[inside] - phrase_start) / 1.2, 0, 1)
        semitones[inside] += accent + slope
        attack = np.clip(local / 0.15, 0, 1) * np.clip((1 - local) / 0.3, 0, 1)
        amplitude[inside] = attack * (0.7 + 0.3 * stress)
        vowel[inside] = int(v)
    tremor = prosody.tremor * np.sin(2 * np.pi * rng.uniform(4.5, 7.0) * times + rng.uniform(0, 6.3))
    drift = np.cumsum(rng.normal(0, 0.15, steps))
    drift -= np.linspace(drift[0], drift[-1], steps) if steps > 1 else 0.0
    semitones += 0.8 * tremor + 0.3 * drift
    amplitude *= 1.0 + 0.3 * tremor + rng.normal(0, 0.04, steps)  # shimmer
    return f0 * 2.0 ** (semitones / 12.0), np.clip(amplitude, 0, None), vowel


def _harmonics(
    pitch: np.ndarray, amplitude: np.ndarray, vowel: np.ndarray, prosody: Prosody, formant_scale: float
) -> np.ndarray:
    """Formant-filtered harmonic source: sum of harmonics with a spectral envelope per control step ``[S]``."""
    samples = len(pitch) * _CONTROL
    k = np.arange(1, int(4000 / pitch.min()) + 1)[:, None]  # [K, 1]
    freqs = k * pitch[None, :]  # [K, steps]
    formants = _VOWELS[vowel].T * formant_scale  # [3, steps]
    bandwidth = _BANDWIDTHS * (1.0 + prosody.breathiness)
    envelope = sum(1.0 / (1.0 + ((freqs - formants[j]) / bandwidth[j]) ** 2) for j in range(3))  # [K, steps]
    tilt = (freqs / 100.0) ** -(2.2 - 1.6 * prosody.tension)
    gains = envelope * tilt * amplitude[None, :] * (freqs < 7000)  # [K, steps]
    step_of_sample = np.arange(samples) / _CONTROL
    pitch_s = np.interp(step_of_sample, np.arange(len(pitch)), pitch)  # [S]
    phase = 2 * np.pi * np.cumsum(pitch_s) / SAMPLE_RATE  # [S]
    signal = np.zeros(samples)
    for h in range(k.shape[0]):
        signal += np.interp(step_of_sample, np.arange(len(pitch)), gains[h]) * np.sin((h + 1) * phase)
    return signal


def _noise(
    rng: np.random.Generator, amplitude: np.ndarray, syllables: np.ndarray, prosody: Prosody
) -> np.ndarray:
    """Aspiration noise following the syllable envelope plus consonant bursts at syllable onsets ``[S]``."""
    samples = len(amplitude) * _CONTROL
    envelope = np.repeat(amplitude, _CONTROL)
    white = rng.normal(0, 1, samples + 1)
    hiss = np.diff(white)  # high-pass: aspiration and frication are bright
    out = 0.5 * prosody.breathiness * envelope * hiss
    for start, *_ in syllables:
        a = int(start * SAMPLE_RATE)
        n = min(int(rng.uniform(0.015, 0.05) * SAMPLE_RATE), samples - a)
        if n > 0 and rng.random() < 0.7:
            out[a : a + n] += rng.uniform(0.2, 0.6) * hiss[a : a + n] * np.hanning(n)
    return out


def synthesize_voice(spec: ClipSpec) -> Voice:
    """Synthesise the clip's voice (emotion from ``spec.voice``) and the per-frame mouth opening that it implies."""
    rng = np.random.default_rng([spec.seed, 1])
    prosody = blend_prosody(spec.voice)
    identity = spec.identity
    steps = int(np.ceil(spec.duration_s * SAMPLE_RATE / _CONTROL))
    rate = max(1.5, prosody.rate * identity.speech_rate)
    syllables = _syllables(rng, spec.duration_s, rate, prosody.tremor)
    pitch, amplitude, vowel = _contours(rng, syllables, prosody, identity.f0, steps)
    voiced = _harmonics(pitch, amplitude, vowel, prosody, identity.formant_scale)
    voiced /= np.sqrt(np.mean(voiced**2)) + 1e-8
    signal = voiced + _noise(rng, amplitude, syllables, prosody) * 2.0
    level = 0.06 * 10.0 ** (prosody.loudness_db / 20.0) * rng.uniform(0.8, 1.25)
    signal = signal * level + rng.normal(0, 0.002, len(signal))  # room noise floor
    audio = np.clip(signal[: round(spec.duration_s * SAMPLE_RATE)], -1.0, 1.0).astype(np.float32)
    frame_steps = SAMPLE_RATE / _CONTROL / spec.fps
    index = np.minimum((np.arange(spec.num_frames) * frame_steps).astype(int), steps - 1)
    loud = 10.0 ** (prosody.loudness_db / 40.0)
    mouth = np.clip(amplitude[index] * loud, 0.0, 1.5).astype(np.float32)
    return Voice(audio=audio, mouth=mouth)
