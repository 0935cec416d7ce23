//! The demo is `examples/demo.rs`; its test is `tests/demo.rs`.
