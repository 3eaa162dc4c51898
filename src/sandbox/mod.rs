//! The sandbox runtime: store, pods and addresses, node ports, the local API, state on disk.
//! May import `pilot`, `proxy`, `apps`, `ca`, `api`, `xds`, `net`.
