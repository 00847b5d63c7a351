//! The virtio-net device: two queues (receive 0, transmit 1), a MAC address in its
//! configuration space, and a thread that moves frames between the queues and the host
//! link (a TAP device; any datagram socket in tests). The thread is started when the VM
//! is set up, before the runner is confined (no thread may be started after), and waits
//! on one epoll set: the link, both queues' kick eventfds and its own control eventfd.
//!
//! A frame the host sends while the guest has no receive buffer waits in the thread
//! (one frame) and the link is not polled until the driver adds buffers: the TAP device's
//! own queue holds the rest, and drops frames when it is full, as a cable would.

use super::frames::{self, FrameError, HDR_LEN, MAX_FRAME};
use super::tap::Tap;
use super::Mac;
use crate::virtio::{device_type, QueueConfig, VirtioDevice};
use std::io;
use std::os::fd::{AsFd, AsRawFd};
use std::os::unix::net::UnixDatagram;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{self, Receiver, Sender, TryRecvError};
use std::sync::Arc;
use std::thread::JoinHandle;
use virtio_queue::{Queue, QueueOwnedT, QueueT};
use vm_memory::GuestMemoryMmap;
use vmm_sys_util::epoll::{ControlOperation, Epoll, EpollEvent, EventSet};
use vmm_sys_util::eventfd::{EventFd, EFD_NONBLOCK};

/// Each queue's largest size.
const QUEUE_SIZE: u16 = 256;
/// VIRTIO_NET_F_MAC: the device has a MAC address in its configuration.
const F_MAC: u64 = 1 << 5;
/// VIRTIO_F_VERSION_1.
const F_VERSION_1: u64 = 1 << 32;

const WAKE: u64 = 0;
const LINK: u64 = 1;
const RX_KICK: u64 = 2;
const TX_KICK: u64 = 3;

/// Where a device's frames go: one datagram per frame, non-blocking.
pub trait FrameLink: AsFd + Send {
    /// Reads one frame; `WouldBlock` when none waits.
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize>;
    /// Sends one frame.
    fn send(&self, frame: &[u8]) -> io::Result<usize>;
}

impl FrameLink for Tap {
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        self.read(buf)
    }
    fn send(&self, frame: &[u8]) -> io::Result<usize> {
        self.write(frame)
    }
}

/// A datagram socket as a link (one end of a socket pair stands in for a TAP device).
impl FrameLink for UnixDatagram {
    fn recv(&self, buf: &mut [u8]) -> io::Result<usize> {
        UnixDatagram::recv(self, buf)
    }
    fn send(&self, frame: &[u8]) -> io::Result<usize> {
        UnixDatagram::send(self, frame)
    }
}

/// What a device has moved, for metrics.
#[derive(Debug, Default)]
pub struct NetCounters {
    /// Frames delivered to the guest.
    pub rx_frames: AtomicU64,
    /// Their bytes (without headers).
    pub rx_bytes: AtomicU64,
    /// Frames from the host the guest had no room for.
    pub rx_dropped: AtomicU64,
    /// Frames the guest sent that reached the host.
    pub tx_frames: AtomicU64,
    /// Their bytes.
    pub tx_bytes: AtomicU64,
    /// Frames the guest sent that the host refused (the link down, say).
    pub tx_dropped: AtomicU64,
    /// Malformed descriptor chains from the guest's driver.
    pub bad_chains: AtomicU64,
}

fn add(counter: &AtomicU64, n: usize) {
    counter.fetch_add(n as u64, Ordering::Relaxed);
}

struct Active {
    mem: GuestMemoryMmap,
    rx: Queue,
    tx: Queue,
}

enum Control {
    Activate(Box<Active>),
    Reset,
    Stop,
}

struct IoThread {
    control: Sender<Control>,
    wake: EventFd,
    thread: Option<JoinHandle<()>>,
}

/// A virtio-net device on a host link.
pub struct VirtioNet {
    mac: Mac,
    link: Option<Box<dyn FrameLink>>,
    io: Option<IoThread>,
    counters: Arc<NetCounters>,
}

impl std::fmt::Debug for VirtioNet {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("VirtioNet")
            .field("mac", &self.mac)
            .finish_non_exhaustive()
    }
}

impl VirtioNet {
    /// A device with address `mac` whose frames go to and from `link`.
    pub fn new(mac: Mac, link: Box<dyn FrameLink>) -> VirtioNet {
        VirtioNet {
            mac,
            link: Some(link),
            io: None,
            counters: Arc::default(),
        }
    }

    /// The device's counters.
    pub fn counters(&self) -> Arc<NetCounters> {
        self.counters.clone()
    }

    fn send(&self, control: Control) {
        if let Some(io) = &self.io {
            if io.control.send(control).is_ok() {
                let _ = io.wake.write(1);
            }
        }
    }
}

fn queue(mem: &GuestMemoryMmap, i: usize, c: &QueueConfig) -> Result<Queue, String> {
    let mut q = Queue::new(QUEUE_SIZE).map_err(|e| format!("queue {i}: {e}"))?;
    let half = |a: u64| (Some(a as u32), Some((a >> 32) as u32));
    q.set_size(c.size);
    let (lo, hi) = half(c.desc);
    q.set_desc_table_address(lo, hi);
    let (lo, hi) = half(c.avail);
    q.set_avail_ring_address(lo, hi);
    let (lo, hi) = half(c.used);
    q.set_used_ring_address(lo, hi);
    q.set_ready(true);
    if !q.is_valid(mem) {
        return Err(format!(
            "queue {i}: its rings (descriptors {:#x}, driver {:#x}, device {:#x}, size {}) are not in guest memory or misaligned",
            c.desc, c.avail, c.used, c.size
        ));
    }
    Ok(q)
}

impl VirtioDevice for VirtioNet {
    fn device_type(&self) -> u32 {
        device_type::NET
    }

    fn queue_max_sizes(&self) -> Vec<u16> {
        vec![QUEUE_SIZE, QUEUE_SIZE]
    }

    fn features(&self) -> u64 {
        F_VERSION_1 | F_MAC
    }

    fn read_config(&self, offset: u64, data: &mut [u8]) {
        let config = self.mac.0;
        let Some(src) = usize::try_from(offset).ok().and_then(|o| config.get(o..)) else {
            return;
        };
        let n = src.len().min(data.len());
        data[..n].copy_from_slice(&src[..n]);
    }

    fn attach(&mut self, kicks: &[EventFd], call: &EventFd) -> io::Result<()> {
        let link = self
            .link
            .take()
            .ok_or_else(|| io::Error::other("the virtio-net device is attached already"))?;
        let [rx_kick, tx_kick] = kicks else {
            return Err(io::Error::other("virtio-net has two queues"));
        };
        let wake = EventFd::new(EFD_NONBLOCK)?;
        let epoll = Epoll::new()?;
        let watch = |fd: i32, token: u64, events: EventSet| {
            epoll.ctl(ControlOperation::Add, fd, EpollEvent::new(events, token))
        };
        watch(wake.as_raw_fd(), WAKE, EventSet::IN)?;
        watch(link.as_fd().as_raw_fd(), LINK, EventSet::empty())?;
        watch(rx_kick.as_raw_fd(), RX_KICK, EventSet::IN)?;
        watch(tx_kick.as_raw_fd(), TX_KICK, EventSet::IN)?;
        let (control, receiver) = mpsc::channel();
        let mut packet = vec![0u8; HDR_LEN + MAX_FRAME];
        packet[..HDR_LEN].copy_from_slice(&frames::rx_header());
        let io = Io {
            link,
            epoll,
            control: receiver,
            wake: wake.try_clone()?,
            rx_kick: rx_kick.try_clone()?,
            tx_kick: tx_kick.try_clone()?,
            call: call.try_clone()?,
            active: None,
            packet,
            pending: 0,
            link_armed: false,
            counters: self.counters.clone(),
        };
        let thread = crate::seccomp::spawn(format!("net-{}", self.mac), move || io.run())?;
        self.io = Some(IoThread {
            control,
            wake,
            thread: Some(thread),
        });
        Ok(())
    }

    fn activate(
        &mut self,
        mem: &GuestMemoryMmap,
        _features: u64,
        queues: &[QueueConfig],
        _kicks: &[EventFd],
        _call: &EventFd,
    ) -> Result<(), String> {
        let [rx, tx] = queues else {
            return Err(format!(
                "virtio-net: the driver made {} queue(s) ready; the receive and transmit queues are needed",
                queues.len()
            ));
        };
        if self.io.is_none() {
            return Err("virtio-net: the device was never attached".into());
        }
        let active = Active {
            mem: mem.clone(),
            rx: queue(mem, 0, rx)?,
            tx: queue(mem, 1, tx)?,
        };
        self.send(Control::Activate(Box::new(active)));
        Ok(())
    }

    fn reset(&mut self) {
        self.send(Control::Reset);
    }
}

impl Drop for VirtioNet {
    fn drop(&mut self) {
        self.send(Control::Stop);
        if let Some(thread) = self.io.as_mut().and_then(|io| io.thread.take()) {
            let _ = thread.join();
        }
    }
}

/// The device's thread.
struct Io {
    link: Box<dyn FrameLink>,
    epoll: Epoll,
    control: Receiver<Control>,
    wake: EventFd,
    rx_kick: EventFd,
    tx_kick: EventFd,
    call: EventFd,
    active: Option<Box<Active>>,
    /// The virtio-net header, then room for the largest frame.
    packet: Vec<u8>,
    /// The length (header included) of a frame read from the link and not yet delivered.
    pending: usize,
    link_armed: bool,
    counters: Arc<NetCounters>,
}

impl Io {
    fn run(mut self) {
        let mut events = vec![EpollEvent::default(); 8];
        loop {
            let n = match self.epoll.wait(-1, &mut events) {
                Ok(n) => n,
                Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
                Err(e) => {
                    tracing::error!("virtio-net: epoll: {e}; the device stops");
                    return;
                }
            };
            for event in &events[..n] {
                match event.data() {
                    WAKE => {
                        let _ = self.wake.read();
                        if !self.control_messages() {
                            return;
                        }
                    }
                    LINK => self.receive(),
                    RX_KICK => {
                        let _ = self.rx_kick.read();
                        self.receive();
                    }
                    TX_KICK => {
                        let _ = self.tx_kick.read();
                        self.transmit();
                    }
                    _ => {}
                }
            }
        }
    }

    /// Handles what the device sent; false when the thread should end.
    fn control_messages(&mut self) -> bool {
        loop {
            match self.control.try_recv() {
                Ok(Control::Activate(active)) => {
                    self.active = Some(active);
                    self.pending = 0;
                    self.receive();
                }
                Ok(Control::Reset) => {
                    self.active = None;
                    self.pending = 0;
                    self.arm_link(false);
                }
                Ok(Control::Stop) | Err(TryRecvError::Disconnected) => return false,
                Err(TryRecvError::Empty) => return true,
            }
        }
    }

    /// Polls the link for frames, or stops polling it.
    fn arm_link(&mut self, on: bool) {
        if self.link_armed == on {
            return;
        }
        let events = if on { EventSet::IN } else { EventSet::empty() };
        let fd = self.link.as_fd().as_raw_fd();
        match self
            .epoll
            .ctl(ControlOperation::Modify, fd, EpollEvent::new(events, LINK))
        {
            Ok(()) => self.link_armed = on,
            Err(e) => tracing::error!("virtio-net: epoll: {e}"),
        }
    }

    /// Moves frames from the link into the guest's receive buffers while both last.
    fn receive(&mut self) {
        let Some(active) = self.active.as_deref_mut() else {
            self.arm_link(false);
            return;
        };
        let Active { mem, rx, .. } = active;
        let mut delivered = false;
        let mut armed = true;
        loop {
            if self.pending == 0 {
                match self.link.recv(&mut self.packet[HDR_LEN..]) {
                    Ok(n) => self.pending = HDR_LEN + n,
                    Err(e) if e.kind() == io::ErrorKind::WouldBlock => break,
                    Err(e) => {
                        tracing::warn!("virtio-net: reading the host link: {e}");
                        break;
                    }
                }
            }
            let Some(chain) = rx.pop_descriptor_chain(&*mem) else {
                armed = false; // until the driver adds buffers
                break;
            };
            let head = chain.head_index();
            let packet = &self.packet[..self.pending];
            match frames::received(&*mem, chain, packet) {
                Ok(len) => {
                    if let Err(e) = rx.add_used(&*mem, head, len) {
                        tracing::warn!("virtio-net: receive queue: {e}");
                    }
                    add(&self.counters.rx_frames, 1);
                    add(&self.counters.rx_bytes, packet.len() - HDR_LEN);
                    delivered = true;
                }
                Err(FrameError::NoRoom { .. }) => {
                    // This buffer may fit the next frame; this one is lost.
                    rx.go_to_previous_position();
                    add(&self.counters.rx_dropped, 1);
                }
                Err(e) => {
                    tracing::debug!("virtio-net: receive queue: {e}");
                    add(&self.counters.bad_chains, 1);
                    add(&self.counters.rx_dropped, 1);
                    if let Err(e) = rx.add_used(&*mem, head, 0) {
                        tracing::warn!("virtio-net: receive queue: {e}");
                    }
                    delivered = true;
                }
            }
            self.pending = 0;
        }
        if delivered {
            notify(rx, mem, &self.call);
        }
        self.arm_link(armed);
    }

    /// Sends every frame the guest queued.
    fn transmit(&mut self) {
        let Some(Active { mem, tx, .. }) = self.active.as_deref_mut() else {
            return;
        };
        let mut sent = false;
        while let Some(chain) = tx.pop_descriptor_chain(&*mem) {
            let head = chain.head_index();
            match frames::transmitted(&*mem, chain) {
                Ok(frame) => match self.link.send(&frame) {
                    Ok(_) => {
                        add(&self.counters.tx_frames, 1);
                        add(&self.counters.tx_bytes, frame.len());
                    }
                    Err(e) => {
                        tracing::debug!("virtio-net: sending to the host link: {e}");
                        add(&self.counters.tx_dropped, 1);
                    }
                },
                Err(e) => {
                    tracing::debug!("virtio-net: transmit queue: {e}");
                    add(&self.counters.bad_chains, 1);
                }
            }
            if let Err(e) = tx.add_used(&*mem, head, 0) {
                tracing::warn!("virtio-net: transmit queue: {e}");
            }
            sent = true;
        }
        if sent {
            notify(tx, mem, &self.call);
        }
    }
}

/// Interrupts the guest for `queue` unless its driver asked not to be.
fn notify(queue: &mut Queue, mem: &GuestMemoryMmap, call: &EventFd) {
    match queue.needs_notification(mem) {
        Ok(false) => {}
        Ok(true) | Err(_) => {
            let _ = call.write(1);
        }
    }
}

#[cfg(test)]
mod tests;
