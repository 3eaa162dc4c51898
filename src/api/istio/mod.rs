//! Istio networking kinds mesh acts on — Gateway, VirtualService, DestinationRule,
//! ServiceEntry — typed with Istio's JSON field names. Fields mesh does not use yet are kept
//! as written (`rest`, or `Value` for whole sub-objects). Durations stay strings as written;
//! [`crate::api::duration::parse_duration`] reads them.

mod common;
mod destination_rule;
mod gateway;
mod service_entry;
pub mod validate;
mod virtual_service;

pub use common::{
    Destination, HeaderOperations, Headers, Percent, Port, PortSelector, StringMatch,
    WorkloadSelector,
};
pub use destination_rule::{
    ClientTlsMode, ClientTlsSettings, ConnectionPoolSettings, DestinationRule, DestinationRuleSpec,
    HttpSettings, LoadBalancerSettings, OutlierDetection, PortTrafficPolicy, SimpleLb, Subset,
    TcpSettings, TrafficPolicy,
};
pub use gateway::{Gateway, GatewaySpec, Server, ServerTls, ServerTlsMode};
pub use service_entry::{Location, Resolution, ServiceEntry, ServiceEntrySpec, WorkloadEntrySpec};
pub use virtual_service::{
    Delegate, FaultAbort, FaultDelay, HttpFaultInjection, HttpMatchRequest, HttpRedirect,
    HttpRetry, HttpRewrite, HttpRoute, HttpRouteDestination, L4MatchAttributes, RegexRewrite,
    RouteDestination, TcpRoute, TlsMatchAttributes, TlsRoute, VirtualService, VirtualServiceSpec,
};
