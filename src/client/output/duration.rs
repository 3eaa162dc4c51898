//! Kubernetes' `apimachinery/pkg/util/duration.HumanDuration` (kubectl's AGE column,
//! istioctl 1.23+'s `SYNCED (5m1s)`): at most two units, coarser as durations grow.

use std::time::Duration;

/// `47s`, `2m35s`, `5m1s`, `12m`, `3h`, `5h4m`, `2d3h`, `100d`, `3y12d`, `9y`.
pub fn human_duration(d: Duration) -> String {
    let seconds = d.as_secs();
    if seconds < 60 * 2 {
        return format!("{seconds}s");
    }
    let minutes = seconds / 60;
    if minutes < 10 {
        let s = seconds % 60;
        return if s == 0 {
            format!("{minutes}m")
        } else {
            format!("{minutes}m{s}s")
        };
    }
    if minutes < 60 * 3 {
        return format!("{minutes}m");
    }
    let hours = seconds / 3600;
    if hours < 8 {
        let m = minutes % 60;
        return if m == 0 {
            format!("{hours}h")
        } else {
            format!("{hours}h{m}m")
        };
    }
    if hours < 48 {
        return format!("{hours}h");
    }
    if hours < 24 * 8 {
        let h = hours % 24;
        return if h == 0 {
            format!("{}d", hours / 24)
        } else {
            format!("{}d{h}h", hours / 24)
        };
    }
    if hours < 24 * 365 * 2 {
        return format!("{}d", hours / 24);
    }
    if hours < 24 * 365 * 8 {
        let dy = (hours / 24) % 365;
        return if dy == 0 {
            format!("{}y", hours / 24 / 365)
        } else {
            format!("{}y{dy}d", hours / 24 / 365)
        };
    }
    format!("{}y", hours / 24 / 365)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn matches_kubernetes_table() {
        let cases: &[(u64, &str)] = &[
            (0, "0s"),
            (47, "47s"),
            (119, "119s"),
            (120, "2m"),
            (155, "2m35s"),
            (301, "5m1s"),
            (599, "9m59s"),
            (600, "10m"),
            (3 * 3600 - 1, "179m"),
            (3 * 3600, "3h"),
            (5 * 3600 + 4 * 60 + 59, "5h4m"),
            (8 * 3600, "8h"),
            (47 * 3600 + 3599, "47h"),
            (48 * 3600, "2d"),
            (51 * 3600, "2d3h"),
            (8 * 24 * 3600, "8d"),
            (100 * 24 * 3600 + 5, "100d"),
            (730 * 24 * 3600, "2y"),
            (742 * 24 * 3600, "2y12d"),
            (8 * 365 * 24 * 3600, "8y"),
            (9 * 365 * 24 * 3600 + 86400 * 100, "9y"),
        ];
        for (secs, want) in cases {
            assert_eq!(human_duration(Duration::from_secs(*secs)), *want, "{secs}s");
        }
        assert_eq!(human_duration(Duration::from_millis(47_900)), "47s");
    }
}
