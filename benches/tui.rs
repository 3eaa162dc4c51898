//! `mesh tui` with many objects: the cost of one refresh (the resources view rebuilding its
//! rows from the API's answer, as after every store change) and of one frame (moving the
//! selection and drawing the view at 80×24), for 10, 1000 and 10000 Services, in one run.
//!
//! `cargo bench --bench tui`. Tables draw only their visible rows, so a frame should cost about
//! the same at every size; a refresh is linear in the objects.

#![allow(clippy::unwrap_used)]

use std::time::Instant;

use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use serde_json::{Value, json};

use mesh::tui::app::{App, Update};
use mesh::tui::theme::Theme;
use mesh::tui::views;

fn services(n: usize) -> Value {
    let items: Vec<Value> = (0..n)
        .map(|i| {
            json!({"apiVersion": "v1", "kind": "Service",
                "metadata": {"name": format!("svc-{i:05}"), "namespace": "load", "creationTimestamp": "2025-05-31T23:59:00Z"},
                "spec": {"type": "ClusterIP", "clusterIP": format!("127.96.{}.{}", i / 250, i % 250 + 1),
                         "ports": [{"port": 80, "protocol": "TCP"}]}})
        })
        .collect();
    json!({"listings": [{"kind": "Service", "group": "", "plural": "services", "namespaced": true, "actedOn": true, "items": items}]})
}

fn main() {
    println!(
        "{:>8} {:>14} {:>14} {:>10}",
        "services", "refresh µs", "frame µs", "key µs"
    );
    let theme = Theme { color: true };
    for n in [10, 1000, 10000] {
        let answer = services(n);
        let mut app = App::new("bench");
        let rounds = if n >= 10000 { 5 } else { 20 };
        let started = Instant::now();
        for _ in 0..rounds {
            app.on_update(Update::Resources(answer.clone()));
        }
        let refresh = started.elapsed().as_secs_f64() * 1e6 / f64::from(rounds);
        app.on_key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::NONE));
        let mut term = Terminal::new(TestBackend::new(80, 24)).unwrap();
        let frames = 500u32;
        let started = Instant::now();
        for i in 0..frames {
            let key = if i % 2 == 0 {
                KeyCode::PageDown
            } else {
                KeyCode::Char('j')
            };
            app.on_key(KeyEvent::new(key, KeyModifiers::NONE));
            term.draw(|f| views::draw(&app, f, &theme)).unwrap();
        }
        let frame = started.elapsed().as_secs_f64() * 1e6 / f64::from(frames);
        let started = Instant::now();
        for _ in 0..frames {
            app.on_key(KeyEvent::new(KeyCode::Char('j'), KeyModifiers::NONE));
        }
        let key = started.elapsed().as_secs_f64() * 1e6 / f64::from(frames);
        println!("{n:>8} {refresh:>14.0} {frame:>14.0} {key:>10.1}");
    }
}
