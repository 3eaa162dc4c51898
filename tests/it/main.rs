//! One integration-test binary (ripgrep's layout): `mod` per area, shared helpers in `util`.

mod httpbin;
mod util;
