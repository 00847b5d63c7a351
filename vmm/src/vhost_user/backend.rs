//! The vhost-user-blk backend: what `vhost-user-backend`'s request handler asks of a
//! device (features, configuration, memory) and the processing of a kicked queue.

use crate::blk::{self, Disk};
use parking_lot::RwLock;
use std::io;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use vhost::vhost_user::message::{VhostUserProtocolFeatures, VhostUserVirtioFeatures};
use vhost_user_backend::{VhostUserBackend, VringRwLock, VringT};
use virtio_queue::QueueT;
use vm_memory::{GuestAddressSpace, GuestMemoryAtomic, GuestMemoryMmap};
use vmm_sys_util::epoll::EventSet;
use vmm_sys_util::event::{
    new_event_consumer_and_notifier, EventConsumer, EventFlag, EventNotifier,
};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// The guest memory as the VMM shared it.
pub(crate) type Memory = GuestMemoryAtomic<GuestMemoryMmap<()>>;

/// The largest queue a VMM may set up.
const MAX_QUEUE_SIZE: usize = 1024;

/// One disk served to one VMM connection.
#[derive(Debug)]
pub(crate) struct BlkBackend {
    disk: Disk,
    num_queues: u16,
    mem: RwLock<Memory>,
    event_idx: AtomicBool,
    /// Per queue thread: signalled to sweep its queues (see [`BlkBackend::sweep`]).
    pub(crate) sweeps: Vec<EventFd>,
    /// Queue errors so far (logged now and then, never fatal).
    errors: AtomicU64,
}

impl BlkBackend {
    pub(crate) fn new(disk: Disk, num_queues: u16, mem: Memory) -> io::Result<BlkBackend> {
        let num_queues = num_queues.max(1);
        let sweeps = (0..num_queues)
            .map(|_| EventFd::new(EFD_NONBLOCK))
            .collect::<io::Result<Vec<_>>>()?;
        Ok(BlkBackend {
            disk,
            num_queues,
            mem: RwLock::new(mem),
            event_idx: AtomicBool::new(false),
            sweeps,
            errors: AtomicU64::new(0),
        })
    }

    /// Executes every request waiting in `vring`, then tells the guest once.
    fn drain(&self, vring: &VringRwLock<Memory>) -> io::Result<()> {
        let mem = self.mem.read().memory();
        let mut done = 0usize;
        loop {
            let chain = vring
                .get_mut()
                .get_queue_mut()
                .pop_descriptor_chain(mem.clone());
            let Some(chain) = chain else { break };
            let head = chain.head_index();
            let outcome = blk::execute(&self.disk, &*mem, chain);
            vring.add_used(head, outcome.used).map_err(queue_error)?;
            done += 1;
        }
        if done > 0 && vring.needs_notification().map_err(queue_error)? {
            vring.signal_used_queue()?;
        }
        Ok(())
    }
}

fn queue_error(e: virtio_queue::Error) -> io::Error {
    io::Error::other(format!("virtqueue: {e}"))
}

impl VhostUserBackend for BlkBackend {
    type Bitmap = ();
    type Vring = VringRwLock<Memory>;

    fn num_queues(&self) -> usize {
        usize::from(self.num_queues)
    }

    fn max_queue_size(&self) -> usize {
        MAX_QUEUE_SIZE
    }

    fn features(&self) -> u64 {
        self.disk.features() | VhostUserVirtioFeatures::PROTOCOL_FEATURES.bits()
    }

    fn protocol_features(&self) -> VhostUserProtocolFeatures {
        VhostUserProtocolFeatures::CONFIG
            | VhostUserProtocolFeatures::MQ
            | VhostUserProtocolFeatures::REPLY_ACK
    }

    fn set_event_idx(&self, enabled: bool) {
        self.event_idx.store(enabled, Ordering::Relaxed);
    }

    fn get_config(&self, offset: u32, size: u32) -> Vec<u8> {
        let space = blk::config_space(&self.disk, self.num_queues);
        // A newer VMM may ask for fields past ours (secure erase, zoned): they read zero.
        // The protocol caps the configuration space at 256 bytes; never allocate what a
        // VMM asks beyond that.
        let start = offset as usize;
        let mut out = vec![0u8; (size as usize).min(256)];
        if let Some(ours) = space.get(start..) {
            let n = ours.len().min(out.len());
            out[..n].copy_from_slice(&ours[..n]);
        }
        out
    }

    fn set_config(&self, _offset: u32, _buf: &[u8]) -> io::Result<()> {
        // Only `writeback` is writable, and only with CONFIG_WCE, which is not offered.
        Ok(())
    }

    fn update_memory(&self, mem: Memory) -> io::Result<()> {
        *self.mem.write() = mem;
        Ok(())
    }

    fn queues_per_thread(&self) -> Vec<u64> {
        // A thread per queue, so queues of different vCPUs run in parallel.
        (0..self.num_queues).map(|q| 1u64 << q).collect()
    }

    fn exit_event(&self, _thread_index: usize) -> Option<(EventConsumer, EventNotifier)> {
        match new_event_consumer_and_notifier(EventFlag::NONBLOCK) {
            Ok(pair) => Some(pair),
            Err(e) => {
                tracing::warn!("vhost-user-blk: no exit event for a queue thread: {e}");
                None
            }
        }
    }

    /// Never fails: an error returned here would end the queue's thread for good (and
    /// the guest's disk with it), so a queue a guest's driver broke is logged and tried
    /// again at its next kick or sweep.
    fn handle_event(
        &self,
        device_event: u16,
        evset: EventSet,
        vrings: &[Self::Vring],
        thread_id: usize,
    ) -> io::Result<()> {
        let outcome = if u64::from(device_event) == SWEEP_EVENT {
            if let Some(fd) = self.sweeps.get(thread_id) {
                let _ = fd.read();
            }
            // A thread serves the queue of its own index (see `queues_per_thread`).
            vrings.get(thread_id).map_or(Ok(()), |v| self.sweep(v))
        } else if evset != EventSet::IN {
            Err(io::Error::other(format!("unexpected event set {evset:?}")))
        } else {
            match vrings.get(usize::from(device_event)) {
                Some(vring) => self.serve_queue(vring),
                None => Err(io::Error::other(format!("no queue {device_event}"))),
            }
        };
        if let Err(e) = outcome {
            let n = self.errors.fetch_add(1, Ordering::Relaxed);
            if n % 1000 == 0 {
                tracing::warn!(
                    "vhost-user-blk {}: queue error ({} so far): {e}",
                    self.disk.id,
                    n + 1
                );
            }
        }
        Ok(())
    }
}

/// The event id of the periodic sweep (above every queue's and the exit event's).
pub(crate) const SWEEP_EVENT: u64 = 64;

impl BlkBackend {
    /// Executes what waits in the thread's queue if it is started, kicked or not: after
    /// a reconnection the VMM restarts a queue where the guest's last completed request
    /// was, and requests it had passed before the daemon went away wait there with no
    /// kick to come. And tells the guest again about completions it has not taken (with
    /// EVENT_IDX its `used_event` shows what it has seen), in case an interrupt went to
    /// a VMM that was not listening yet.
    fn sweep(&self, vring: &VringRwLock<Memory>) -> io::Result<()> {
        let started = {
            let state = vring.get_ref();
            state.get_queue().ready() && state.is_enabled()
        };
        if !started {
            return Ok(());
        }
        self.serve_queue(vring)?;
        if self.event_idx.load(Ordering::Relaxed) && self.guest_behind(vring) {
            vring.signal_used_queue()?;
        }
        Ok(())
    }

    /// Whether the guest, with EVENT_IDX, has not seen every completion: its
    /// `used_event` (where it re-armed its interrupt) is behind the device's used index.
    fn guest_behind(&self, vring: &VringRwLock<Memory>) -> bool {
        use vm_memory::{Bytes, GuestAddress};
        let mem = self.mem.read().memory();
        let state = vring.get_ref();
        let q = state.get_queue();
        // The avail ring: flags, idx, ring[size], then used_event.
        let at = q.avail_ring() + 4 + 2 * u64::from(q.size());
        match mem.read_obj::<u16>(GuestAddress(at)) {
            Ok(used_event) => u16::from_le(used_event) != q.next_used(),
            Err(_) => false,
        }
    }

    fn serve_queue(&self, vring: &VringRwLock<Memory>) -> io::Result<()> {
        if !self.event_idx.load(Ordering::Relaxed) {
            return self.drain(vring);
        }
        // With EVENT_IDX: suppress kicks while draining, and drain again if the guest
        // added requests between the last pop and re-enabling them.
        loop {
            vring.disable_notification().map_err(queue_error)?;
            self.drain(vring)?;
            if !vring.enable_notification().map_err(queue_error)? {
                return Ok(());
            }
        }
    }
}
