"""utils.plots: the style, and what each figure draws (checked on the artists, headless)."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import matplotlib

matplotlib.use("Agg")

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import pytest
from scipy.spatial.distance import cdist
from sklearn.decomposition import PCA

from utils import plots


@pytest.fixture(autouse=True)
def fresh_figures_and_style():
    with mpl.rc_context():
        yield
    plt.close("all")


def blobs(n_items: int = 60, n_dims: int = 5, n_classes: int = 3, seed: int = 0):
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, n_classes, n_items)
    return rng.normal(size=(n_items, n_dims)) + 4 * rng.normal(size=(n_classes, n_dims))[labels], labels


def drawn_points(ax) -> np.ndarray:
    return np.concatenate([c.get_offsets() for c in ax.collections if len(c.get_offsets())])


def test_course_style_is_colour_blind_safe_and_idempotent():
    plots.use_course_style()
    first = {key: mpl.rcParams[key] for key in plots.COURSE_STYLE}
    plots.use_course_style()
    assert {key: mpl.rcParams[key] for key in plots.COURSE_STYLE} == first
    assert mpl.rcParams["axes.prop_cycle"].by_key()["color"] == list(plots.OKABE_ITO)


def test_label_styles_add_a_marker_past_eight_colours():
    styles = plots.label_styles([f"class {i:02d}" for i in range(10)])
    assert len(set(styles.values())) == 10
    assert styles["class 00"] == (plots.OKABE_ITO[0], "o")
    assert styles["class 08"] == (plots.OKABE_ITO[0], "s")


def test_project_2d_pca_matches_scikit_learn_and_keeps_2d_input():
    points, _ = blobs()
    expected = PCA(2, random_state=0).fit_transform(points.astype(np.float32))
    np.testing.assert_allclose(np.abs(plots.project_2d(points, "pca")), np.abs(expected), atol=1e-4)
    np.testing.assert_array_equal(plots.project_2d(points[:, :2], None), points[:, :2].astype(np.float32))
    with pytest.raises(ValueError, match="Unknown method"):
        plots.project_2d(points, "lda")
    with pytest.raises(ValueError, match="2-D embeddings"):
        plots.project_2d(points, None)


def test_pca_map_never_imports_umap():
    script = (
        "import numpy as np, sys; from utils import plots; "
        "plots.embedding_map(np.random.default_rng(0).normal(size=(30, 4)), np.arange(30) % 3, method='pca'); "
        "assert 'umap' not in sys.modules, 'umap was imported'"
    )
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          env={**os.environ, "MPLBACKEND": "Agg"})
    assert done.returncode == 0, done.stderr


def test_embedding_map_draws_every_item_with_open_markers_for_test():
    points, labels = blobs()
    split = np.where(np.arange(60) < 45, "train", "test")
    ax = plots.embedding_map(points, labels, split=split, method="pca", title="Before learning")
    assert len(drawn_points(ax)) == 60
    assert ax.get_title() == "Before learning"
    assert ax.get_xlabel() == "PCA 1"
    legend = [text.get_text() for text in ax.get_legend().get_texts()]
    assert legend == ["0", "1", "2", "train", "test"]
    hollow = [c for c in ax.collections if len(c.get_facecolors()) == 0]  # facecolors="none"
    assert sum(len(c.get_offsets()) for c in hollow) == 15


def test_embedding_map_with_tsne_and_many_classes():
    points, _ = blobs(n_items=42)
    ax = plots.embedding_map(points, np.arange(42), method="tsne")
    assert len(drawn_points(ax)) == 42
    assert ax.get_legend() is None and "(42 classes)" in ax.get_title()


def test_embedding_map_rejects_mismatched_labels():
    points, labels = blobs()
    with pytest.raises(ValueError, match="one entry per item"):
        plots.embedding_map(points, labels[:-1], method="pca")


def test_distance_matrix_is_sorted_by_label():
    points, labels = blobs(n_items=30)
    ax = plots.distance_matrix(points, labels)
    order = np.argsort(labels, kind="stable")
    shown = ax.images[0].get_array()
    np.testing.assert_allclose(shown, cdist(points, points)[np.ix_(order, order)], atol=1e-4)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["0", "1", "2"]
    precomputed = plots.distance_matrix(cdist(points, points), labels, precomputed=True)
    np.testing.assert_allclose(precomputed.images[0].get_array(), shown, atol=1e-4)
    with pytest.raises(ValueError, match="square"):
        plots.distance_matrix(points, labels, precomputed=True)


def test_feature_groups():
    names = ["mfcc_00", "mfcc_01", "chroma_00", "chroma_01", "chroma_02", "f0"]
    assert plots.feature_groups(names) == [("mfcc", 0, 2), ("chroma", 2, 5), ("f0", 5, 6)]
    assert plots.feature_groups(["mfcc_mean_00", "mfcc_mean_01", "mfcc_std_00"]) == [
        ("mfcc_mean", 0, 2), ("mfcc_std", 2, 3)]


def test_metric_heatmap_names_the_feature_groups():
    names = [f"mfcc_{i:02d}" for i in range(4)] + [f"chroma_{i:02d}" for i in range(3)] + ["f0"]
    matrix = np.random.default_rng(1).normal(size=(8, 8))
    ax = plots.metric_heatmap(matrix, names)
    assert [t.get_text() for t in ax.get_xticklabels()] == ["mfcc", "chroma", "f0"]
    assert [t.get_text() for t in ax.get_yticklabels()] == ["mfcc", "chroma", "f0"]
    low, high = ax.images[0].get_clim()
    assert low == -high == -np.abs(matrix).max()
    projection = plots.metric_heatmap(matrix[:2], names)
    assert projection.get_ylabel() == "output dimension"
    with pytest.raises(ValueError, match="one column per feature"):
        plots.metric_heatmap(matrix, names[:-1])


def test_training_curves_pair_train_and_validation():
    history = {"train_loss": [3.0, 2.0, 1.5], "val_loss": [3.2, 2.5, 2.2], "val_map@r": [0.1, 0.3, 0.4]}
    losses, measures = plots.training_curves(history)
    train, val = losses.get_lines()
    assert train.get_color() == val.get_color()
    assert (train.get_linestyle(), val.get_linestyle()) == ("-", "--")
    np.testing.assert_array_equal(val.get_ydata(), history["val_loss"])
    assert [line.get_label() for line in measures.get_lines()] == ["val_map@r"]
    (single,) = plots.training_curves(pd.DataFrame(history), ax=plt.subplots()[1])
    assert len(single.get_lines()) == 3
    with pytest.raises(ValueError, match="non-empty"):
        plots.training_curves({"loss": []})


def test_compare_metrics_bars_show_the_values():
    results = {"euclidean": {"precision@1": 0.5, "map@r": 0.2}, "LMNN": {"precision@1": 0.7, "map@r": 0.35}}
    heights = [bar.get_height() for bar in plots.compare_metrics(results).patches]
    assert heights == [0.5, 0.2, 0.7, 0.35]
    from_frame = plots.compare_metrics(pd.DataFrame(results).T, measures=["map@r"])
    assert [bar.get_height() for bar in from_frame.patches] == [0.2, 0.35]
    assert "0.70" in [text.get_text() for text in plots.compare_metrics(results).texts]


def test_metrics_table_bolds_the_best_value():
    results = {"euclidean": {"map@r": 0.2, "mr1": 4.0}, "LMNN": {"map@r": 0.35, "mr1": 2.5}}
    table = plots.metrics_table(results).to_html()
    (bold_cells,) = re.findall(r"([^{}]*)\{\s*font-weight: bold", table)
    assert "row1_col0" in bold_cells and "row1_col1" in bold_cells  # LMNN: higher map@r, lower mr1
    assert "row0" not in bold_cells
