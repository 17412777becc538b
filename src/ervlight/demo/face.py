"""A rendered face whose expression follows facial action units over time (PIL drawing, numpy geometry).

Each frame draws a background, shoulders, a head (outline, hair, ears), brows, eyes with lids and irises, a nose
and lips from points in face coordinates (origin between the eyes' level and the mouth, unit = half the face
height, y downwards). Action units move those points (brows up, down and together; lids widened, tightened or
drooping; lip corners up or down; jaw drop; nose wrinkle; lip press …) and add wrinkle lines (forehead lines,
the vertical furrow between the brows, nasolabial folds). The expression follows an onset ramp; head pose sways,
the eyes blink and the mouth moves with the voice's syllables. Drawn at twice the size and downsampled, so edges
are smooth.
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageDraw

from ervlight.demo.profiles import ACTION_UNITS, action_unit_vector, blend_prosody
from ervlight.demo.spec import ClipSpec

__all__ = ["expression_curve", "render_face"]

_SUPERSAMPLE = 2
_AU = {name: i for i, name in enumerate(ACTION_UNITS)}
Colour = tuple[int, int, int]
_ELLIPSE_ANGLES = np.linspace(0, 2 * np.pi, 20, endpoint=False)
_CURVE_STEPS = {n: np.linspace(0, 1, n)[:, None] for n in (9,)}


def expression_curve(spec: ClipSpec) -> np.ndarray:
    """Expression strength per frame ``[T]`` in [0, 1]: zero before the onset, a smooth ramp, then held."""
    t = np.arange(spec.num_frames) / spec.fps
    x = np.clip((t - spec.onset_s) / spec.ramp_s, 0.0, 1.0)
    return x * x * (3 - 2 * x)


def _bezier(p0: np.ndarray, mid: np.ndarray, p2: np.ndarray, n: int = 9) -> np.ndarray:
    """Points ``[n, 2]`` of the quadratic curve from ``p0`` to ``p2`` passing through ``mid`` at its middle."""
    control = 2 * mid - (p0 + p2) / 2
    s = _CURVE_STEPS[n]
    return (1 - s) ** 2 * p0 + 2 * (1 - s) * s * control + s**2 * p2


def _background(spec: ClipSpec, size: int) -> Image.Image:
    """The clip's static background: a gradient or panels in the identity's two colours, with mild grain."""
    rng = np.random.default_rng([spec.seed, 2])
    a, b = (np.array(c, float) for c in spec.identity.background)
    ramp = np.linspace(0, 1, size)
    pattern = spec.identity.background_pattern
    if pattern == 0:
        weight = np.broadcast_to(ramp[:, None], (size, size))
    elif pattern == 1:
        weight = np.broadcast_to(ramp[None, :], (size, size))
    else:
        weight = np.broadcast_to((np.floor(ramp * rng.integers(2, 5)) % 2)[None, :], (size, size))
    grain = rng.normal(0, 3.0, (size // 2, size // 2, 1)).repeat(2, 0).repeat(2, 1)  # 2x2-pixel grain
    image = a + weight[..., None] * (b - a) + grain
    return Image.fromarray(np.clip(image, 0, 255).astype(np.uint8))


class _Canvas:
    """Maps face coordinates to pixels for one frame's head pose and draws on a PIL image."""

    def __init__(self, image: Image.Image, centre: tuple[float, float], unit: float, roll: float, yaw: float,
                 pitch: float) -> None:  # fmt: skip
        self.draw = ImageDraw.Draw(image)
        self.centre, self.unit, self.yaw, self.pitch = np.array(centre), unit, yaw, pitch
        angle = np.deg2rad(roll)
        self.rotation = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def points(self, xy: np.ndarray, depth: float = 0.3) -> list[float]:
        """Pixel coordinates of face points ``[N, 2]``; ``depth`` sets how far a feature moves with yaw/pitch."""
        p = np.asarray(xy, float).reshape(-1, 2).copy()
        p[:, 0] = p[:, 0] * (1 - 0.25 * abs(self.yaw)) + self.yaw * depth
        p[:, 1] = p[:, 1] + self.pitch * depth
        pixels = (p @ self.rotation.T) * self.unit + self.centre
        flat: list[float] = pixels.ravel().tolist()  # x0, y0, x1, y1, … as PIL takes them
        return flat

    def polygon(self, xy: np.ndarray, fill: Colour, depth: float = 0.3) -> None:
        """Fill a polygon given in face coordinates."""
        self.draw.polygon(self.points(xy, depth), fill=fill)

    def line(self, xy: np.ndarray, fill: Colour, width: float, depth: float = 0.3) -> None:
        """Draw a polyline given in face coordinates (width in face units)."""
        self.draw.line(
            self.points(xy, depth), fill=fill, width=max(1, round(width * self.unit)), joint="curve"
        )

    def ellipse(
        self, centre: tuple[float, float], rx: float, ry: float, fill: Colour, depth: float = 0.3
    ) -> None:
        """Fill an axis-aligned (in face coordinates) ellipse."""
        angle = _ELLIPSE_ANGLES
        self.polygon(
            np.stack([centre[0] + rx * np.cos(angle), centre[1] + ry * np.sin(angle)], 1), fill, depth
        )


def _shade(colour: Colour, factor: float) -> Colour:
    """A darker (factor < 1) or lighter (factor > 1) version of a colour."""
    r, g, b = (int(min(255, max(0, c * factor))) for c in colour)
    return r, g, b


def _head(canvas: _Canvas, spec: ClipSpec, jaw_open: float) -> None:
    """Shoulders, hair at the back, ears, face outline and the hair on top."""
    ident = spec.identity
    width = ident.face_aspect
    canvas.polygon(np.array([[-0.35, 0.7], [0.35, 0.7], [0.45, 1.25], [1.4, 1.6], [1.4, 2.5], [-1.4, 2.5],
                             [-1.4, 1.6], [-0.45, 1.25]]), ident.shirt, depth=0.0)  # fmt: skip
    canvas.polygon(
        np.array([[-0.3, 0.6], [0.3, 0.6], [0.3, 1.2], [-0.3, 1.2]]), _shade(ident.skin, 0.85), 0.0
    )
    angle = np.linspace(0, 2 * np.pi, 48, endpoint=False)
    x, y = width * np.cos(angle), np.sin(angle)
    lower = y > 0
    x[lower] *= 1 - (1 - ident.jaw) * y[lower] ** 2
    y[lower] *= 1 + 0.12 * jaw_open
    if ident.hair_style == 1:
        canvas.polygon(np.stack([x * 1.12, y * 1.02 - 0.05], 1)[(y < 0.55)], ident.hair, depth=-0.1)
    for side in (-1, 1):
        canvas.ellipse((side * width * 0.98, 0.02), 0.09, 0.17, _shade(ident.skin, 0.92), depth=-0.2)
    canvas.polygon(np.stack([x, y], 1), ident.skin, depth=0.0)
    if ident.hair_style != 2:
        top = y < -0.45
        cap = np.stack([x[top] * 1.04, y[top] * 1.05], 1)
        fringe = _bezier(
            np.array([width * 0.95, -0.5]), np.array([0.0, -0.62]), np.array([-width * 0.95, -0.5])
        )
        canvas.polygon(np.concatenate([cap, fringe]), ident.hair, depth=0.05)


def _brows_and_forehead(canvas: _Canvas, spec: ClipSpec, au: np.ndarray) -> None:
    """Brows (raised inner/outer, lowered and drawn together) and forehead lines / the furrow between the brows."""
    inner, outer, lower = au[_AU["inner_brow_raise"]], au[_AU["outer_brow_raise"]], au[_AU["brow_lower"]]
    colour = _shade(spec.identity.hair, 0.8)
    thickness = spec.identity.brow_width / 224 * 2.8
    for side in (-1, 1):
        xs = np.array([0.13 - 0.06 * lower, 0.32 - 0.02 * lower, 0.52])
        ys = np.array([-0.40, -0.44, -0.41]) + 0.11 * lower + np.array([0.06, 0.0, -0.01]) * lower
        ys -= np.array([0.2, 0.07, 0.0]) * inner + np.array([0.0, 0.13, 0.18]) * outer
        canvas.line(np.stack([side * xs, ys], 1), colour, thickness, depth=0.25)
    crease = _shade(spec.identity.skin, 0.72)
    if inner + outer > 0.5:
        for k in range(1 + int(inner + outer > 1.2)):
            y = -0.62 - 0.06 * k
            canvas.line(_bezier(np.array([-0.3, y]), np.array([0.0, y - 0.03 * inner]), np.array([0.3, y])),
                        crease, 0.016, 0.2)  # fmt: skip
    if lower > 0.35:
        for side in (-1, 1):
            canvas.line(
                np.array([[side * 0.05, -0.37], [side * 0.06, -0.28]]), crease, 0.016 + 0.012 * lower, 0.25
            )


def _eyes(canvas: _Canvas, spec: ClipSpec, au: np.ndarray, blink: float, gaze: float) -> None:
    """Eyes: openness from lid raise, tightening, droop, cheek raise and blinks; irises; lower-lid creases."""
    widen, tighten = au[_AU["upper_lid_raise"]], au[_AU["lid_tighten"]]
    droop, cheek = au[_AU["lid_droop"]], au[_AU["cheek_raise"]]
    upper = max(0.005, 0.065 * (1 + 1.5 * widen - 0.6 * tighten - 0.6 * droop - 0.3 * cheek) * (1 - blink))
    lower_lid = max(0.004, 0.045 * (1 + 0.3 * widen - 0.45 * tighten - 0.5 * cheek) * (1 - blink))
    crease = _shade(spec.identity.skin, 0.7)
    for side in (-1, 1):
        cx, cy, half = side * 0.32, -0.25, 0.11
        top = _bezier(np.array([cx - half, cy]), np.array([cx, cy - upper]), np.array([cx + half, cy]))
        bottom = _bezier(np.array([cx + half, cy]), np.array([cx, cy + lower_lid]), np.array([cx - half, cy]))
        canvas.polygon(np.concatenate([top, bottom]), (240, 238, 232), depth=0.25)
        if upper > 0.015:
            radius = min(0.045, 0.9 * min(upper, lower_lid + 0.03))
            canvas.ellipse((cx + gaze, cy), radius, radius, spec.identity.eye_color, depth=0.25)
            canvas.ellipse((cx + gaze, cy), radius * 0.45, radius * 0.45, (15, 15, 15), depth=0.25)
        canvas.line(top, _shade(spec.identity.skin, 0.45), 0.016, depth=0.25)
        if cheek > 0.3 or tighten > 0.4:
            y = cy + lower_lid
            fold = _bezier(
                np.array([cx - half * 0.8, y + 0.04]),
                np.array([cx, y + 0.07]),
                np.array([cx + half * 0.8, y + 0.04]),
            )
            canvas.line(fold, crease, 0.01, 0.25)


def _nose(canvas: _Canvas, spec: ClipSpec, au: np.ndarray) -> None:
    """Nose ridge and wings; a wrinkled nose raises the wings and adds lines across the bridge."""
    wrinkle = au[_AU["nose_wrinkle"]]
    shadow = _shade(spec.identity.skin, 0.72)
    lift = 0.04 * wrinkle
    canvas.line(np.array([[0.02, -0.2], [0.04, 0.12 - lift]]), shadow, 0.014, depth=0.5)
    canvas.line(_bezier(np.array([-0.1 - 0.02 * wrinkle, 0.12 - lift]), np.array([0.0, 0.19 - lift]),
                        np.array([0.1 + 0.02 * wrinkle, 0.12 - lift])), shadow, 0.018, depth=0.5)  # fmt: skip
    for k in range(round(3 * wrinkle)):
        y = -0.12 + 0.045 * k
        canvas.line(np.array([[-0.06, y], [0.06, y + 0.01]]), shadow, 0.016, depth=0.45)


def _mouth(canvas: _Canvas, spec: ClipSpec, au: np.ndarray, jaw_open: float) -> None:
    """Lips from the corner, lip and jaw action units; open mouth with teeth; nasolabial folds."""
    pull, depress = au[_AU["lip_corner_pull"]], au[_AU["lip_corner_depress"]]
    smirk, stretch, press = au[_AU["unilateral_lip_raise"]], au[_AU["lip_stretch"]], au[_AU["lip_press"]]
    chin, upper_raise = au[_AU["chin_raise"]], au[_AU["upper_lip_raise"]]
    half = 0.21 * (1 + 0.25 * pull + 0.4 * stretch + 0.08 * press - 0.08 * chin)
    y0 = 0.45 - 0.02 * chin
    corners = []
    for side in (-1, 1):
        lift = 0.14 * pull - 0.14 * depress + (0.14 * smirk if side == 1 else 0.0)
        corners.append(np.array([side * (half + (0.03 * smirk if side == 1 else 0.0)), y0 - lift]))
    left, right = corners
    thin = 1 - 0.75 * min(press, 1.0)
    upper_mid = np.array([0.0, y0 - 0.02 * chin - 0.045 * upper_raise])
    lower_mid = upper_mid + np.array([0.0, 0.005 + 0.3 * jaw_open])
    outer_top = _bezier(left, upper_mid - np.array([0.0, 0.035 * thin + 0.01]), right)
    inner_top = _bezier(right, upper_mid, left)
    inner_bottom = _bezier(left, lower_mid, right)
    outer_bottom = _bezier(right, lower_mid + np.array([0.0, 0.045 * thin + 0.012]), left)
    canvas.polygon(np.concatenate([outer_top, outer_bottom]), spec.identity.lips, depth=0.35)
    if jaw_open > 0.03:
        canvas.polygon(np.concatenate([inner_top, inner_bottom]), (60, 20, 25), depth=0.35)
        teeth = _bezier(right, upper_mid + np.array([0.0, min(0.04, 0.1 * jaw_open)]), left)
        canvas.polygon(np.concatenate([inner_top[::-1], teeth]), (235, 232, 220), depth=0.35)
    canvas.line(
        _bezier(left, (upper_mid + lower_mid) / 2, right), _shade(spec.identity.lips, 0.55), 0.012, 0.35
    )
    fold = _shade(spec.identity.skin, 0.75)
    if pull + upper_raise + 0.5 * smirk > 0.45:
        for side in (-1, 1):
            if side == -1 and pull + upper_raise < 0.45:
                continue
            corner = right if side == 1 else left
            start, bend = np.array([side * 0.14, 0.12]), np.array([side * 0.24, 0.27])
            canvas.line(_bezier(start, bend, corner + np.array([side * 0.03, 0.0])), fold, 0.016, 0.35)
    if chin > 0.35:
        canvas.line(
            _bezier(np.array([-0.08, 0.66]), np.array([0.0, 0.63]), np.array([0.08, 0.66])), fold, 0.016, 0.3
        )


def _blinks(spec: ClipSpec, rng: np.random.Generator, rate: float) -> np.ndarray:
    """Lid closure per frame ``[T]`` in [0, 1] from random blinks (about ``rate`` per second, 0.12 s each)."""
    closure = np.zeros(spec.num_frames)
    t = rng.exponential(1 / rate)
    while t < spec.duration_s:
        frame = int(t * spec.fps)
        closure[frame : frame + 3] = np.array([0.6, 1.0, 0.5])[: len(closure[frame : frame + 3])]
        t += 0.3 + rng.exponential(1 / rate)
    return closure


def _tremble(rng: np.random.Generator, frames: int) -> np.ndarray:
    """Small bounded head tremble ``[T, 3]`` (x, roll, pitch): a mean-reverting random walk."""
    shake = np.zeros((frames, 3))
    steps = rng.normal(0, 0.01, (frames, 3))
    for t in range(1, frames):
        shake[t] = 0.85 * shake[t - 1] + steps[t]
    return shake


def render_face(spec: ClipSpec, mouth: np.ndarray) -> np.ndarray:
    """Render the clip's frames ``uint8 [T, H, W, 3]``; ``mouth`` ``[T]`` is the talking jaw opening per frame."""
    rng = np.random.default_rng([spec.seed, 3])
    big = spec.size * _SUPERSAMPLE
    background = _background(spec, big)
    apex = action_unit_vector(spec.face)
    resting = np.array(spec.identity.resting)
    curve = expression_curve(spec)
    motion = blend_prosody(spec.face).motion  # the face shows the face emotion's agitation
    blinks = _blinks(spec, rng, blend_prosody(spec.face).blink_rate)
    scale, dx, dy, roll, yaw, pitch, sway, freq, phase = spec.pose
    jitter = _tremble(rng, spec.num_frames)
    gaze_target = rng.normal(0, 0.02 * motion, spec.num_frames // 12 + 1).repeat(12)[: spec.num_frames]
    frames = np.empty((spec.num_frames, spec.size, spec.size, 3), np.uint8)
    for t in range(spec.num_frames):
        au = np.clip(resting + curve[t] * apex + rng.normal(0, 0.015, len(apex)), -0.2, 1.3)
        wobble = np.sin(2 * np.pi * freq * t / spec.fps + phase) * sway * motion
        head_down = au[_AU["head_down"]]
        image = background.copy()
        canvas = _Canvas(
            image,
            centre=(
                big / 2 + dx * _SUPERSAMPLE + jitter[t, 0] * 20,
                big * 0.47 + dy * _SUPERSAMPLE + 25 * head_down,
            ),
            unit=big * 0.36 * scale,
            roll=roll + 1.5 * wobble + 10 * jitter[t, 1],
            yaw=yaw + 0.03 * wobble,
            pitch=pitch + 0.08 * head_down + 0.02 * wobble + 0.2 * jitter[t, 2],
        )
        jaw_open = max(0.0, au[_AU["jaw_drop"]]) * 0.6 + 0.35 * float(mouth[t]) * (
            1 - 0.7 * au[_AU["lip_press"]]
        )
        _head(canvas, spec, jaw_open)
        _brows_and_forehead(canvas, spec, au)
        _eyes(canvas, spec, au, float(blinks[t]), float(gaze_target[t]))
        _nose(canvas, spec, au)
        _mouth(canvas, spec, au, jaw_open)
        frames[t] = np.asarray(image.reduce(_SUPERSAMPLE))
    return frames
