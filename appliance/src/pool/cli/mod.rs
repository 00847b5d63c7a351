//! The pool component's CLI nouns.

pub mod image;
pub mod pool;
pub mod volume;
