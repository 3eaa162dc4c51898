//! httpbin: the classic `citizenstig/httpbin` JSON shapes.
