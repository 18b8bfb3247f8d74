"""Input/output: tables, atomic writes, model directories, the provenance sidecar."""
