"""The course's figures: embedding maps, distance matrices, learned metrics, training curves and
comparisons of measures, all in one readable, colour-blind-safe style.

:func:`use_course_style` (called by ``utils.course.setup`` in every notebook's setup cell) sets
matplotlib's defaults; every function here also picks its colours itself, so a figure looks the
same without it. Functions draw on ``ax`` when given (else on a new figure) and return the axes.
Classes are told apart by colour (Okabe & Ito's palette) and, past eight classes, also by marker
shape; train and test items by filled and open markers.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence

import matplotlib as mpl
import matplotlib.pyplot as plt
import numpy as np
from matplotlib.axes import Axes
from matplotlib.lines import Line2D
from numpy.typing import ArrayLike

from utils.checks import check_int
from utils.evaluate import check_embeddings, pairwise_distances

#: Okabe & Ito (2008): eight colours told apart with every common colour-vision deficiency.
OKABE_ITO = ("#0072B2", "#E69F00", "#009E73", "#D55E00", "#56B4E9", "#CC79A7", "#F0E442", "#000000")
#: Marker shapes that, with the colours, tell up to 64 classes apart.
MARKERS = ("o", "s", "^", "D", "v", "P", "X", "*")
#: Past this many classes a legend is left out (the title says how many there are).
MAX_LEGEND_ENTRIES = 40

COURSE_STYLE = {
    "axes.prop_cycle": mpl.cycler(color=OKABE_ITO),
    "image.cmap": "viridis",
    "figure.figsize": (6.4, 4.2),
    "figure.dpi": 100,
    "savefig.dpi": 150,
    "savefig.bbox": "tight",
    "font.size": 11,
    "axes.titlesize": 12,
    "axes.labelsize": 11,
    "xtick.labelsize": 9,
    "ytick.labelsize": 9,
    "legend.fontsize": 9,
    "legend.frameon": False,
    "axes.spines.top": False,
    "axes.spines.right": False,
    "axes.grid": True,
    "grid.alpha": 0.3,
    "lines.linewidth": 1.8,
}

METHOD_NAMES = {"pca": "PCA", "tsne": "t-SNE", "umap": "UMAP", None: "dimension"}
#: How the items of each split (first, second, third value of ``split``) are drawn.
SPLIT_FILLS = ("full", "none", "faded")


def use_course_style() -> None:
    """Set matplotlib's defaults to the course style (idempotent: calling twice changes nothing)."""
    mpl.rcParams.update(COURSE_STYLE)


def _new_axes(ax: Axes | None, figsize: tuple[float, float] | None = None) -> Axes:
    return plt.subplots(figsize=figsize, layout="constrained")[1] if ax is None else ax


def label_styles(labels: ArrayLike) -> dict:
    """``{label: (colour, marker)}`` for the distinct labels, in sorted order.

    Colours cycle through :data:`OKABE_ITO`; each further eight labels take the next marker.
    """
    classes = np.unique(np.asarray(labels))
    return {
        label: (OKABE_ITO[i % len(OKABE_ITO)], MARKERS[(i // len(OKABE_ITO)) % len(MARKERS)])
        for i, label in enumerate(classes.tolist())
    }


# --- embedding maps ---------------------------------------------------------------------------


def project_2d(
    embeddings: ArrayLike, method: str | None = "pca", random_state: int = 0, pca_dims: int | None = None
) -> np.ndarray:
    """Map embeddings ``(n, D)`` to 2-D points ``(n, 2)``.

    Parameters
    ----------
    method : "pca", "tsne", "umap" or None
        None keeps 2-D embeddings as they are. UMAP (imported only here) compiles for about 9 s
        on its first use in a process, and is seeded (so single-threaded); PCA takes
        milliseconds, t-SNE seconds.
    pca_dims : int, optional
        Reduce to this many dimensions with PCA first (faster t-SNE and UMAP on wide embeddings).
    """
    points = check_embeddings(embeddings)
    if method is None:
        if points.shape[1] != 2:
            raise ValueError(f"method=None needs 2-D embeddings; these have {points.shape[1]} dimensions.")
        return points
    if method not in ("pca", "tsne", "umap"):
        raise ValueError(f"Unknown method {method!r}: use 'pca', 'tsne', 'umap' or None.")
    if points.shape[1] < 2 or len(points) < 3:
        raise ValueError(f"Need at least 3 items of at least 2 dimensions to map; got shape {points.shape}.")
    if pca_dims is not None:
        check_int(pca_dims, "pca_dims", minimum=2)
    from sklearn.decomposition import PCA

    if pca_dims is not None and pca_dims < min(points.shape):
        points = PCA(pca_dims, random_state=random_state).fit_transform(points)
    if method == "pca":
        return PCA(2, random_state=random_state).fit_transform(points)
    if method == "tsne":
        from sklearn.manifold import TSNE

        perplexity = min(30.0, (len(points) - 1) / 3)
        return TSNE(2, perplexity=perplexity, init="pca", random_state=random_state).fit_transform(points)
    import umap

    n_neighbors = min(15, len(points) - 1)
    mapper = umap.UMAP(n_components=2, n_neighbors=n_neighbors, random_state=random_state, n_jobs=1)
    return mapper.fit_transform(points)


def embedding_map(
    embeddings: ArrayLike,
    labels: ArrayLike,
    *,
    split: ArrayLike | None = None,
    method: str | None = "umap",
    title: str | None = None,
    ax: Axes | None = None,
    random_state: int = 0,
    pca_dims: int | None = None,
    point_size: float = 18,
) -> Axes:
    """A 2-D map of embeddings coloured by label, train and test told apart.

    Parameters
    ----------
    embeddings : array (n, D)
        Mapped with :func:`project_2d` (``method``, ``random_state``, ``pca_dims``), all items
        together.
    labels : array (n,)
    split : array (n,), optional
        E.g. "train" / "test": the first value seen is drawn with filled markers, the second with
        open ones, a third faded.
    """
    points = project_2d(embeddings, method, random_state, pca_dims)
    labels = _as_labels(labels, len(points), "labels")
    splits = np.full(len(points), "") if split is None else _as_labels(split, len(points), "split")
    split_values = list(dict.fromkeys(splits.tolist()))
    if len(split_values) > len(SPLIT_FILLS):
        raise ValueError(f"split has {len(split_values)} values; at most 3 (e.g. train, validation, test).")
    ax = _new_axes(ax)
    styles = label_styles(labels)
    for label, (colour, marker) in styles.items():
        for split_value, fill in zip(split_values, SPLIT_FILLS, strict=False):
            chosen = (labels == label) & (splits == split_value)
            ax.scatter(
                *points[chosen].T, s=point_size, marker=marker, linewidths=1,
                facecolors="none" if fill == "none" else colour, edgecolors=colour,
                alpha=0.35 if fill == "faded" else 0.85,
            )
    name = METHOD_NAMES[method]
    ax.set(xlabel=f"{name} 1", ylabel=f"{name} 2")
    ax.set_title(title or f"{name} map of {len(points)} embeddings")
    _class_legend(ax, styles, split_values if split is not None else [])
    return ax


def _as_labels(values: ArrayLike, length: int, name: str) -> np.ndarray:
    array = np.asarray(values)
    if array.shape != (length,):
        raise ValueError(f"{name} must have one entry per item ({length}); got shape {array.shape}.")
    return array


def _class_legend(ax: Axes, styles: Mapping, split_values: Sequence) -> None:
    """A legend outside the axes, in columns of 20; left out (and counted in the title) past
    :data:`MAX_LEGEND_ENTRIES` classes."""
    if len(styles) > MAX_LEGEND_ENTRIES:
        ax.set_title(f"{ax.get_title()} ({len(styles)} classes)")
        styles = {}
    handles = [
        Line2D([], [], ls="", marker=marker, color=colour, label=str(label))
        for label, (colour, marker) in styles.items()
    ]
    handles += [
        Line2D([], [], ls="", marker="o", color="grey", label=str(value),
               markerfacecolor="none" if fill == "none" else "grey", alpha=0.4 if fill == "faded" else 1)
        for value, fill in zip(split_values, SPLIT_FILLS, strict=False)
    ]
    if handles:
        ax.legend(handles=handles, loc="upper left", bbox_to_anchor=(1.01, 1), ncols=-(-len(handles) // 20))


# --- distances and learned metrics ------------------------------------------------------------


def distance_matrix(
    embeddings_or_distances: ArrayLike,
    labels: ArrayLike,
    *,
    precomputed: bool = False,
    metric: str = "euclidean",
    title: str | None = None,
    ax: Axes | None = None,
    cmap: str = "viridis",
) -> Axes:
    """All pairwise distances as an image, items sorted by label, classes outlined.

    ``embeddings_or_distances`` is ``(n, D)`` embeddings, or with ``precomputed=True`` an
    ``(n, n)`` distance matrix. A good space shows dark blocks on the diagonal.
    """
    if precomputed:
        distances = np.asarray(embeddings_or_distances, dtype=float)
        if distances.ndim != 2 or distances.shape[0] != distances.shape[1] or not np.isfinite(distances).all():
            raise ValueError(f"precomputed distances must be a finite square matrix; got shape {distances.shape}.")
    else:
        distances = pairwise_distances(embeddings_or_distances, metric=metric)
    labels = _as_labels(labels, len(distances), "labels")
    order = np.argsort(labels, kind="stable")
    sorted_labels = labels[order]
    ax = _new_axes(ax)
    image = ax.imshow(distances[np.ix_(order, order)], cmap=cmap, interpolation="nearest")
    ax.figure.colorbar(image, ax=ax, label="distance", shrink=0.85)
    classes, starts = np.unique(sorted_labels, return_index=True)
    bounds = np.append(starts, len(labels))
    for edge in bounds[1:-1] - 0.5:
        ax.axhline(edge, color="white", lw=0.6)
        ax.axvline(edge, color="white", lw=0.6)
    if len(classes) <= MAX_LEGEND_ENTRIES:
        centres = (bounds[:-1] + bounds[1:]) / 2 - 0.5
        ax.set_xticks(centres, [str(c) for c in classes], rotation=90)
        ax.set_yticks(centres, [str(c) for c in classes])
    ax.grid(False)
    ax.set_title(title or f"{metric.capitalize() if isinstance(metric, str) else 'Learned'} distances, sorted by label")
    return ax


def feature_groups(feature_names: Sequence[str]) -> list[tuple[str, int, int]]:
    """Runs of features sharing a name once a ``_<digits>`` suffix is dropped.

    >>> feature_groups(["mfcc_00", "mfcc_01", "chroma_00", "f0"])
    [('mfcc', 0, 2), ('chroma', 2, 3), ('f0', 3, 4)]
    """
    prefixes = [re.sub(r"_\d+$", "", str(name)) for name in feature_names]
    groups: list[tuple[str, int, int]] = []
    for index, prefix in enumerate(prefixes):
        if groups and groups[-1][0] == prefix:
            groups[-1] = (prefix, groups[-1][1], index + 1)
        else:
            groups.append((prefix, index, index + 1))
    return groups


def metric_heatmap(
    matrix: ArrayLike,
    feature_names: Sequence[str],
    *,
    title: str | None = None,
    ax: Axes | None = None,
    cmap: str = "RdBu_r",
) -> Axes:
    """A learned Mahalanobis matrix ``M`` (d, d) or projection ``L`` (k, d) as a heatmap.

    Colours are symmetric around 0 (red positive, blue negative); feature groups (``mfcc_00`` ...,
    ``chroma_00`` ..., ``f0``) are outlined and named on the axes.
    """
    weights = np.asarray(matrix, dtype=float)
    if weights.ndim != 2 or weights.shape[1] != len(feature_names):
        raise ValueError(
            f"matrix must be 2-D with one column per feature ({len(feature_names)}); got shape {weights.shape}."
        )
    if not np.isfinite(weights).all():
        raise ValueError("matrix has NaN or infinite weights: did the learner diverge?")
    square = weights.shape[0] == weights.shape[1]
    limit = np.abs(weights).max() or 1.0
    ax = _new_axes(ax)
    image = ax.imshow(weights, cmap=cmap, vmin=-limit, vmax=limit, interpolation="nearest", aspect="auto")
    ax.figure.colorbar(image, ax=ax, label="weight", shrink=0.85)
    groups = feature_groups(feature_names)
    centres = [(start + stop) / 2 - 0.5 for _, start, stop in groups]
    names = [name for name, _, _ in groups]
    for _, start, _ in groups[1:]:
        ax.axvline(start - 0.5, color="black", lw=0.8)
        if square:
            ax.axhline(start - 0.5, color="black", lw=0.8)
    ax.set_xticks(centres, names, rotation=45 if len(groups) > 4 else 0, ha="right" if len(groups) > 4 else "center")
    if square:
        ax.set_yticks(centres, names)
    else:
        ax.set_ylabel("output dimension")
    ax.set_xlabel("feature")
    ax.grid(False)
    ax.set_title(title or ("Learned metric M" if square else "Learned projection L"))
    return ax


# --- training curves and comparisons ------------------------------------------------------------

SPLIT_LINESTYLES = {"train": "-", "val": "--", "valid": "--", "validation": "--", "test": ":"}


def training_curves(
    history: Mapping[str, Sequence[float]] | object,
    *,
    title: str | None = None,
    ax: Axes | None = None,
    xlabel: str = "epoch",
) -> np.ndarray:
    """Curves of a training history: ``{name: values per epoch}`` or a DataFrame (one column each).

    Names like ``train_loss`` / ``val_loss`` share a colour and differ in line style (train solid,
    validation dashed, test dotted). Without ``ax``, losses and the other measures get a panel
    each. Returns the axes as an array.
    """
    series = {str(name): np.asarray(values, dtype=float) for name, values in dict(history).items()}
    if not series or any(values.ndim != 1 or len(values) == 0 for values in series.values()):
        raise ValueError("history must map each name to a non-empty list of numbers (one per epoch).")
    losses = [name for name in series if "loss" in name.lower()]
    panels = [losses, [name for name in series if name not in losses]]
    panels = [names for names in panels if names]
    if ax is None:
        _, axes = plt.subplots(1, len(panels), figsize=(5.2 * len(panels), 3.6), squeeze=False, layout="constrained")
        axes = axes[0]
    else:
        axes, panels = np.array([ax]), [list(series)]
    colours: dict[str, str] = {}
    for panel, names in zip(axes, panels, strict=True):
        for name in names:
            split, _, measure = name.partition("_") if name.split("_")[0] in SPLIT_LINESTYLES else ("", "", name)
            colour = colours.setdefault(measure, OKABE_ITO[len(colours) % len(OKABE_ITO)])
            epochs = np.arange(1, len(series[name]) + 1)
            panel.plot(epochs, series[name], SPLIT_LINESTYLES.get(split, "-"), color=colour, label=name)
        panel.set(xlabel=xlabel, ylabel="loss" if names == losses else "value")
        panel.xaxis.set_major_locator(mpl.ticker.MaxNLocator(integer=True))
        panel.legend()
    if len(axes) > 1:
        axes[0].figure.suptitle(title or "Training curves")
    else:
        axes[0].set_title(title or "Training curves")
    return axes


def _results_table(results: Mapping[str, Mapping[str, float]] | object):
    import pandas as pd

    table = results if isinstance(results, pd.DataFrame) else pd.DataFrame.from_dict(dict(results), orient="index")
    if table.empty:
        raise ValueError("results is empty: give {method: {measure: value}} or a DataFrame.")
    return table


def compare_metrics(
    results: Mapping[str, Mapping[str, float]] | object,
    *,
    measures: Sequence[str] | None = None,
    title: str | None = None,
    ax: Axes | None = None,
    annotate: bool = True,
) -> Axes:
    """Grouped bars: one group per measure, one bar per method, values written on the bars.

    ``results`` is ``{method: {measure: value}}`` or a DataFrame with a row per method and a
    column per measure (e.g. ``retrieval_report`` outputs).
    """
    table = _results_table(results)
    if measures is not None:
        unknown = [m for m in measures if m not in table.columns]
        if unknown:
            raise ValueError(f"unknown measures {unknown}; the results have {list(table.columns)}.")
        table = table[list(measures)]
    n_methods, n_measures = table.shape
    width = 0.8 / n_methods
    ax = _new_axes(ax, figsize=(max(5.0, 1.3 * n_measures * max(1, n_methods / 2)), 3.8))
    positions = np.arange(n_measures)
    for i, (method, row) in enumerate(table.iterrows()):
        bars = ax.bar(
            positions + (i - (n_methods - 1) / 2) * width, row.to_numpy(dtype=float), width,
            label=str(method), color=OKABE_ITO[i % len(OKABE_ITO)],
        )
        if annotate:
            ax.bar_label(bars, fmt="%.2f", fontsize=8, padding=1)
    ax.set_xticks(positions, [str(m) for m in table.columns])
    ax.set(ylabel="score")
    ax.grid(axis="x", visible=False)
    if np.nanmax(table.to_numpy(dtype=float)) <= 1:
        ax.set_ylim(0, 1.1)
    ax.legend(loc="upper left", bbox_to_anchor=(1.01, 1))
    ax.set_title(title or "Comparison of measures")
    return ax


def metrics_table(
    results: Mapping[str, Mapping[str, float]] | object,
    *,
    lower_is_better: Sequence[str] = ("mr1",),
    decimals: int = 3,
):
    """The results as a styled table (a pandas ``Styler``) with each measure's best value in bold."""
    table = _results_table(results)
    best = {
        column: (table[column].min() if column in lower_is_better else table[column].max())
        for column in table.columns
    }
    return table.style.format(precision=decimals).apply(
        lambda column: ["font-weight: bold" if value == best[column.name] else "" for value in column]
    )


def seed_dots(
    frame: object,
    *,
    baselines: Mapping[str, float] | None = None,
    measure: str = "score",
    title: str | None = None,
    ax: Axes | None = None,
) -> Axes:
    """Every seed of every method as a dot, with the mean as a bar (the protocol's figure).

    ``frame`` is a :func:`utils.protocol.seed_frame` (a row per seed, a column per method);
    ``baselines`` (e.g. ``{"chance": 0.08, "raw log-mel": 0.21}``) are drawn as labelled dashed
    lines: they involve no training, so they have no seeds.
    """
    import pandas as pd

    table = frame if isinstance(frame, pd.DataFrame) else pd.DataFrame(frame)
    if table.empty:
        raise ValueError("frame is empty: give one row per seed and one column per method.")
    ax = _new_axes(ax, figsize=(max(4.5, 1.1 * table.shape[1] + 2), 3.4))
    offsets = np.linspace(-0.12, 0.12, len(table)) if len(table) > 1 else np.zeros(1)
    for i, method in enumerate(table.columns):
        values = table[method].to_numpy(dtype=float)
        colour = OKABE_ITO[i % len(OKABE_ITO)]
        ax.scatter(i + offsets, values, color=colour, s=22, zorder=3)
        ax.hlines(np.nanmean(values), i - 0.25, i + 0.25, color=colour, lw=2.5, zorder=2)
    for j, (name, value) in enumerate((baselines or {}).items()):
        ax.axhline(value, color="grey", ls=("--", ":", "-.")[j % 3], lw=1.2)
        ax.annotate(name, (len(table.columns) - 0.5, value), xytext=(2, 2), textcoords="offset points",
                    fontsize=8, color="dimgrey", ha="right", va="bottom")
    ax.set_xticks(np.arange(table.shape[1]), [str(m) for m in table.columns])
    ax.set_xlim(-0.6, table.shape[1] - 0.4)
    ax.grid(axis="x", visible=False)
    ax.set(ylabel=measure, title=title or f"{measure}: each dot a seed ({len(table)}), the bar their mean")
    return ax
