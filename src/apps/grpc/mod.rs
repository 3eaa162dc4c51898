//! gRPC on the wire for the sample apps and their clients: the protobuf encoding of the few
//! small messages they exchange ([`proto`]) and gRPC's length-prefixed message framing
//! ([`frame`]). Written by hand rather than with prost and a build script: the messages are
//! a handful of strings and integers, and this keeps the build free of protoc.

pub mod frame;
pub mod proto;

/// gRPC status codes by name (as `grpc-status` carries them).
pub const STATUS_NAMES: [&str; 17] = [
    "OK",
    "CANCELLED",
    "UNKNOWN",
    "INVALID_ARGUMENT",
    "DEADLINE_EXCEEDED",
    "NOT_FOUND",
    "ALREADY_EXISTS",
    "PERMISSION_DENIED",
    "RESOURCE_EXHAUSTED",
    "FAILED_PRECONDITION",
    "ABORTED",
    "OUT_OF_RANGE",
    "UNIMPLEMENTED",
    "INTERNAL",
    "UNAVAILABLE",
    "DATA_LOSS",
    "UNAUTHENTICATED",
];
