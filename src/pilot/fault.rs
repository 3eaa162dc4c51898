//! VirtualService `http[].fault` as istiod writes it: an `envoy.filters.http.fault` filter with
//! an empty config in every outbound and gateway HCM, and the fault itself per route in
//! `typed_per_filter_config` (routes without a fault carry none).

use serde_json::{Map, Value};

use crate::api::istio::{HttpFaultInjection, Percent};
use crate::xds::core::{Denominator, FractionalPercent};
use crate::xds::de::Duration;
use crate::xds::hcm::{HttpFilter, HttpFilterConfig};
use crate::xds::http_filters::{FaultAbort, FaultDelay, HttpFault, PerFilterConfig};

pub const FAULT_FILTER: &str = "envoy.filters.http.fault";

/// The HCM's fault filter: configured per route, so empty here (as istiod does).
pub fn fault_filter() -> HttpFilter {
    HttpFilter {
        name: FAULT_FILTER.to_owned(),
        typed_config: Some(HttpFilterConfig::Fault(HttpFault::default())),
        ..Default::default()
    }
}

/// The route's `typed_per_filter_config`, or `None` when the fault injects nothing mesh can
/// express (istiod drops exponential delays and unknown abort types the same way).
pub fn route_fault(f: &HttpFaultInjection) -> Option<Map<String, Value>> {
    let delay = f.delay.as_ref().and_then(|d| {
        let fixed = crate::api::parse_duration(d.fixed_delay.as_deref()?).ok()?;
        let percentage = match &d.percentage {
            Some(p) => percent(p),
            // The deprecated integer `percent`.
            None => FractionalPercent {
                numerator: d
                    .rest
                    .get("percent")
                    .and_then(Value::as_u64)
                    .and_then(|n| u32::try_from(n).ok())
                    .unwrap_or(0),
                denominator: Denominator::Hundred,
            },
        };
        Some(FaultDelay {
            fixed_delay: Some(Duration(fixed)),
            header_delay: None,
            percentage: Some(percentage),
        })
    });
    let abort = f.abort.as_ref().and_then(|a| {
        let (http_status, grpc_status) = match (a.http_status, a.grpc_status.as_deref()) {
            (Some(s), _) => (Some(u32::try_from(s).ok()?), None),
            (None, Some(g)) => (None, Some(grpc_code(g)?)),
            (None, None) => return None,
        };
        Some(FaultAbort {
            http_status,
            grpc_status,
            header_abort: None,
            percentage: a.percentage.as_ref().map(percent),
        })
    });
    if delay.is_none() && abort.is_none() {
        return None;
    }
    let cfg = PerFilterConfig::Fault(HttpFault {
        delay,
        abort,
        ..Default::default()
    });
    let mut map = Map::new();
    map.insert(FAULT_FILTER.to_owned(), serde_json::to_value(cfg).ok()?);
    Some(map)
}

/// istiod's `translatePercentToFractionalPercent`: value × 10000 per million.
fn percent(p: &Percent) -> FractionalPercent {
    FractionalPercent {
        numerator: (p.value * 10_000.0).clamp(0.0, 1_000_000.0) as u32,
        denominator: Denominator::Million,
    }
}

/// A gRPC status name (`UNAVAILABLE`) or number as its code.
fn grpc_code(name: &str) -> Option<u32> {
    const CODES: [&str; 17] = [
        "OK",
        "CANCELLED",
        "UNKNOWN",
        "INVALID_ARGUMENT",
        "DEADLINE_EXCEEDED",
        "NOT_FOUND",
        "ALREADY_EXISTS",
        "PERMISSION_DENIED",
        "RESOURCE_EXHAUSTED",
        "FAILED_PRECONDITION",
        "ABORTED",
        "OUT_OF_RANGE",
        "UNIMPLEMENTED",
        "INTERNAL",
        "UNAVAILABLE",
        "DATA_LOSS",
        "UNAUTHENTICATED",
    ];
    name.parse().ok().or_else(|| {
        CODES
            .iter()
            .position(|c| c.eq_ignore_ascii_case(name))
            .map(|i| i as u32)
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fault(json: Value) -> Option<Value> {
        let f: HttpFaultInjection = serde_json::from_value(json).unwrap();
        route_fault(&f).map(|m| m[FAULT_FILTER].clone())
    }

    #[test]
    fn faults_translate_like_istiod() {
        let v = fault(serde_json::json!({
            "delay": {"fixedDelay": "5s", "percentage": {"value": 50}},
            "abort": {"httpStatus": 500, "percentage": {"value": 0.1}}
        }))
        .unwrap();
        assert_eq!(
            v,
            serde_json::json!({
                "@type": "type.googleapis.com/envoy.extensions.filters.http.fault.v3.HTTPFault",
                "delay": {"fixed_delay": "5s", "percentage": {"numerator": 500000, "denominator": "MILLION"}},
                "abort": {"http_status": 500, "percentage": {"numerator": 1000, "denominator": "MILLION"}}
            })
        );
        let v = fault(serde_json::json!({"delay": {"fixedDelay": "1s", "percent": 10}})).unwrap();
        assert_eq!(
            v["delay"]["percentage"],
            serde_json::json!({"numerator": 10})
        );
        let v = fault(serde_json::json!({"abort": {"grpcStatus": "UNAVAILABLE"}})).unwrap();
        assert_eq!(v["abort"], serde_json::json!({"grpc_status": 14}));
        assert_eq!(
            fault(serde_json::json!({"delay": {"exponentialDelay": "1s"}})),
            None
        );
    }
}
