//! The pool component's CLI nouns.

pub mod pool;
pub mod volume;
