//! Serving a [`Disk`](crate::blk::Disk) over a vhost-user socket (the vhost-user
//! protocol, as in qemu's `docs/interop/vhost-user.rst`, through rust-vmm's
//! `vhost-user-backend`).
//!
//! An [`Export`] owns a listening socket and a thread that serves one VMM connection at a
//! time. When the VMM disconnects (it stopped, crashed, or is reconnecting) the export
//! goes back to listening with a fresh device state, so a VMM that reconnects (qemu's
//! `-chardev socket,reconnect-ms=...`) sets its queues up again and goes on; requests it
//! had not seen completed are sent again from the used index it last saw.

mod backend;
mod server;

pub use server::{Export, ExportError, ExportStatus};
