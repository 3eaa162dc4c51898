//! fortio's statistics (`stats.Histogram`): count, average, standard deviation, min, max, sum,
//! values bucketed at fortio's fixed boundaries (milliseconds for durations), and percentiles
//! interpolated inside the buckets, printed in fortio's own layout.

use std::fmt::Write as _;

use super::gofmt::g;

/// fortio's bucket upper bounds, in units of the divider (1 ms for durations).
const BOUNDS: &[f64] = &[
    0.0, 1.0, 2.0, 3.0, 4.0, 5.0, 6.0, 7.0, 8.0, 9.0, 10.0, 11.0, 12.0, 14.0, 16.0, 18.0, 20.0,
    25.0, 30.0, 35.0, 40.0, 45.0, 50.0, 60.0, 70.0, 80.0, 90.0, 100.0, 120.0, 140.0, 160.0, 180.0,
    200.0, 250.0, 300.0, 350.0, 400.0, 450.0, 500.0, 600.0, 700.0, 800.0, 900.0, 1000.0, 2000.0,
    3000.0, 4000.0, 5000.0, 7500.0, 10000.0, 20000.0, 30000.0, 40000.0, 50000.0, 75000.0, 100000.0,
];

#[derive(Debug, Clone)]
pub struct Histogram {
    divider: f64,
    count: u64,
    sum: f64,
    sum_squares: f64,
    min: f64,
    max: f64,
    /// One more than `BOUNDS`: the last counts values beyond the largest bound.
    buckets: Vec<u64>,
}

/// One non-empty bucket as fortio exports it.
struct Bucket {
    start: f64,
    end: f64,
    percent: f64,
    count: u64,
}

impl Histogram {
    /// Seconds bucketed by the millisecond (fortio's `-r 0.001`).
    pub fn durations() -> Histogram {
        Histogram::with_divider(0.001)
    }

    /// Plain counts (header and body sizes).
    pub fn sizes() -> Histogram {
        Histogram::with_divider(1.0)
    }

    fn with_divider(divider: f64) -> Histogram {
        Histogram {
            divider,
            count: 0,
            sum: 0.0,
            sum_squares: 0.0,
            min: 0.0,
            max: 0.0,
            buckets: vec![0; BOUNDS.len() + 1],
        }
    }

    pub fn record(&mut self, value: f64) {
        if self.count == 0 || value < self.min {
            self.min = value;
        }
        if self.count == 0 || value > self.max {
            self.max = value;
        }
        self.count += 1;
        self.sum += value;
        self.sum_squares += value * value;
        let scaled = value / self.divider;
        let index = BOUNDS
            .iter()
            .position(|bound| scaled <= *bound)
            .unwrap_or(BOUNDS.len());
        self.buckets[index] += 1;
    }

    pub fn merge(&mut self, other: &Histogram) {
        if other.count == 0 {
            return;
        }
        if self.count == 0 || other.min < self.min {
            self.min = other.min;
        }
        if self.count == 0 || other.max > self.max {
            self.max = other.max;
        }
        self.count += other.count;
        self.sum += other.sum;
        self.sum_squares += other.sum_squares;
        for (mine, theirs) in self.buckets.iter_mut().zip(&other.buckets) {
            *mine += theirs;
        }
    }

    pub fn count(&self) -> u64 {
        self.count
    }

    pub fn avg(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        self.sum / self.count as f64
    }

    fn stddev(&self) -> f64 {
        if self.count == 0 {
            return 0.0;
        }
        let n = self.count as f64;
        let avg = self.sum / n;
        (self.sum_squares / n - avg * avg).max(0.0).sqrt()
    }

    /// `Name : count 20 avg … +/- … min … max … sum …`.
    pub fn counters_line(&self, name: &str) -> String {
        format!(
            "{name} : count {} avg {} +/- {} min {} max {} sum {}",
            self.count,
            g(self.avg(), Some(8)),
            g(self.stddev(), Some(4)),
            g(self.min, None),
            g(self.max, None),
            g(self.sum, Some(9))
        )
    }

    fn export(&self) -> Vec<Bucket> {
        let mut out = Vec::new();
        let last = self.buckets.iter().rposition(|c| *c > 0);
        let mut cumulative = 0;
        let mut first = true;
        for (i, count) in self.buckets.iter().enumerate() {
            if *count == 0 {
                continue;
            }
            cumulative += count;
            let start = if first {
                self.min
            } else {
                BOUNDS[i - 1] * self.divider
            };
            let end = if Some(i) == last || i >= BOUNDS.len() {
                self.max
            } else {
                BOUNDS[i] * self.divider
            };
            first = false;
            out.push(Bucket {
                start,
                end,
                percent: 100.0 * cumulative as f64 / self.count as f64,
                count: *count,
            });
        }
        out
    }

    /// The value below which `percentile`% of the values fall, interpolated in its bucket.
    pub fn percentile(&self, percentile: f64) -> f64 {
        let buckets = self.export();
        let Some(first) = buckets.first() else {
            return 0.0;
        };
        if percentile >= 100.0 {
            return self.max;
        }
        if percentile <= first.percent {
            return first.start + percentile / first.percent * (first.end - first.start);
        }
        let mut previous = first;
        for bucket in &buckets[1..] {
            if percentile <= bucket.percent {
                return bucket.start
                    + (percentile - previous.percent) / (bucket.percent - previous.percent)
                        * (bucket.end - bucket.start);
            }
            previous = bucket;
        }
        self.max
    }

    /// The full block: counters, buckets, and the `# target` lines.
    pub fn print(&self, out: &mut String, name: &str, percentiles: &[f64]) {
        let _ = writeln!(out, "{}", self.counters_line(name));
        let _ = writeln!(out, "# range, mid point, percentile, count");
        for (i, b) in self.export().iter().enumerate() {
            let _ = writeln!(
                out,
                "{} {} <= {} , {} , {:.2}, {}",
                if i == 0 { ">=" } else { ">" },
                g(b.start, Some(6)),
                g(b.end, Some(6)),
                g((b.start + b.end) / 2.0, Some(6)),
                b.percent,
                b.count
            );
        }
        for p in percentiles {
            let _ = writeln!(
                out,
                "# target {}% {}",
                g(*p, None),
                g(self.percentile(*p), Some(6))
            );
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn buckets_and_percentiles_as_fortio() {
        let mut h = Histogram::durations();
        for v in [0.0005, 0.0008, 0.0015, 0.0042, 0.0043] {
            h.record(v);
        }
        let mut out = String::new();
        h.print(&mut out, "Aggregated Function Time", &[50.0, 99.9]);
        assert!(
            out.starts_with("Aggregated Function Time : count 5 avg 0.00226"),
            "{out}"
        );
        assert!(
            out.contains(">= 0.0005 <= 0.001 , 0.00075 , 40.00, 2\n"),
            "{out}"
        );
        assert!(
            out.contains("> 0.001 <= 0.002 , 0.0015 , 60.00, 1\n"),
            "{out}"
        );
        assert!(
            out.contains("> 0.004 <= 0.0043 , 0.00415 , 100.00, 2\n"),
            "{out}"
        );
        // 50% falls in the second bucket, halfway between 40% and 60%.
        assert!(out.contains("# target 50% 0.0015\n"), "{out}");
        assert!(out.contains("# target 99.9% 0.00429925\n"), "{out}");
    }
}
