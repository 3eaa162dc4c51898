//! istioctl's `proxy-config …` and `proxy-status` output, as pure functions of the proxy's
//! admin data.
