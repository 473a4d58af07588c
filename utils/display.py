"""Listening to the data in a notebook: audio players, a retrieval view, spectrogram and piano-roll
views, and a sound map (an interactive 2-D map of an embedding: hover a point to see its label,
click it to hear it).

Everything is self-contained HTML: audio is embedded as WAV data URIs and the sound map is Bokeh
with its JavaScript inlined, so it works in JupyterLab, on Colab, in the exported site and slides,
offline and without a running kernel. To keep notebooks light, players can be truncated
(``max_seconds``) and resampled (``playback_rate``); the sound map does both by default (1.5 s at
8 kHz: about 32 kB per point).
"""

from __future__ import annotations

import base64
import html
import io
import math
import wave
from collections.abc import Sequence

import numpy as np
from IPython.display import HTML
from matplotlib.axes import Axes
from numpy.typing import ArrayLike

from utils.checks import check_int, check_number
from utils.evaluate import _row_numbers, nearest_neighbours
from utils.features import HOP_LENGTH, SAMPLE_RATE
from utils.plots import MARKERS, OKABE_ITO, _new_axes, label_styles

#: Length of the fade-out applied where a clip is cut short (seconds): no click at the end.
FADE_SECONDS = 0.01
#: Bokeh names of the markers that :data:`utils.plots.MARKERS` stand for.
BOKEH_MARKERS = dict(zip(MARKERS, ("circle", "square", "triangle", "diamond", "inverted_triangle",
                                   "plus", "hex", "star"), strict=True))
NOTE_NAMES = ("C", "C#", "D", "D#", "E", "F", "F#", "G", "G#", "A", "A#", "B")
MATCH, MISMATCH = ("&#10003;", OKABE_ITO[2]), ("&#10007;", OKABE_ITO[3])


# --- audio --------------------------------------------------------------------------------------


def _as_clip(audio: ArrayLike) -> np.ndarray:
    """A mono clip as a finite float array (torch tensors and lists accepted)."""
    if hasattr(audio, "detach"):
        audio = audio.detach().cpu().numpy()
    clip = np.asarray(audio)
    if clip.dtype.kind not in "iuf" or clip.ndim != 1 or clip.size == 0:
        raise ValueError(f"audio must be a non-empty 1-D array of samples (mono); got {clip.dtype} {clip.shape}.")
    if clip.dtype.kind in "iu":
        clip = clip / np.iinfo(clip.dtype).max
    if not np.isfinite(clip).all():
        raise ValueError("audio has NaN or infinite samples.")
    return clip.astype(np.float64)


def wav_bytes(
    audio: ArrayLike, sample_rate: int, *, max_seconds: float | None = None, playback_rate: int | None = None
) -> bytes:
    """A clip as a 16-bit mono WAV file.

    Parameters
    ----------
    audio : array (n_samples,)
        Floats in [-1, 1] (a louder clip is scaled down to fit; a quieter one keeps its level, so
        dynamics can still be heard) or integers.
    sample_rate : int
        Of ``audio`` (Hz).
    max_seconds : float, optional
        Keep only the start, with a short fade-out.
    playback_rate : int, optional
        Resample to this rate (Hz), e.g. 8000 for light pages.
    """
    from scipy.signal import resample_poly

    clip = _as_clip(audio)
    check_int(sample_rate, "sample_rate")
    if max_seconds is not None:
        check_number(max_seconds, "max_seconds", strict=True)
    if playback_rate is not None:
        check_int(playback_rate, "playback_rate")
    cut = max_seconds is not None and len(clip) > max_seconds * sample_rate
    if cut:
        clip = clip[: max(1, int(max_seconds * sample_rate))]
    rate = sample_rate
    if playback_rate is not None and playback_rate != sample_rate:
        divisor = math.gcd(int(playback_rate), int(sample_rate))
        clip = resample_poly(clip, playback_rate // divisor, sample_rate // divisor)
        rate = int(playback_rate)
    if cut:
        fade = min(len(clip), int(FADE_SECONDS * rate))
        clip = clip.copy()
        clip[len(clip) - fade :] *= np.linspace(1, 0, fade)
    clip /= max(1.0, np.abs(clip).max())
    buffer = io.BytesIO()
    with wave.open(buffer, "wb") as wav:
        wav.setnchannels(1)
        wav.setsampwidth(2)
        wav.setframerate(rate)
        wav.writeframes(np.round(clip * 32767).astype("<i2").tobytes())
    return buffer.getvalue()


def wav_data_uri(audio: ArrayLike, sample_rate: int, **options) -> str:
    """A clip as a ``data:audio/wav;base64,...`` URI (options as :func:`wav_bytes`)."""
    return "data:audio/wav;base64," + base64.b64encode(wav_bytes(audio, sample_rate, **options)).decode("ascii")


def _player_tag(audio: ArrayLike, sample_rate: int, **options) -> str:
    return f'<audio controls preload="none" src="{wav_data_uri(audio, sample_rate, **options)}"></audio>'


def audio_player(
    audio: ArrayLike,
    sample_rate: int,
    label: str | None = None,
    *,
    max_seconds: float | None = None,
    playback_rate: int | None = None,
) -> HTML:
    """An audio player (HTML ``<audio>``, the sound embedded), with an optional label above it."""
    caption = "" if label is None else f"<div><b>{html.escape(str(label))}</b></div>"
    player = _player_tag(audio, sample_rate, max_seconds=max_seconds, playback_rate=playback_rate)
    return HTML(f'<div class="ml4mir-audio">{caption}{player}</div>')


# --- retrieval view -----------------------------------------------------------------------------


def retrieval_view(
    audio: Sequence[ArrayLike],
    labels: ArrayLike,
    *,
    query: int,
    sample_rate: int = SAMPLE_RATE,
    neighbours: ArrayLike | None = None,
    distances: ArrayLike | None = None,
    embeddings: ArrayLike | None = None,
    k: int = 5,
    metric: str = "euclidean",
    groups: ArrayLike | None = None,
    max_seconds: float | None = 2.0,
    playback_rate: int | None = None,
    attributes: object | None = None,
    check: Sequence[str] = (),
    match_loudness: bool = True,
) -> HTML:
    """A query and its top-``k`` neighbours as a table: rank, label, distance, match, attributes,
    player.

    Parameters
    ----------
    audio : sequence of clips, or array (n_items, n_samples)
    labels : array (n_items,)
    query : int
        The query's item index.
    neighbours, distances : arrays (>= k,), optional
        The query's neighbours, nearest first, and their distances (e.g. a row of
        :func:`utils.evaluate.nearest_neighbours`' output).
    embeddings : array (n_items, D), optional
        Instead of ``neighbours``: search them (``metric``; ``groups`` excludes same-source items).
    max_seconds, playback_rate
        As in :func:`wav_bytes`, to keep the notebook light.
    attributes : DataFrame or {name: array (n_items,)}, optional
        Every attribute that could explain a neighbour (pitch, velocity, family; key, version,
        tempo), one column each.
    check : names of ``attributes``
        Marked with a tick or a cross on each neighbour: same value as the query's or not.
    match_loudness : bool
        Play every clip at the same RMS level (-20 dBFS), so that the louder one does not sound
        "closer"; set False where loudness is the attribute in question.

    Examples
    --------
    >>> retrieval_view(audio, labels, query=12, neighbours=idx[12], distances=dist[12], k=5)
    """
    labels = np.asarray(labels)
    k = check_int(k, "k")
    if not 0 <= query < len(labels) or len(audio) != len(labels):
        raise ValueError(f"query must index one of the {len(labels)} items, and audio needs one clip per label.")
    if neighbours is None:
        if embeddings is None:
            raise ValueError("Give either neighbours (and distances) or embeddings to search.")
        found, found_distances = nearest_neighbours(embeddings, [query], k, metric, groups)
        neighbours, distances = found[0], found_distances[0]
    neighbours = _row_numbers(np.asarray(neighbours)[:k], len(labels), "neighbours")
    distances = np.full(len(neighbours), np.nan) if distances is None else np.asarray(distances, dtype=float)[:k]
    if len(distances) != len(neighbours):
        raise ValueError("distances must give one distance per neighbour.")
    options = {"max_seconds": max_seconds, "playback_rate": playback_rate}
    columns = _attribute_columns(attributes, len(labels))
    unknown = [name for name in check if name not in columns]
    if unknown:
        raise ValueError(f"check names {unknown}, which are not among the attributes {list(columns)}.")

    def mark(same: bool) -> str:
        symbol, colour = MATCH if same else MISMATCH
        return f' <span style="color:{colour};font-weight:bold">{symbol}</span>'

    def row(rank: str, item: int, distance: str, is_query: bool) -> str:
        clip = _loudness_matched(audio[item]) if match_loudness else audio[item]
        player = _player_tag(clip, sample_rate, **options)
        match = "" if is_query else mark(labels[item] == labels[query])
        values = [html.escape(str(values[item])) + ("" if is_query or name not in check
                                                    else mark(values[item] == values[query]))
                  for name, values in columns.items()]
        cells = (rank, html.escape(str(labels[item])), distance, match, *values, player)
        return "<tr>" + "".join(f'<td style="padding:2px 8px">{cell}</td>' for cell in cells) + "</tr>"

    rows = [row(f"<b>query</b> (item {query})", query, "", True)]
    for rank, (item, distance) in enumerate(zip(neighbours, distances, strict=True), start=1):
        shown = "&ndash;" if np.isnan(distance) else f"{distance:.3g}"
        rows.append(row(f"{rank} (item {item})", int(item), shown, False))
    names = ("rank", "label", "distance", "match", *columns, "listen (same loudness)" if match_loudness else "listen")
    header = "".join(f'<th style="padding:2px 8px">{html.escape(str(name))}</th>' for name in names)
    return HTML(f'<table class="ml4mir-retrieval"><tr>{header}</tr>{"".join(rows)}</table>')


#: RMS level of loudness-matched players (-20 dBFS).
MATCHED_RMS = 0.1


def _loudness_matched(audio: ArrayLike) -> np.ndarray:
    """A clip scaled to :data:`MATCHED_RMS` (then scaled down by :func:`wav_bytes` if it clips)."""
    clip = _as_clip(audio)
    rms = float(np.sqrt(np.mean(clip**2)))
    return clip if rms == 0 else clip * (MATCHED_RMS / rms)


def _attribute_columns(attributes: object | None, n_items: int) -> dict[str, np.ndarray]:
    """``attributes`` (DataFrame or mapping of columns) as ``{name: array (n_items,)}``."""
    if attributes is None:
        return {}
    items = attributes.items() if hasattr(attributes, "items") else None
    if items is None:
        raise TypeError(f"attributes must be a DataFrame or a mapping of columns, not {type(attributes).__name__}.")
    columns = {str(name): np.asarray(values) for name, values in items}
    wrong = [name for name, values in columns.items() if values.shape != (n_items,)]
    if wrong:
        raise ValueError(f"attributes {wrong} must give one value per item ({n_items}).")
    return columns


# --- spectrogram and piano roll -----------------------------------------------------------------


def spectrogram_view(
    audio_or_logmel: ArrayLike,
    sample_rate: int = SAMPLE_RATE,
    *,
    hop_length: int = HOP_LENGTH,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A log-mel spectrogram: of a clip ``(n_samples,)``, or one given ``(n_mels, n_frames)`` in dB."""
    from utils.features import logmel

    values = np.asarray(audio_or_logmel)
    if values.ndim == 1:
        values = logmel(_as_clip(values)[None], sample_rate, hop_length=hop_length)[0]
    if values.ndim != 2:
        raise ValueError(f"Expected a clip (n_samples,) or a log-mel spectrogram (n_mels, n_frames); got {values.shape}.")
    ax = _new_axes(ax, figsize=(6, 2.8))
    seconds = values.shape[1] * hop_length / sample_rate
    image = ax.imshow(values, origin="lower", aspect="auto", interpolation="nearest",
                      extent=(0, seconds, -0.5, values.shape[0] - 0.5))
    ax.figure.colorbar(image, ax=ax, label="dB")
    ax.set(xlabel="time (s)", ylabel="mel band", title=title or "Log-mel spectrogram")
    ax.grid(False)
    return ax


def note_name(pitch: int) -> str:
    """Scientific pitch notation of a MIDI pitch: 60 is C4, 69 is A4."""
    if check_int(pitch, "pitch", minimum=0) > 127:
        raise ValueError(f"pitch must be a MIDI pitch 0..127, got {pitch!r}")
    return f"{NOTE_NAMES[pitch % 12]}{pitch // 12 - 1}"


def piano_roll_view(
    roll: ArrayLike,
    *,
    frame_rate: float = SAMPLE_RATE / HOP_LENGTH,
    lowest_pitch: int = 0,
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """A piano roll ``(n_pitches, n_frames)`` (row 0 is MIDI pitch ``lowest_pitch``), cropped to the
    pitches that sound, with note names on the pitch axis and seconds on the time axis."""
    from matplotlib.colors import LinearSegmentedColormap

    values = np.asarray(roll, dtype=float)
    if values.ndim != 2:
        raise ValueError(f"roll must be 2-D (n_pitches, n_frames); got shape {values.shape}.")
    check_number(frame_rate, "frame_rate", strict=True)
    active = np.flatnonzero(values.any(axis=1))
    low, high = (active[0], active[-1]) if len(active) else (0, len(values) - 1)
    low, high = max(0, low - 2), min(len(values) - 1, high + 2)
    ax = _new_axes(ax, figsize=(6, 2.8))
    colours = LinearSegmentedColormap.from_list("roll", ["white", OKABE_ITO[0]])
    seconds = values.shape[1] / frame_rate
    ax.imshow(values[low : high + 1], origin="lower", aspect="auto", interpolation="nearest", cmap=colours,
              extent=(0, seconds, lowest_pitch + low - 0.5, lowest_pitch + high + 0.5), vmin=0)
    pitches = np.arange(lowest_pitch + low, lowest_pitch + high + 1)
    ticks = pitches[pitches % 12 == 0] if high - low > 12 else pitches[np.isin(pitches % 12, (0, 4, 7))]
    ax.set_yticks(ticks, [note_name(int(p)) for p in ticks])
    ax.set(xlabel="time (s)", ylabel="pitch", title=title or "Piano roll")
    ax.grid(False)
    return ax


# --- sound map ------------------------------------------------------------------------------------

PLAY_ON_TAP = """
const index = source.selected.indices[0];
if (index === undefined) { return; }
if (window.ml4mirPlayer) { window.ml4mirPlayer.pause(); }
window.ml4mirPlayer = new Audio(source.data.audio[index]);
window.ml4mirPlayer.play();
"""


def sound_map(
    points_2d: ArrayLike,
    labels: ArrayLike,
    audio: Sequence[ArrayLike],
    sample_rate: int = SAMPLE_RATE,
    *,
    title: str | None = None,
    max_seconds: float = 1.5,
    playback_rate: int | None = 8000,
    width: int = 720,
    height: int = 480,
):
    """An interactive map: hovering a point shows its label, clicking it plays its sound.

    Parameters
    ----------
    points_2d : array (n, 2)
        E.g. from :func:`utils.plots.project_2d`.
    labels : array (n,)
    audio : sequence of n clips, or array (n, n_samples)
    max_seconds, playback_rate
        Each clip is cut and resampled (:func:`wav_bytes`) to keep the page light.

    Returns
    -------
    bokeh.plotting.figure
        Show it with :func:`show_sound_map`'s output, ``bokeh.io.show``, or save it with
        :func:`sound_map_html`.
    """
    from bokeh.models import ColumnDataSource, CustomJS, HoverTool, TapTool
    from bokeh.plotting import figure

    points = np.asarray(points_2d, dtype=float)
    labels = np.asarray(labels)
    if points.ndim != 2 or points.shape[1] != 2 or not np.isfinite(points).all():
        raise ValueError(f"points_2d must be finite (n, 2) coordinates; got shape {points.shape}.")
    if len(labels) != len(points) or len(audio) != len(points):
        raise ValueError(f"Need one label and one clip per point: {len(points)} points, {len(labels)} labels, {len(audio)} clips.")
    styles = label_styles(labels)
    source = ColumnDataSource({
        "x": np.round(points[:, 0], 4).tolist(),
        "y": np.round(points[:, 1], 4).tolist(),
        "label": [str(label) for label in labels],
        "item": list(range(len(points))),
        "colour": [styles[label][0] for label in labels.tolist()],
        "marker": [BOKEH_MARKERS[styles[label][1]] for label in labels.tolist()],
        "audio": [wav_data_uri(clip, sample_rate, max_seconds=max_seconds, playback_rate=playback_rate) for clip in audio],
    })
    plot = figure(width=width, height=height, title=title or "Sound map: hover to see, click to listen",
                  tools="pan,wheel_zoom,box_zoom,reset", toolbar_location="above")
    plot.toolbar.logo = None
    legend = {"legend_group": "label"} if len(styles) <= 40 else {}
    renderer = plot.scatter("x", "y", source=source, size=10, marker="marker", fill_color="colour",
                            line_color="colour", fill_alpha=0.8, **legend)
    plot.add_tools(HoverTool(renderers=[renderer], tooltips=[("label", "@label"), ("item", "@item")]))
    plot.add_tools(TapTool(renderers=[renderer], callback=CustomJS(args={"source": source}, code=PLAY_ON_TAP)))
    if legend:
        plot.add_layout(plot.legend[0], "right")
    return plot


def sound_map_html(*args, **kwargs) -> str:
    """:func:`sound_map` (same arguments) as a standalone HTML page, Bokeh's JavaScript inlined."""
    from bokeh.embed import file_html
    from bokeh.resources import INLINE

    plot = sound_map(*args, **kwargs)
    return file_html(plot, INLINE, title=plot.title.text)


def show_sound_map(*args, **kwargs) -> HTML:
    """:func:`sound_map` (same arguments) for a notebook cell: a self-contained frame that works
    offline, in the exported site and without a kernel (Bokeh's JavaScript travels with it)."""
    page = sound_map_html(*args, **kwargs)
    height = kwargs.get("height", 480) + 60
    frame = f'<iframe srcdoc="{html.escape(page, quote=True)}" style="border:none;width:100%;height:{height}px"></iframe>'
    return HTML(f'<div class="ml4mir-sound-map">{frame}</div>')
