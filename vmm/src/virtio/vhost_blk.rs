//! A virtio-blk device whose queues are served by a vhost-user-blk backend (the daemon's
//! disk service, or any other, e.g. qemu-storage-daemon): this side connects, reads the
//! backend's features and configuration, and when the guest's driver starts the device,
//! hands the backend the guest memory (the memfd), the queue addresses, the kick
//! eventfds (KVM ioeventfds) and the interrupt eventfd (a KVM irqfd). Requests then flow
//! between the guest and the backend without passing through this process.

use super::{device_type, QueueConfig, VirtioDevice};
use crate::blk::{feature, CONFIG_LEN};
use std::path::{Path, PathBuf};
use vhost::vhost_user::message::{
    VhostUserConfigFlags, VhostUserProtocolFeatures, VhostUserVirtioFeatures,
};
use vhost::vhost_user::{Frontend, VhostUserFrontend};
use vhost::{VhostBackend, VhostUserMemoryRegionInfo, VringConfigData};
use vm_memory::{GuestAddress, GuestMemoryBackend, GuestMemoryMmap};
use vmm_sys_util::eventfd::EventFd;

/// The size of the one queue the guest gets.
const QUEUE_SIZE: u16 = 256;

/// The features passed through to the guest when the backend offers them: the block
/// features this VMM's guests can use and the ring features the backend implements.
/// (MQ is left out: one queue, as one vCPU.)
const PASSED: u64 = feature::VERSION_1
    | feature::RING_INDIRECT_DESC
    | feature::RING_EVENT_IDX
    | feature::SEG_MAX
    | feature::BLK_SIZE
    | feature::FLUSH
    | feature::TOPOLOGY
    | feature::RO
    | feature::DISCARD
    | feature::WRITE_ZEROES;

/// What went wrong talking to the backend.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum VhostBlkError {
    /// A vhost-user request failed.
    #[error("vhost-user-blk backend on {socket}: {what}: {source}")]
    Request {
        /// The backend's socket.
        socket: PathBuf,
        /// The request.
        what: &'static str,
        /// Why.
        source: vhost::Error,
    },
    /// The backend cannot tell the disk's configuration (its capacity).
    #[error("vhost-user-blk backend on {0}: it does not offer the CONFIG protocol feature, so the disk's size is unknown")]
    NoConfig(PathBuf),
}

/// A virtio-blk device served by a vhost-user backend.
pub struct VhostUserBlk {
    socket: PathBuf,
    frontend: Frontend,
    backend_features: u64,
    config: Vec<u8>,
    active_queues: usize,
}

impl std::fmt::Debug for VhostUserBlk {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VhostUserBlk")
            .field("socket", &self.socket)
            .field("backend_features", &self.backend_features)
            .finish_non_exhaustive()
    }
}

impl VhostUserBlk {
    /// Connects to the backend listening on `socket`, takes ownership of the session and
    /// reads what the disk offers.
    pub fn connect(socket: &Path) -> Result<VhostUserBlk, VhostBlkError> {
        let fail = |what: &'static str| {
            let socket = socket.to_owned();
            move |source| VhostBlkError::Request {
                socket,
                what,
                source,
            }
        };
        let mut frontend = Frontend::connect(socket, 1).map_err(fail("connect"))?;
        frontend.set_owner().map_err(fail("SET_OWNER"))?;
        let backend_features = frontend.get_features().map_err(fail("GET_FEATURES"))?;
        let protocol = VhostUserProtocolFeatures::from_bits_truncate(0);
        let mut wanted = protocol;
        if backend_features & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits() != 0 {
            let offered = frontend
                .get_protocol_features()
                .map_err(fail("GET_PROTOCOL_FEATURES"))?;
            wanted = offered
                & (VhostUserProtocolFeatures::CONFIG | VhostUserProtocolFeatures::REPLY_ACK);
            frontend
                .set_protocol_features(wanted)
                .map_err(fail("SET_PROTOCOL_FEATURES"))?;
        }
        let config = if wanted.contains(VhostUserProtocolFeatures::CONFIG) {
            let len = CONFIG_LEN as u32;
            let (_, space) = frontend
                .get_config(0, len, VhostUserConfigFlags::empty(), &[0; CONFIG_LEN])
                .map_err(fail("GET_CONFIG"))?;
            space
        } else {
            return Err(VhostBlkError::NoConfig(socket.to_owned()));
        };
        Ok(VhostUserBlk {
            socket: socket.to_owned(),
            frontend,
            backend_features,
            config,
            active_queues: 0,
        })
    }

    /// The disk's capacity in 512-byte sectors, from the backend's configuration.
    pub fn capacity(&self) -> u64 {
        let mut b = [0u8; 8];
        if let Some(s) = self.config.get(..8) {
            b.copy_from_slice(s);
        }
        u64::from_le_bytes(b)
    }

    fn setup(
        &mut self,
        mem: &GuestMemoryMmap,
        features: u64,
        queues: &[QueueConfig],
        kicks: &[EventFd],
        call: &EventFd,
    ) -> Result<(), String> {
        let e = |what: &'static str| move |err: vhost::Error| format!("{what}: {err}");
        let protocol = self.backend_features & VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits();
        self.frontend
            .set_features(features | protocol)
            .map_err(e("SET_FEATURES"))?;
        let regions = mem
            .iter()
            .map(VhostUserMemoryRegionInfo::from_guest_region)
            .collect::<Result<Vec<_>, _>>()
            .map_err(e("guest memory is not shareable"))?;
        self.frontend
            .set_mem_table(&regions)
            .map_err(e("SET_MEM_TABLE"))?;
        let host = |gpa: u64, what: &str| {
            mem.get_host_address(GuestAddress(gpa))
                .map(|p| p as u64)
                .map_err(|err| format!("the {what} at {gpa:#x} is not in guest memory: {err}"))
        };
        for (i, (q, kick)) in queues.iter().zip(kicks).enumerate() {
            let ring = VringConfigData {
                queue_max_size: QUEUE_SIZE,
                queue_size: q.size,
                flags: 0,
                desc_table_addr: host(q.desc, "descriptor table")?,
                used_ring_addr: host(q.used, "used ring")?,
                avail_ring_addr: host(q.avail, "available ring")?,
                log_addr: None,
            };
            let f = &self.frontend;
            f.set_vring_num(i, q.size).map_err(e("SET_VRING_NUM"))?;
            f.set_vring_addr(i, &ring).map_err(e("SET_VRING_ADDR"))?;
            f.set_vring_base(i, 0).map_err(e("SET_VRING_BASE"))?;
            f.set_vring_call(i, call).map_err(e("SET_VRING_CALL"))?;
            f.set_vring_kick(i, kick).map_err(e("SET_VRING_KICK"))?;
            if protocol != 0 {
                self.frontend
                    .set_vring_enable(i, true)
                    .map_err(e("SET_VRING_ENABLE"))?;
            }
            self.active_queues = i + 1;
        }
        Ok(())
    }
}

impl VirtioDevice for VhostUserBlk {
    fn device_type(&self) -> u32 {
        device_type::BLOCK
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        self.backend_features & PASSED
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let Ok(start) = usize::try_from(offset) else {
            return;
        };
        let Some(src) = self.config.get(start..) else {
            return;
        };
        let n = src.len().min(data.len());
        data[..n].copy_from_slice(&src[..n]);
    }

    fn activate(
        &mut self,
        mem: &GuestMemoryMmap,
        features: u64,
        queues: &[QueueConfig],
        kicks: &[EventFd],
        call: &EventFd,
    ) -> Result<(), String> {
        self.setup(mem, features, queues, kicks, call)
            .map_err(|why| format!("{}: {why}", self.socket.display()))
    }

    fn reset(&mut self) {
        // GET_VRING_BASE stops a ring in the backend.
        for i in 0..self.active_queues {
            if let Err(e) = self.frontend.get_vring_base(i) {
                tracing::warn!(
                    "vhost-user-blk {}: GET_VRING_BASE: {e}",
                    self.socket.display()
                );
            }
        }
        self.active_queues = 0;
    }
}
