//! User-facing resources (Kubernetes, Istio, Gateway API): types, multi-document YAML decoding
//! with source locations, and validation. Imports nothing of ours.
