"""Helper package of the course *Metric Learning for Music Information Retrieval*.

One module per concern; the notebooks import these modules, never the other way round:

- ``course``: the notebooks' common set-up (seeding, versions) and checked claims.
- ``data`` (a package: cache, FluidSynth rendering, GM notes, chorales, NSynth, command line),
  ``features``: the course datasets (rendered offline, cached) and their features.
- ``evaluate``: retrieval and classification measures, paired bootstrap intervals over queries.
- ``protocol``: the evidence protocol (class-disjoint splits, seeds run in parallel, comparisons
  with their verdicts, examples chosen by rule), used by every notebook.
- ``linear``: Mahalanobis metric learners written for teaching (NCA, LMNN, MMC, ITML, MLR).
- ``losses``, ``miners``, ``samplers``, ``models``, ``train``: deep metric learning blocks.
- ``text``: the sentence-embedding model for audio-text notebooks.
- ``plots``, ``display``: figures, audio players and sound maps.
- ``exercises``: checkers that give feedback on a reader's answers.
- ``checks``: the argument checks the modules share (clear errors for bad input).
"""

__version__ = "0.1.0"
