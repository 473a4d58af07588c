"""No API that current numpy, pandas, scikit-learn, librosa or torch removed or deprecated.

The original tutorial broke on ``DataFrame.append``, ``plot_confusion_matrix`` and Keras ``lr=``.
This scan catches such calls in the course's code and notebooks without running them; the pytest
configuration also turns deprecation warnings raised from ``utils`` into errors, and so does
``utils.course.setup`` in the notebooks' kernels during the tests (``ML4MIR_STRICT_WARNINGS``).
"""

from __future__ import annotations

import re
import warnings
from pathlib import Path

import nbformat
import pytest

from utils.course import fail_on_deprecations

ROOT = Path(__file__).resolve().parents[1]

REMOVED = {
    r"\.append\((?:\w+\s*,\s*)?ignore_index": "DataFrame.append (pandas 2.0): use pd.concat",
    r"\.iteritems\(": "iteritems (pandas 2.0): use .items()",
    r"\.applymap\(": "applymap (pandas 2.1): use .map",
    r"\bplot_confusion_matrix\b": "plot_confusion_matrix (scikit-learn 1.2): use ConfusionMatrixDisplay",
    r"\bload_boston\b": "load_boston (scikit-learn 1.2)",
    r"force_all_finite\s*=": "force_all_finite (scikit-learn 1.8): use ensure_all_finite",
    r"\bnp\.(?:float|int|bool|object|str)\b(?!\w|_)": "the np.float/int/... aliases (numpy 1.24): use the builtins",
    r"\bnp\.(?:product|cumproduct|alltrue|sometrue|row_stack|trapz|in1d|NaN|Inf|NINF)\b": "removed in numpy 2.0",
    r"\blibrosa\.output\b": "librosa.output (librosa 0.8): use soundfile.write",
    r"\blibrosa\.util\.example_audio_file\b": "example_audio_file (librosa 0.10): use librosa.example",
    r"\btorch\.(?:symeig|eig|lstsq|solve|qr|chain_matmul)\(": "removed from torch: use torch.linalg",
    r"\btorch\.cuda\.amp\.(?:autocast|GradScaler)\b": "torch.cuda.amp (deprecated): use torch.amp",
    r"optimizers\.\w+\([^)]*\blr=": "Keras lr= (TF 2.11): use learning_rate=",
    r"\bsklearn\.utils\.testing\b|\bscipy\.misc\.(?:imread|imresize|comb|factorial)\b": "removed module or function",
}


def _sources() -> dict[str, str]:
    code = {str(p.relative_to(ROOT)): p.read_text() for folder in ("utils", "tools")
            for p in (ROOT / folder).rglob("*.py")}
    for path in (ROOT / "notebooks").rglob("*.ipynb"):
        cells = nbformat.read(path, as_version=4).cells
        code[str(path.relative_to(ROOT))] = "\n".join(c.source for c in cells if c.cell_type == "code")
    return code


@pytest.mark.parametrize("pattern", list(REMOVED))
def test_no_removed_or_deprecated_api(pattern):
    sources = _sources()
    assert len(sources) > 40
    hits = [name for name, text in sources.items() if re.search(pattern, text)]
    assert not hits, f"{REMOVED[pattern]}: {hits}"


@pytest.mark.parametrize("example", [
    "table = table.append(row, ignore_index=True)",
    "x.astype(np.float)",
    "from sklearn.metrics import plot_confusion_matrix",
    "keras.optimizers.Adam(lr=1e-3)",
])
def test_the_scan_catches_what_broke_the_original_tutorial(example):
    assert any(re.search(pattern, example) for pattern in REMOVED)


def test_the_scan_leaves_current_apis_alone():
    current = "x.astype(np.float32); torch.optim.Adam(params, lr=1e-3); pd.concat([a, b]); s.items()"
    assert not [pattern for pattern in REMOVED if re.search(pattern, current)]


@pytest.mark.parametrize("module", ["__main__", "utils.features"])
def test_kernels_fail_on_deprecations_caused_by_course_code(module):
    code = compile("import warnings; warnings.warn('old API', FutureWarning)", "<cell>", "exec")
    with warnings.catch_warnings():
        fail_on_deprecations()
        with pytest.raises(FutureWarning, match="old API"):
            exec(code, {"__name__": module})
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fail_on_deprecations()
            exec(code, {"__name__": "sklearn.base"})  # a library's own deprecation: reported, not raised
        assert len(caught) == 1
