//! Golden tests: inputs and kubectl's exact output under `tests/golden/kubectl/`.
