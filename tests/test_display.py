"""utils.display: embedded audio, the retrieval view, spectrogram and piano-roll views, the sound map."""

from __future__ import annotations

import base64
import io
import json
import re
import wave
from html.parser import HTMLParser

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt
import numpy as np
import pytest
from bokeh.models import CustomJS, HoverTool, TapTool

from utils import display
from utils.evaluate import nearest_neighbours
from utils.features import HOP_LENGTH, N_MELS, SAMPLE_RATE

DATA_URI = re.compile(r"data:audio/wav;base64,([A-Za-z0-9+/=]+)")


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def tone(frequency: float, seconds: float = 1.5, amplitude: float = 0.5) -> np.ndarray:
    times = np.arange(int(seconds * SAMPLE_RATE)) / SAMPLE_RATE
    return amplitude * np.sin(2 * np.pi * frequency * times)


def read_wav(data: bytes) -> tuple[int, np.ndarray]:
    with wave.open(io.BytesIO(data)) as wav:
        assert (wav.getnchannels(), wav.getsampwidth()) == (1, 2)
        return wav.getframerate(), np.frombuffer(wav.readframes(wav.getnframes()), "<i2")


def wavs_in(page: str) -> list[tuple[int, np.ndarray]]:
    return [read_wav(base64.b64decode(match)) for match in DATA_URI.findall(page)]


CLIPS = [tone(220 * 2 ** (i / 12)) for i in range(12)]
LABELS = np.array(["flute", "violin", "piano"] * 4)


# --- audio ------------------------------------------------------------------------------------


def test_wav_keeps_the_level_of_a_quiet_clip():
    clip = tone(440, seconds=0.5, amplitude=0.25)
    rate, samples = read_wav(display.wav_bytes(clip, SAMPLE_RATE))
    assert rate == SAMPLE_RATE
    np.testing.assert_allclose(samples / 32767, clip, atol=1 / 32767)


def test_wav_scales_a_loud_clip_down_and_accepts_integers():
    _, samples = read_wav(display.wav_bytes(tone(440, amplitude=3.0), SAMPLE_RATE))
    assert np.abs(samples).max() == 32767
    pcm = (tone(440) * 32767).astype(np.int16)
    _, again = read_wav(display.wav_bytes(pcm, SAMPLE_RATE))
    np.testing.assert_allclose(again, pcm, atol=1)


def test_wav_truncates_with_a_fade_and_resamples():
    rate, samples = read_wav(display.wav_bytes(tone(440), SAMPLE_RATE, max_seconds=1.0, playback_rate=8000))
    assert rate == 8000 and len(samples) == 8000
    assert np.abs(samples[-4:]).max() < np.abs(samples).max() / 10  # faded out: no click


@pytest.mark.parametrize("bad", [np.zeros((2, 100)), np.array([]), np.array([0.0, np.nan]), np.array(["a"])])
def test_wav_rejects_what_is_not_a_mono_clip(bad):
    with pytest.raises(ValueError, match="audio"):
        display.wav_bytes(bad, SAMPLE_RATE)


def test_audio_player_embeds_the_sound_and_its_label():
    player = display.audio_player(tone(440, 0.5), SAMPLE_RATE, label="A4 <flute>")
    assert "<audio controls" in player.data and "A4 &lt;flute&gt;" in player.data
    ((rate, samples),) = wavs_in(player.data)
    assert rate == SAMPLE_RATE and len(samples) == SAMPLE_RATE // 2


# --- retrieval view -------------------------------------------------------------------------------


def test_retrieval_view_lists_the_query_and_its_neighbours():
    view = display.retrieval_view(CLIPS, LABELS, query=0, neighbours=[3, 1, 6, 2], distances=[0.5, 1.25, 2.0, 9.0], k=3)
    rows = view.data.split("<tr>")[2:]
    assert len(rows) == 4  # the query and 3 neighbours
    assert "query" in rows[0] and "flute" in rows[0]
    assert ["flute" in row for row in rows[1:]] == [True, False, True]
    assert view.data.count("&#10003;") == 2 and view.data.count("&#10007;") == 1
    assert "1.25" in rows[2]
    assert len(wavs_in(view.data)) == 4
    assert all(len(samples) == len(CLIPS[0]) for _, samples in wavs_in(view.data))  # 1.5 s < 2 s


def test_retrieval_view_can_search_embeddings_itself():
    embeddings = np.random.default_rng(0).normal(size=(12, 4))
    view = display.retrieval_view(CLIPS, LABELS, query=5, embeddings=embeddings, k=2, max_seconds=0.5)
    indices, distances = nearest_neighbours(embeddings, [5], k=2)
    assert f"(item {indices[0, 0]})" in view.data and f"{distances[0, 1]:.3g}" in view.data
    assert all(len(samples) == SAMPLE_RATE // 2 for _, samples in wavs_in(view.data))


def test_retrieval_view_needs_neighbours_or_embeddings():
    with pytest.raises(ValueError, match="neighbours"):
        display.retrieval_view(CLIPS, LABELS, query=0)
    with pytest.raises(ValueError, match="query"):
        display.retrieval_view(CLIPS, LABELS, query=12, neighbours=[1])


# --- spectrogram and piano roll ---------------------------------------------------------------------


def test_spectrogram_view_of_a_clip_and_of_a_logmel():
    ax = display.spectrogram_view(tone(440), SAMPLE_RATE)
    image = ax.images[0]
    assert image.get_array().shape == (N_MELS, 1 + len(tone(440)) // HOP_LENGTH)
    assert image.get_extent()[1] == pytest.approx(1.5, abs=0.05)
    given = display.spectrogram_view(np.zeros((8, 10)), ax=plt.subplots()[1])
    assert given.images[0].get_array().shape == (8, 10)
    with pytest.raises(ValueError, match="n_mels"):
        display.spectrogram_view(np.zeros((2, 3, 4)))


def test_piano_roll_view_crops_to_the_notes_and_names_them():
    roll = np.zeros((128, 50))
    roll[60, :20] = roll[64, 10:30] = roll[67, 25:50] = 1
    ax = display.piano_roll_view(roll)
    low, high = ax.images[0].get_extent()[2:]
    assert (low, high) == (57.5, 69.5)
    assert [t.get_text() for t in ax.get_yticklabels()] == ["C4", "E4", "G4"]
    assert display.note_name(69) == "A4"


# --- the sound map -----------------------------------------------------------------------------------


class TagAttributes(HTMLParser):
    """Every src and href attribute of the page's tags (not the text of inline scripts)."""

    def __init__(self):
        super().__init__()
        self.links: list[str] = []
        self.script_sources: list[str] = []

    def handle_starttag(self, tag, attrs):
        for name, value in attrs:
            if name in ("src", "href"):
                self.links.append(value or "")
                if tag == "script":
                    self.script_sources.append(value or "")


def test_sound_map_hovers_labels_and_plays_on_click():
    points = np.random.default_rng(0).normal(size=(12, 2))
    plot = display.sound_map(points, LABELS, CLIPS, SAMPLE_RATE)
    hover = plot.select_one(HoverTool)
    assert ("label", "@label") in hover.tooltips
    tap = plot.select_one(TapTool)
    assert isinstance(tap.callback, CustomJS) and "play()" in tap.callback.code
    data = plot.renderers[0].data_source.data
    assert data["label"] == LABELS.tolist() and len(data["audio"]) == 12


def test_sound_map_html_is_self_contained():
    points = np.round(np.random.default_rng(1).normal(size=(12, 2)), 3)
    page = display.sound_map_html(points, LABELS, CLIPS, SAMPLE_RATE, max_seconds=1.0)
    tags = TagAttributes()
    tags.feed(page)
    assert not [link for link in tags.links if re.match(r"(https?:)?//", link)]
    assert tags.script_sources == []  # Bokeh itself is inlined
    document = json.loads(re.search(r'<script type="application/json"[^>]*>(.*?)</script>', page, re.S).group(1))
    text = json.dumps(document)
    for x, y in points:
        assert str(x) in text and str(y) in text
    assert all(f'"{label}"' in text for label in set(LABELS))
    sounds = wavs_in(page)
    assert len(sounds) == 12
    assert all(rate == 8000 and len(samples) == 8000 for rate, samples in sounds)


def test_show_sound_map_is_a_frame_holding_the_page():
    frame = display.show_sound_map(np.zeros((12, 2)) + np.arange(12)[:, None], LABELS, CLIPS, height=300)
    assert "<iframe srcdoc=" in frame.data and "height:360px" in frame.data
    assert len(DATA_URI.findall(frame.data)) == 12


def test_sound_map_checks_its_inputs():
    with pytest.raises(ValueError, match="one label and one clip per point"):
        display.sound_map(np.zeros((12, 2)), LABELS, CLIPS[:5])
    with pytest.raises(ValueError, match=r"\(n, 2\)"):
        display.sound_map(np.zeros((12, 3)), LABELS, CLIPS)
