"""The clip spec sampler, the voice synthesiser and the face renderer: determinism, shapes and emotional effects."""

from dataclasses import replace

import numpy as np
import pytest

from ervlight.demo.face import expression_curve, render_face
from ervlight.demo.profiles import ACTION_UNITS, action_unit_vector, blend_prosody
from ervlight.demo.spec import KIND_PROBABILITIES, sample_clip
from ervlight.demo.voice import SAMPLE_RATE, synthesize_voice
from ervlight.labels import get_label_space


def test_spec_is_a_function_of_seed_dataset_and_id() -> None:
    one = sample_clip("mafw", "00025", "anger", 3, (2.0, 3.0))
    assert one == sample_clip("mafw", "00025", "anger", 3, (2.0, 3.0))
    assert one != sample_clip("mafw", "00026", "anger", 3, (2.0, 3.0))
    assert one != sample_clip("mafw", "00025", "anger", 4, (2.0, 3.0))
    assert one.concept == "anger"
    assert one.fps == 25
    assert one.size == 224
    assert 50 <= one.num_frames <= 75


@pytest.mark.parametrize("dataset", ["dfew", "mafw"])
def test_spec_content_by_kind(dataset: str) -> None:
    concepts = {c[0] for c in get_label_space(dataset).concepts}
    kinds = []
    for i in range(300):
        label = get_label_space(dataset).labels[i % 7]
        spec = sample_clip(dataset, f"{i + 1:05d}", label, 0, (2.0, 4.0))
        kinds.append(spec.kind)
        assert set(spec.face) | set(spec.voice) <= concepts - {"neutral"}
        if spec.kind == "conflicting":
            assert spec.carrier in ("face", "voice")
            assert spec.other != spec.concept
            shown = spec.face if spec.carrier == "face" else spec.voice
            assert set(shown) <= {spec.concept}
        else:
            assert spec.carrier == "both"
        if spec.kind == "ambiguous":
            assert spec.other in concepts
            assert spec.other != spec.concept
        if spec.concept != "neutral" and spec.kind != "conflicting":
            assert spec.face[spec.concept] > 0
            assert spec.voice[spec.concept] > 0
            assert max(spec.face, key=spec.face.__getitem__) == spec.concept
    assert set(kinds) == set(KIND_PROBABILITIES)


def test_action_units_and_prosody_blend() -> None:
    happy = action_unit_vector({"happiness": 1.0})
    assert happy[ACTION_UNITS.index("lip_corner_pull")] == 1.0
    assert happy[ACTION_UNITS.index("cheek_raise")] == 0.8
    assert action_unit_vector({"happiness": 0.5})[ACTION_UNITS.index("lip_corner_pull")] == 0.5
    assert not action_unit_vector({}).any()
    assert blend_prosody({}) == blend_prosody({"neutral": 1.0})
    half = blend_prosody({"anger": 0.5})
    assert half.loudness_db == pytest.approx(3.0)
    assert half.pitch_shift == pytest.approx(1.0)


def test_voice_shape_range_and_determinism() -> None:
    spec = sample_clip("dfew", "00001", "sad", 0, (2.0, 3.0))
    voice = synthesize_voice(spec)
    assert voice.audio.dtype == np.float32
    assert voice.audio.shape == (round(spec.num_frames / 25 * SAMPLE_RATE),)
    assert voice.mouth.shape == (spec.num_frames,)
    assert np.abs(voice.audio).max() <= 1.0
    assert voice.mouth.min() >= 0.0
    again = synthesize_voice(spec)
    assert np.array_equal(voice.audio, again.audio)
    assert np.array_equal(voice.mouth, again.mouth)


def _pitch(audio: np.ndarray) -> float:
    """Median autocorrelation pitch (Hz) of the loudest 40 ms windows."""
    window = 640
    frames = audio[: len(audio) // window * window].reshape(-1, window)
    loud = frames[np.argsort(-np.square(frames).sum(1))[:10]]
    pitches = []
    for frame in loud:
        ac = np.correlate(frame, frame, "full")[window - 1 :]
        lag = 40 + int(np.argmax(ac[40:320]))  # 50..400 Hz
        pitches.append(SAMPLE_RATE / lag)
    return float(np.median(pitches))


def test_voice_prosody_follows_the_emotion() -> None:
    base = sample_clip("mafw", "00100", "neutral", 0, (3.0, 3.0))
    angry = synthesize_voice(replace(base, voice={"anger": 1.0})).audio
    sad = synthesize_voice(replace(base, voice={"sadness": 1.0})).audio
    surprised = synthesize_voice(replace(base, voice={"surprise": 1.0})).audio
    rms = {name: float(np.sqrt(np.mean(a**2))) for name, a in [("angry", angry), ("sad", sad)]}
    assert rms["angry"] > 2.5 * rms["sad"]  # +6 dB vs -5 dB
    assert _pitch(surprised) > _pitch(sad) * 1.25  # +5 vs -2.5 semitones, wider range


def test_expression_curve() -> None:
    spec = replace(sample_clip("dfew", "00002", "happy", 0, (2.0, 2.0)), onset_s=0.4, ramp_s=0.4)
    curve = expression_curve(spec)
    assert curve.shape == (50,)
    assert (curve[:11] == 0).all()
    assert (curve[20:] == 1).all()
    assert np.all(np.diff(curve) >= 0)


def test_face_render_shape_determinism_and_expression() -> None:
    base = replace(sample_clip("dfew", "00003", "neutral", 0, (1.0, 1.0)), onset_s=0.2, ramp_s=0.2)
    mouth = np.zeros(base.num_frames, np.float32)
    frames = render_face(replace(base, face={"happiness": 1.0}), mouth)
    assert frames.shape == (25, 224, 224, 3)
    assert frames.dtype == np.uint8
    assert np.array_equal(frames, render_face(replace(base, face={"happiness": 1.0}), mouth))
    neutral = render_face(replace(base, face={}), mouth)
    # The same person: the frames differ from the neutral face once the smile is on, mostly around the mouth.
    change = np.abs(frames[-1].astype(int) - neutral[-1].astype(int)).sum(-1)
    assert change.sum() > 0
    lower, upper = change[120:200].sum(), change[:90].sum()
    assert lower > upper
