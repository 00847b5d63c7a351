//! Virtual machines on pool volumes.
//!
//! The KVM side ([`kvm`], [`boot`], [`devices`], [`virtio`], [`net`]) boots a Linux
//! bzImage or a 64-bit ELF on one vCPU with a serial console, i8042 reset, virtio-mmio
//! disks whose queues the daemon serves over vhost-user (the guest memory is a shared
//! memfd) and virtio-mmio network cards on TAP devices served by a thread of the runner;
//! `unsafe` is confined to registering guest memory with KVM (kvm/memory.rs) and
//! attaching a TAP device (net/tap.rs). The disk side: [`blk`], the virtio-blk device model (a guest's
//! requests executed on any [`vsa_blockdev::BlockDevice`]), and [`vhost_user`], which
//! serves it over a vhost-user socket so that a VMM in another process (qemu, Cloud
//! Hypervisor, and later our own) shares its guest memory with the daemon and the daemon
//! reads and writes the pool straight into it:
//!
//! ```text
//!   VMM process (qemu -device vhost-user-blk-pci)          vsa daemon
//!   guest virtio-blk driver ── virtqueue in shared memory ──▶ vhost_user::Export
//!                 kick eventfd ─────────────────────────────▶   (a thread per queue)
//!                 call eventfd ◀─────────────────────────────   blk::execute
//!                                                                  │
//!                                                           dyn BlockDevice (pool volume)
//! ```
//!
//! The guest's memory is mapped by `vhost-user-backend` when the VMM sends its memory
//! table; everything here reaches it through `vm-memory`'s bounds-checked accessors, so a
//! guest that hands out bad addresses gets an error status, never the daemon's memory.
#![deny(unsafe_code)]

pub mod blk;
pub mod boot;
pub mod devices;
pub mod kvm;
pub mod net;
pub mod seccomp;
pub mod vhost_user;
pub mod virtio;
