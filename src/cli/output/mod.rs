//! Rendering for the terminal: istioctl's and kubectl's tables and `-o json|yaml`.
