//! Disk images in and out of the pool: `vsa volume import FILE NAME` and `vsa volume
//! export NAME FILE --format F`. qemu knows the formats (raw, qcow2, vmdk, vhd, vhdx):
//! `qemu-img info` sizes the image, `qemu-img create` makes an empty one, and a
//! `qemu-nbd` serves the file on a private socket while a transfer thread moves the
//! bytes between it and the volume (nbd.rs). A transfer runs in the background; its
//! progress is in `GET /transfers/{volume}`, which the CLI polls.
//!
//! Nothing half-done is left: a failed import deletes the volume it created, a failed
//! export removes the file it created. The volume is claimed while the transfer runs, so
//! it cannot be served or deleted meanwhile. Zero blocks are not written (an imported
//! volume stays thin; an exported image stays sparse).

pub mod nbd;
pub mod qemu;
mod transfer;

pub use transfer::{ImageError, Transfers};
