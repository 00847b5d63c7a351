//! The components of this build, in start order. Adding a component is a module of its
//! own and one line here.

use crate::core::Component;

/// Every component of this build, in start order (stopped in the reverse order). The
/// pool component comes first: it provides the volumes the others serve.
pub fn all() -> Vec<Box<dyn Component>> {
    vec![
        Box::new(crate::pool::PoolComponent),
        Box::new(crate::iscsi::IscsiComponent),
        Box::new(crate::vtl::VtlComponent),
        Box::new(crate::ns::NsComponent),
        Box::new(crate::vm::VmComponent),
    ]
}

#[cfg(test)]
mod tests;
