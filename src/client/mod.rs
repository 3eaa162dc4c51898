//! Talks to a running sandbox's local API (token auth). May import `api`, `xds`.
