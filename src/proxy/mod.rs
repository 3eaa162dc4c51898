//! The Envoy-compatible data plane. Its only input is an `xds` snapshot (a static bootstrap or a
//! control-plane push). May import `xds` and `net`.

pub mod stats;
