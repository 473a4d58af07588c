"""Bad input to every public function of utils gets a TypeError or ValueError naming the problem.

One table of cases (issue 9): wrong shapes and dtypes, NaN and inf, empty inputs, mismatched
lengths, unknown names, labels whose classes have no positives, non-positive sizes and margins.
Each case is ``(id, call, error, match)``: ``call()`` must raise ``error`` with a message matching
``match`` (a regex that names the problem, not just any text). Ids start with the module's name.
Inputs are tiny and nothing is built or downloaded: every case takes milliseconds.
"""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np
import pandas as pd
import pytest
import torch
from torch.utils.data import DataLoader, TensorDataset

from utils import (
    augment,
    conditional,
    course,
    data,
    display,
    evaluate,
    experiments,
    linear,
    losses,
    miners,
    models,
    plots,
    samplers,
    text,
    train,
)
from utils import features as F

NAN, INF = float("nan"), float("inf")
POINTS = np.array([[0.0, 0.0], [0.1, 0.0], [1.0, 1.0], [1.1, 1.0], [2.0, 0.0], [2.1, 0.1]])
LABELS = np.array([0, 0, 1, 1, 2, 2])
SINGLETONS = np.arange(6)  # six classes of one item each: no positive pair anywhere
X = torch.randn(6, 3, generator=torch.Generator().manual_seed(0))
Y = torch.as_tensor(LABELS)
SPECTROGRAMS = torch.zeros(2, 8, 10)
GENERATOR = torch.Generator().manual_seed(0)
CLIP = np.zeros(800)
REPOSITORY = Path(__file__).resolve().parents[1]


def with_value(array: np.ndarray, value: float) -> np.ndarray:
    """A float copy of ``array`` with its first entry replaced by ``value`` (NaN, inf...)."""
    broken = np.array(array, dtype=float)
    broken.flat[0] = value
    return broken


def tiny_dataset() -> data.Dataset:
    meta = pd.DataFrame({"instrument": ["a", "a", "b", "b"], "split": ["train", "train", "test", "test"]})
    return data.Dataset("tiny", np.zeros((4, 8), np.float32), 16000, meta, cache_dir=Path("unused"), params={})


def tiny_split() -> experiments.LabelledSplit:
    return experiments.LabelledSplit(
        x=torch.zeros(4, 2), y=torch.tensor([0, 0, 1, 1]), labels=np.array(["a", "a", "b", "b"]),
        rows=np.arange(4), groups=np.arange(4),
    )


def loader() -> DataLoader:
    return DataLoader(TensorDataset(X, Y), batch_size=3)


def mlp() -> models.MLPEncoder:
    return models.MLPEncoder(3, 2)


def fit(loss_fn, **options) -> train.History:
    return train.train(mlp(), loss_fn, loader(), progress=False, **options)


CASES = [
    # --- evaluate ----------------------------------------------------------------------------
    ("evaluate-unknown-metric", lambda: evaluate.pairwise_distances(POINTS, metric="manhattn"),
     ValueError, "Unknown metric 'manhattn'"),
    ("evaluate-string-embeddings", lambda: evaluate.check_embeddings([["a", "b"]]),
     TypeError, "real numbers"),
    ("evaluate-nan-embeddings", lambda: evaluate.retrieval_report(with_value(POINTS, NAN), LABELS),
     ValueError, "NaN or infinite"),
    ("evaluate-labels-length", lambda: evaluate.knn_accuracy(POINTS, LABELS[:4]),
     ValueError, "4 entries but embeddings has 6 rows"),
    ("evaluate-no-positives", lambda: evaluate.retrieval_report(POINTS, SINGLETONS),
     ValueError, "No query has a relevant item"),
    ("evaluate-depth-zero", lambda: evaluate.relevant_ranks(POINTS, LABELS, depth=0),
     ValueError, "depth must be a positive integer"),
    ("evaluate-full-ranking-string", lambda: evaluate.retrieval_report(POINTS, LABELS, full_ranking="no"),
     TypeError, "full_ranking must be True or False"),
    ("evaluate-float-query-indices", lambda: evaluate.nearest_neighbours(POINTS, [0.5], k=1),
     TypeError, "integer row numbers"),
    ("evaluate-empty-query-indices", lambda: evaluate.nearest_neighbours(POINTS, [], k=1),
     ValueError, "non-empty"),
    ("evaluate-k-zero", lambda: evaluate.precision_at_k([[1, 0, 1]], k=0),
     ValueError, "k must be a positive integer"),
    ("evaluate-nan-scores", lambda: evaluate.ndcg_at_k([[1, 0, 2]], [[0.3, NAN, 0.1]]),
     ValueError, "scores has NaN"),
    ("evaluate-string-relevance", lambda: evaluate.ndcg_at_k([["high", "low"]]),
     TypeError, "relevance must hold real numbers"),
    ("evaluate-2d-labels", lambda: evaluate.cluster_scores(POINTS, LABELS[:, None]),
     ValueError, "labels must be 1-D"),
    # --- features ----------------------------------------------------------------------------
    ("features-one-clip-not-a-batch", lambda: F.logmel(CLIP),
     ValueError, r"\(n_clips, n_samples\).*audio\[None\]"),
    ("features-nan-audio", lambda: F.logmel(with_value(CLIP[None], NAN)),
     ValueError, "audio has NaN or infinite"),
    ("features-empty-audio", lambda: F.chroma(np.zeros((0, 800))),
     ValueError, "audio is empty"),
    ("features-string-audio", lambda: F.mfcc_stats(np.array([["a", "b"]])),
     TypeError, "real-valued samples"),
    ("features-too-many-mfccs", lambda: F.mfcc_from_logmel(np.zeros((1, 8, 5)), n_mfcc=20),
     ValueError, "n_mfcc = 20 is more than the 8 mel bands"),
    ("features-negative-power", lambda: F.power_to_db_per_clip(-np.ones((1, 4))),
     ValueError, "power must be non-negative"),
    ("features-piano-roll-lengths", lambda: F.piano_roll([0.0, 0.5], [0.4], [60, 62], 10),
     ValueError, "same length"),
    ("features-piano-roll-pitch", lambda: F.piano_roll([0.0], [0.4], [200], 10),
     ValueError, r"MIDI pitches 0\.\.127"),
    ("features-standardizer-nan", lambda: F.Standardizer().fit(with_value(POINTS, NAN)),
     ValueError, "train has NaN"),
    ("features-standardizer-width", lambda: F.Standardizer().fit(POINTS).transform(np.zeros((2, 3))),
     ValueError, "fitted on"),
    # --- linear ------------------------------------------------------------------------------
    ("linear-no-positives", lambda: linear.sample_triplets(SINGLETONS, 10),
     ValueError, "every class has a single member"),
    ("linear-zero-pairs", lambda: linear.sample_pairs(LABELS, 0),
     ValueError, "n_pairs must be a positive integer"),
    ("linear-2d-labels", lambda: linear.sample_pairs(LABELS.reshape(2, 3), 10),
     ValueError, "y must be 1-D"),
    ("linear-unknown-init", lambda: linear.NCA(init="pcaa").fit(POINTS, LABELS),
     ValueError, "init must be 'auto', 'identity', 'pca'"),
    ("linear-unknown-measure", lambda: linear.MLR(measure="ndgc").fit(POINTS, LABELS),
     ValueError, "measure must be one of"),
    ("linear-too-few-target-neighbours", lambda: linear.LMNN(k=2).fit(POINTS, LABELS),
     ValueError, "every class needs more than k=2 members"),
    ("linear-nan-X", lambda: linear.LDA().fit(with_value(POINTS, NAN), LABELS),
     ValueError, "NaN"),
    ("linear-pairs-one-kind", lambda: linear.MMC().fit_pairs(POINTS, [[0, 1], [2, 3]], [True, True]),
     ValueError, "both similar"),
    # --- losses ------------------------------------------------------------------------------
    ("losses-string-labels", lambda: losses.TripletMarginLoss()(X, ["a", "a", "b", "b", "c", "c"]),
     TypeError, "labels must be integers"),
    ("losses-float-labels", lambda: losses.ContrastiveLoss()(X, Y.double()),
     TypeError, "labels must be integers"),
    ("losses-labels-length", lambda: losses.SupConLoss()(X, Y[:4]),
     ValueError, r"labels must have shape \(batch,\) = \(6,\)"),
    ("losses-empty-batch", lambda: losses.ContrastiveLoss()(torch.zeros(0, 3), Y[:0]),
     ValueError, "embeddings are empty"),
    ("losses-inf-embeddings", lambda: losses.NTXentLoss()(torch.full((6, 3), INF), Y),
     ValueError, "NaN or infinite"),
    ("losses-zero-temperature", lambda: losses.NTXentLoss(temperature=0),
     ValueError, "temperature must be positive"),
    ("losses-negative-margin", lambda: losses.TripletMarginLoss(margin=-0.1),
     ValueError, "margin must be non-negative"),
    ("losses-label-without-proxy", lambda: losses.ArcFaceLoss(3, 3)(X, Y + 1),
     ValueError, r"labels must lie in \[0, 3\)"),
    ("losses-unpaired-modalities", lambda: losses.CrossModalInfoNCE()(X, X[:4]),
     ValueError, "same shape"),
    ("losses-indices-outside-batch", lambda: losses.TripletMarginLoss()(X, Y, (Y[:1], Y[:1], Y[:1] + 9)),
     ValueError, "outside the batch"),
    # --- miners ------------------------------------------------------------------------------
    ("miners-unknown-type", lambda: miners.TripletMarginMiner(type_of_triplets="hardest"),
     ValueError, "type_of_triplets must be one of"),
    ("miners-1d-embeddings", lambda: miners.BatchHardMiner()(X[0], Y[:1]),
     ValueError, r"shape \(batch, dim\)"),
    ("miners-cutoffs", lambda: miners.DistanceWeightedMiner(cutoff=2.0, nonzero_loss_cutoff=1.4),
     ValueError, "cutoff < nonzero_loss_cutoff"),
    ("miners-integer-embeddings", lambda: miners.RandomTripletMiner()(Y[:, None], Y),
     TypeError, "floating-point"),
    # --- samplers ----------------------------------------------------------------------------
    ("samplers-more-classes-than-exist", lambda: samplers.PKSampler(LABELS, p=4, k=2),
     ValueError, "only 3 classes"),
    ("samplers-zero-k", lambda: samplers.PKSampler(LABELS, p=2, k=0),
     ValueError, "k must be a positive integer"),
    ("samplers-empty-labels", lambda: samplers.PKSampler([], p=1, k=1),
     ValueError, "non-empty 1-D"),
    ("samplers-negative-epoch", lambda: samplers.PKSampler(LABELS, p=2, k=2).set_epoch(-1),
     ValueError, "epoch must be an integer >= 0"),
    # --- models ------------------------------------------------------------------------------
    ("models-zero-embedding-size", lambda: models.MLPEncoder(3, 0),
     ValueError, "embedding_size must be a positive integer"),
    ("models-negative-channels", lambda: models.ConvEncoder(channels=(16, -1)),
     ValueError, "each of channels must be a positive integer"),
    ("models-integer-input", lambda: mlp()(Y[:, None].repeat(1, 3)),
     TypeError, "floating-point"),
    ("models-float64-input", lambda: mlp()(X.double()),
     TypeError, "float64 but the encoder's weights are torch.float32"),
    ("models-wrong-bins", lambda: models.ConvEncoder()(torch.zeros(2, 32, 40)),
     ValueError, "n_bins=64"),
    # --- train -------------------------------------------------------------------------------
    ("train-zero-epochs", lambda: fit(losses.TripletMarginLoss(), epochs=0),
     ValueError, "epochs must be a positive integer"),
    ("train-negative-lr", lambda: fit(losses.TripletMarginLoss(), lr=-1e-3),
     ValueError, "lr must be a finite number > 0"),
    ("train-loss-not-a-module", lambda: fit(lambda embeddings, labels, triplets: embeddings.sum()),
     TypeError, "loss_fn must be a torch.nn.Module"),
    ("train-pairs-not-a-loader", lambda: train.train_pairs(train.TwoTower(mlp(), mlp()), losses.CrossModalInfoNCE(), [(X, X)]),
     TypeError, "DataLoader"),
    ("train-tower-not-a-module", lambda: train.TwoTower(mlp(), "text"),
     TypeError, "encoder_b must be a torch.nn.Module"),
    ("train-embed-batch-size", lambda: train.embed(mlp(), X, batch_size=0),
     ValueError, "batch_size must be a positive integer"),
    ("train-embed-nothing", lambda: train.embed(mlp(), np.zeros((0, 3))),
     ValueError, "at least one item"),
    # --- experiments -------------------------------------------------------------------------
    ("experiments-unknown-column", lambda: experiments.labelled_splits(tiny_dataset(), label="family"),
     ValueError, "no meta column 'family'"),
    ("experiments-embeddings-length", lambda: experiments.heldout_report(np.zeros((3, 2)), tiny_split()),
     ValueError, "3 embeddings for a split of 4"),
    # --- augment -----------------------------------------------------------------------------
    ("augment-negative-gain", lambda: augment.random_gain(SPECTROGRAMS, -3.0, GENERATOR),
     ValueError, "max_db must be a finite number >= 0"),
    ("augment-fractional-shift", lambda: augment.random_shift(SPECTROGRAMS, 1.5, GENERATOR),
     ValueError, "max_bins must be an integer >= 0"),
    ("augment-snr-not-a-pair", lambda: augment.add_noise(SPECTROGRAMS, (10.0,), GENERATOR),
     ValueError, r"snr_db must be \(low, high\)"),
    ("augment-nan-spectrogram", lambda: augment.random_crop(torch.full((2, 8, 10), NAN), 4, GENERATOR),
     ValueError, "NaN or infinite"),
    ("augment-zero-crop", lambda: augment.SpectrogramAugment(crop_frames=0),
     ValueError, "crop_frames must be a positive integer"),
    ("augment-augment-not-callable", lambda: augment.TwoViews("crop"),
     TypeError, "must be callables"),
    # --- conditional -------------------------------------------------------------------------
    ("conditional-no-positives", lambda: conditional.notion_triplets(SINGLETONS, SINGLETONS, 10),
     ValueError, "no anchor has both a positive"),
    ("conditional-groups-length", lambda: conditional.notion_triplets(LABELS, LABELS[:4], 10),
     ValueError, "same length"),
    ("conditional-fractional-count", lambda: conditional.notion_triplets(LABELS, SINGLETONS, 2.5),
     ValueError, "n_triplets must be a positive integer"),
    ("conditional-2d-embeddings", lambda: conditional.ConditionalTripletLoss(losses.ContrastiveLoss())(X, Y),
     ValueError, r"\(batch, n_notions, D\)"),
    ("conditional-penalty-not-callable", lambda: conditional.ConditionalTripletLoss(losses.TripletMarginLoss(), 0.5),
     TypeError, "must be callables"),
    # --- plots -------------------------------------------------------------------------------
    ("plots-unknown-method", lambda: plots.project_2d(POINTS, method="tsen"),
     ValueError, "Unknown method 'tsen'"),
    ("plots-pca-dims", lambda: plots.project_2d(POINTS, method="pca", pca_dims=1),
     ValueError, "pca_dims must be an integer >= 2"),
    ("plots-labels-length", lambda: plots.embedding_map(POINTS, LABELS[:5], method=None),
     ValueError, r"one entry per item \(6\)"),
    ("plots-nan-distances", lambda: plots.distance_matrix(with_value(np.eye(3), NAN), [0, 1, 1], precomputed=True),
     ValueError, "finite square matrix"),
    ("plots-nan-metric", lambda: plots.metric_heatmap(with_value(np.eye(2), NAN), ["a_00", "a_01"]),
     ValueError, "NaN or infinite weights"),
    ("plots-unknown-measure", lambda: plots.compare_metrics({"lda": {"map": 0.5}}, measures=["mapp"]),
     ValueError, r"unknown measures \['mapp'\]"),
    ("plots-empty-history", lambda: plots.training_curves({}),
     ValueError, "non-empty"),
    # --- display -----------------------------------------------------------------------------
    ("display-stereo-clip", lambda: display.wav_bytes(np.zeros((2, 800)), 16000),
     ValueError, r"1-D array of samples \(mono\)"),
    ("display-nan-clip", lambda: display.wav_bytes(with_value(CLIP, NAN), 16000),
     ValueError, "NaN or infinite samples"),
    ("display-zero-sample-rate", lambda: display.wav_bytes(CLIP, 0),
     ValueError, "sample_rate must be a positive integer"),
    ("display-pitch-out-of-range", lambda: display.note_name(200),
     ValueError, r"MIDI pitch 0\.\.127"),
    ("display-fractional-pitch", lambda: display.note_name(60.5),
     ValueError, "pitch must be an integer >= 0"),
    ("display-neighbour-out-of-range", lambda: display.retrieval_view([CLIP] * 3, [0, 0, 1], query=0, neighbours=[5]),
     ValueError, r"neighbours must hold row numbers in \[0, 3\)"),
    ("display-zero-frame-rate", lambda: display.piano_roll_view(np.zeros((128, 10)), frame_rate=0),
     ValueError, "frame_rate must be a finite number > 0"),
    # --- text (no model is loaded: the checks come first) -------------------------------------
    ("text-no-texts", lambda: text.embed_text([]),
     ValueError, "at least one text"),
    ("text-not-strings", lambda: text.embed_text([1, 2]),
     TypeError, "a string or a list of strings"),
    ("text-empty-string", lambda: text.text_similarity([" "], ["cello"]),
     ValueError, "no empty strings"),
    ("text-batch-size", lambda: text.embed_text("cello", batch_size=0),
     ValueError, "batch_size must be a positive integer"),
    # --- data (argument checks only: nothing is built) ---------------------------------------
    ("data-unknown-dataset", lambda: data.load("nsynth"),
     ValueError, "unknown dataset 'nsynth'"),
    ("data-unknown-parameter", lambda: data.load_gm_notes(n_notes=3),
     TypeError, r"unknown parameter\(s\) \['n_notes'\]"),
    ("data-bad-velocities", lambda: data.load_gm_notes(velocities=(0, 200)),
     ValueError, r"MIDI velocities 1\.\.127"),
    ("data-bad-tempo-range", lambda: data.load_chorales(tempo_range=(300, 200)),
     ValueError, "tempo_range must be"),
    ("data-unknown-feature-kind", lambda: tiny_dataset().features("mfcc"),
     ValueError, "unknown feature kind 'mfcc'"),
    ("data-unknown-split", lambda: tiny_dataset().split("training"),
     ValueError, "no clip has split == 'training'"),
    ("data-unknown-split-column", lambda: tiny_dataset().split("train", column="fold"),
     ValueError, "no meta column 'fold'"),
    ("data-not-a-soundfont", lambda: data.check_soundfont(REPOSITORY / "pyproject.toml"),
     ValueError, "not a SoundFont 2 file"),
    # --- course ------------------------------------------------------------------------------
    ("course-negative-seed", lambda: course.seed_everything(-1),
     ValueError, "seed must be an integer >= 0"),
    ("course-fractional-seed", lambda: course.seed_everything(0.5),
     ValueError, "seed must be an integer >= 0"),
    ("course-zero-threads", lambda: course.setup(torch_threads=0),
     ValueError, "torch_threads must be a positive integer"),
]


@pytest.mark.parametrize(
    ("call", "error", "match"), [case[1:] for case in CASES], ids=[case[0] for case in CASES]
)
def test_bad_input_raises_an_error_that_names_the_problem(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_the_table_covers_every_module():
    modules = {case[0].split("-")[0] for case in CASES}
    assert modules == {
        "evaluate", "features", "linear", "losses", "miners", "samplers", "models", "train", "experiments",
        "augment", "conditional", "plots", "display", "text", "data", "course",
    }
    assert len(CASES) >= 40 and len({case[0] for case in CASES}) == len(CASES)
