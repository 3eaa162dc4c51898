//! Rendering for the terminal: istioctl's and kubectl's tables and `-o json|yaml`.
//!
//! The Go-compatible pieces are shared: [`table`] (Go's `text/tabwriter`), [`gojson`]
//! (`encoding/json` and jsonpb layouts), [`goyaml`] (`sigs.k8s.io/yaml.JSONToYAML`),
//! [`gosort`] (`sort.Slice`), [`duration`] (`HumanDuration`). [`protojson`] turns Envoy admin
//! JSON into a [`node::Node`] tree with protojson field names. [`istioctl`] holds the
//! `proxy-config` / `proxy-status` renderers; [`kubectl`] the `get` renderers.

pub mod duration;
pub mod gojson;
pub mod gosort;
pub mod goyaml;
pub mod istioctl;
pub mod kubectl;
pub mod metrics;
pub mod node;
pub mod protojson;
pub mod table;
