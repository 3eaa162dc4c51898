//! Envoy's response flags (`%RESPONSE_FLAGS%`): why a request ended the way it did. Rendered in
//! Envoy's enum order, joined by `,`, or `-` when none is set.

/// Short name, long name, in Envoy's enum order.
const FLAGS: &[(&str, &str)] = &[
    ("LH", "FailedLocalHealthCheck"),
    ("UH", "NoHealthyUpstream"),
    ("UT", "UpstreamRequestTimeout"),
    ("LR", "LocalReset"),
    ("UR", "UpstreamRemoteReset"),
    ("UF", "UpstreamConnectionFailure"),
    ("UC", "UpstreamConnectionTermination"),
    ("UO", "UpstreamOverflow"),
    ("NR", "NoRouteFound"),
    ("DI", "DelayInjected"),
    ("FI", "FaultInjected"),
    ("RL", "RateLimited"),
    ("UAEX", "UnauthorizedExternalService"),
    ("RLSE", "RateLimitServiceError"),
    ("DC", "DownstreamConnectionTermination"),
    ("URX", "UpstreamRetryLimitExceeded"),
    ("SI", "StreamIdleTimeout"),
    ("IH", "InvalidEnvoyRequestHeaders"),
    ("DPE", "DownstreamProtocolError"),
    ("UMSDR", "UpstreamMaxStreamDurationReached"),
    ("RFCF", "ResponseFromCacheFilter"),
    ("NFCF", "NoFilterConfigFound"),
    ("DT", "DurationTimeout"),
    ("UPE", "UpstreamProtocolError"),
    ("NC", "NoClusterFound"),
    ("OM", "OverloadManagerTerminated"),
    ("DF", "DnsResolutionFailed"),
    ("DO", "DropOverload"),
    ("DR", "DownstreamRemoteReset"),
    ("UDO", "UnconditionalDropOverload"),
];

/// One flag; the discriminant is its bit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[repr(u8)]
pub enum Flag {
    FailedLocalHealthCheck = 0,
    NoHealthyUpstream = 1,
    UpstreamRequestTimeout = 2,
    LocalReset = 3,
    UpstreamRemoteReset = 4,
    UpstreamConnectionFailure = 5,
    UpstreamConnectionTermination = 6,
    UpstreamOverflow = 7,
    NoRouteFound = 8,
    DelayInjected = 9,
    FaultInjected = 10,
    RateLimited = 11,
    DownstreamConnectionTermination = 14,
    UpstreamRetryLimitExceeded = 15,
    StreamIdleTimeout = 16,
    InvalidEnvoyRequestHeaders = 17,
    DownstreamProtocolError = 18,
    UpstreamProtocolError = 23,
    NoClusterFound = 24,
    DownstreamRemoteReset = 28,
}

/// A set of flags.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct Flags(u32);

impl Flags {
    pub const NONE: Flags = Flags(0);

    pub fn of(flag: Flag) -> Flags {
        Flags(1 << flag as u8)
    }
    pub fn set(&mut self, flag: Flag) {
        self.0 |= 1 << flag as u8;
    }
    pub fn has(self, flag: Flag) -> bool {
        self.0 & (1 << flag as u8) != 0
    }
    pub fn is_empty(self) -> bool {
        self.0 == 0
    }
    pub fn union(self, other: Flags) -> Flags {
        Flags(self.0 | other.0)
    }

    /// `UF,URX`, or `-`.
    pub fn short(self) -> String {
        self.render(|(short, _)| short)
    }

    /// `UpstreamConnectionFailure,UpstreamRetryLimitExceeded`, or `-`.
    pub fn long(self) -> String {
        self.render(|(_, long)| long)
    }

    fn render(self, pick: impl Fn(&(&'static str, &'static str)) -> &'static str) -> String {
        if self.0 == 0 {
            return "-".to_owned();
        }
        let names: Vec<&str> = FLAGS
            .iter()
            .enumerate()
            .filter(|(bit, _)| self.0 & (1 << bit) != 0)
            .map(|(_, f)| pick(f))
            .collect();
        names.join(",")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_in_envoy_order() {
        assert_eq!(Flags::NONE.short(), "-");
        let mut f = Flags::of(Flag::UpstreamRetryLimitExceeded);
        f.set(Flag::UpstreamConnectionFailure);
        assert_eq!(f.short(), "UF,URX");
        assert_eq!(
            f.long(),
            "UpstreamConnectionFailure,UpstreamRetryLimitExceeded"
        );
        assert_eq!(Flags::of(Flag::NoRouteFound).short(), "NR");
        assert_eq!(Flags::of(Flag::NoClusterFound).short(), "NC");
        assert_eq!(Flags::of(Flag::DownstreamRemoteReset).short(), "DR");
    }
}
