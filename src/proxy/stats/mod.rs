//! Envoy-style stats: counters, gauges, histograms with Envoy's names and admin formats.
