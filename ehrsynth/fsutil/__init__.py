"""File helpers at the bottom of the layers (docs/design.md §1), so that every layer can write files without
importing :mod:`ehrsynth.io`:

- :mod:`ehrsynth.fsutil.atomic`: atomic writes (temporary file + rename) and ``sha256_file``; stdlib only;
- :mod:`ehrsynth.fsutil.tensors`: safetensors save/load of flat tensor dicts and optimizer states (imports torch,
  so it is not imported here).

:mod:`ehrsynth.io.atomic` and :mod:`ehrsynth.io.tensors` re-export them.
"""
