//! `mesh metrics`: the per-workload traffic table.

use crate::client::traffic::WorkloadTraffic;

use super::table::Table;

fn ms(v: Option<f64>) -> String {
    v.map_or_else(|| "-".to_owned(), |v| format!("{v:.2}ms"))
}

/// NAMESPACE, WORKLOAD, REPORTER, REQUESTS, RPS, SUCCESS, P50, P99 — kubectl-style columns.
pub fn traffic_table(rows: &[WorkloadTraffic]) -> String {
    let mut table = Table::new(3);
    table.row([
        "NAMESPACE",
        "WORKLOAD",
        "REPORTER",
        "REQUESTS",
        "RPS",
        "SUCCESS",
        "P50",
        "P99",
    ]);
    for r in rows {
        table.row([
            r.namespace.clone(),
            r.workload.clone(),
            r.reporter.clone(),
            format!("{}", r.requests.round()),
            format!("{:.2}", r.rps),
            r.success_rate
                .map_or_else(|| "-".to_owned(), |s| format!("{:.2}%", s * 100.0)),
            ms(r.p50_ms),
            ms(r.p99_ms),
        ]);
    }
    table.render()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_rates_percentages_and_dashes() {
        let row = |w: &str, n: f64| WorkloadTraffic {
            namespace: "istioinaction".into(),
            workload: w.into(),
            reporter: "destination".into(),
            requests: n,
            rps: n / 4.0,
            success_rate: (n > 0.0).then_some(0.9),
            p50_ms: (n > 0.0).then_some(2.5),
            p99_ms: (n > 0.0).then_some(9.9),
        };
        assert_eq!(
            traffic_table(&[row("catalog", 10.0), row("webapp", 0.0)]),
            "NAMESPACE       WORKLOAD   REPORTER      REQUESTS   RPS    SUCCESS   P50      P99\n\
             istioinaction   catalog    destination   10         2.50   90.00%    2.50ms   9.90ms\n\
             istioinaction   webapp     destination   0          0.00   -         -        -\n"
        );
    }
}
