//! The fuzz corpus replay lives in `tests/fuzz_corpus.rs`.
