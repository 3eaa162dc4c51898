//! A point-in-time copy of the stats a query selects, so the renderers are pure functions of
//! plain data (and hold no store lock while formatting).

use super::histogram::Summary;
use super::tags::TagExtracted;

/// One counter or gauge.
#[derive(Clone, Debug)]
pub(crate) struct NumberStat {
    pub name: String,
    pub value: u64,
    /// Filled only when the renderer needs tags (Prometheus).
    pub tagged: Option<TagExtracted>,
}

/// One text readout.
#[derive(Clone, Debug)]
pub(crate) struct TextStat {
    pub name: String,
    pub value: String,
    pub tagged: Option<TagExtracted>,
}

/// One histogram.
#[derive(Clone, Debug)]
pub(crate) struct HistogramStat {
    pub name: String,
    /// Whether anything was ever recorded (else text prints `No recorded values`).
    pub used: bool,
    pub summary: Summary,
    pub tagged: Option<TagExtracted>,
}

/// The selected stats of each kind, unsorted.
#[derive(Clone, Debug, Default)]
pub(crate) struct Snapshot {
    pub counters: Vec<NumberStat>,
    pub gauges: Vec<NumberStat>,
    pub text_readouts: Vec<TextStat>,
    pub histograms: Vec<HistogramStat>,
}
