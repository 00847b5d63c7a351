//! A DFS-style global namespace: one logical tree of folders and links over many file
//! servers, and referral resolution.
//!
//! - [`path`]: logical paths inside a namespace (`eng/docs`), compared without case.
//! - [`error`]: the typed errors, each saying what is wrong and how to fix it.
#![forbid(unsafe_code)]

pub mod error;
pub mod path;

pub use error::PathError;
pub use path::LogicalPath;
