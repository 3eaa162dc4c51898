//! The service graph as text: every path from a workload nobody calls (the ingress gateway,
//! a client) along the edges, each hop with its rate:
//! `istio-ingressgateway ─3.0/s─▶ webapp ─3.0/s─▶ catalog`.

use std::collections::{BTreeMap, BTreeSet};

use crate::client::traffic::Edge;

/// Paths longer than this are cut (a loop in the graph stops at the repeated node anyway).
const MAX_DEPTH: usize = 8;

/// One line per path, roots in name order; a node is shown by its workload name (without
/// the namespace) unless names repeat across namespaces.
pub fn lines(edges: &[Edge]) -> Vec<String> {
    let live: Vec<&Edge> = edges.iter().filter(|e| e.rps > 0.0).collect();
    if live.is_empty() {
        return Vec::new();
    }
    let mut out_edges: BTreeMap<&str, Vec<&Edge>> = BTreeMap::new();
    let mut targets: BTreeSet<&str> = BTreeSet::new();
    let mut nodes: BTreeSet<&str> = BTreeSet::new();
    for e in &live {
        out_edges.entry(&e.source).or_default().push(e);
        targets.insert(&e.destination);
        nodes.insert(&e.source);
        nodes.insert(&e.destination);
    }
    let short = short_names(&nodes);
    let name = |n: &str| short.get(n).cloned().unwrap_or_else(|| n.to_owned());
    let mut roots: Vec<&str> = nodes
        .iter()
        .copied()
        .filter(|n| !targets.contains(n))
        .collect();
    if roots.is_empty() {
        // Everything is called by something (a cycle): start anywhere.
        roots.extend(nodes.iter().next().copied());
    }
    let mut lines = Vec::new();
    for root in roots {
        let mut path = vec![root];
        walk(root, &out_edges, &mut path, name(root), &name, &mut lines);
    }
    lines
}

fn walk<'a>(
    node: &'a str,
    out_edges: &BTreeMap<&'a str, Vec<&'a Edge>>,
    path: &mut Vec<&'a str>,
    text: String,
    name: &dyn Fn(&str) -> String,
    lines: &mut Vec<String>,
) {
    let next: Vec<&&Edge> = out_edges
        .get(node)
        .map(|v| {
            v.iter()
                .filter(|e| !path.contains(&e.destination.as_str()))
                .collect()
        })
        .unwrap_or_default();
    if next.is_empty() || path.len() > MAX_DEPTH {
        lines.push(text);
        return;
    }
    for e in next {
        path.push(&e.destination);
        let t = format!("{text} ─{}─▶ {}", rate(e.rps), name(&e.destination));
        walk(&e.destination, out_edges, path, t, name, lines);
        path.pop();
    }
}

/// `3.0/s`, `0.20/s`, `1.2k/s`.
pub fn rate(rps: f64) -> String {
    if rps >= 1000.0 {
        format!("{:.1}k/s", rps / 1000.0)
    } else if rps >= 1.0 {
        format!("{rps:.1}/s")
    } else {
        format!("{rps:.2}/s")
    }
}

fn short_names<'a>(nodes: &BTreeSet<&'a str>) -> BTreeMap<&'a str, String> {
    let mut count: BTreeMap<&str, usize> = BTreeMap::new();
    for n in nodes {
        *count.entry(n.split('.').next().unwrap_or(n)).or_default() += 1;
    }
    nodes
        .iter()
        .map(|n| {
            let w = n.split('.').next().unwrap_or(n);
            let shown = if count.get(w) == Some(&1) { w } else { n };
            (*n, shown.to_owned())
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn e(s: &str, d: &str, rps: f64) -> Edge {
        Edge {
            source: s.into(),
            destination: d.into(),
            rps,
        }
    }

    #[test]
    fn gateway_webapp_catalog() {
        let edges = [
            e("webapp.istioinaction", "catalog.istioinaction", 3.0),
            e(
                "istio-ingressgateway.istio-system",
                "webapp.istioinaction",
                3.0,
            ),
            e("sleep.default", "catalog.istioinaction", 0.25),
            e("idle.default", "catalog.istioinaction", 0.0),
        ];
        assert_eq!(
            lines(&edges),
            [
                "istio-ingressgateway ─3.0/s─▶ webapp ─3.0/s─▶ catalog",
                "sleep ─0.25/s─▶ catalog",
            ]
        );
    }

    #[test]
    fn cycles_end() {
        let edges = [e("a.x", "b.x", 1.0), e("b.x", "a.x", 1.0)];
        assert_eq!(lines(&edges), ["a ─1.0/s─▶ b"]);
    }
}
