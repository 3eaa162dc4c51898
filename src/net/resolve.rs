//! Name resolution: the system resolver with `--resolve NAME=IP` style overrides.
