//! The port I/O devices of the VM: COM1 (an 8250/16550 UART from `vm-superio`, its
//! output to the console sink, its input typed from outside through a queue that fills
//! the UART's 64-byte receive FIFO as the guest reads it) and the i8042 controller (i8042.rs: its reset command stops
//! the VM, and the VMM types Ctrl+Alt+Del on it to ask the guest to shut down). Reads of
//! ports no device claims return all ones, as on a PC.

pub mod i8042;

use crate::kvm::layout::{COM1, I8042_COMMAND, I8042_DATA};
use i8042::I8042;
use parking_lot::Mutex;
use std::collections::VecDeque;
use std::io::Write;
use std::sync::Arc;
use vm_superio::{Serial, Trigger};
use vmm_sys_util::eventfd::EventFd;

/// The UART's interrupt line (ISA IRQ 4), an eventfd KVM turns into the interrupt (an
/// irqfd), so a Linux guest's 8250 driver gets its transmit interrupts.
#[derive(Debug)]
pub struct SerialIrq(pub EventFd);

impl Trigger for SerialIrq {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        self.0.write(1)
    }
}

/// The devices on I/O ports.
pub struct PortBus {
    serial: Serial<SerialIrq, vm_superio::serial::NoEvents, Box<dyn Write + Send>>,
    i8042: Arc<Mutex<I8042>>,
    input: ConsoleInput,
}

/// Bytes typed on the console that the UART has not taken yet.
pub type ConsoleInput = Arc<Mutex<VecDeque<u8>>>;

/// The most typed bytes kept waiting for the guest (beyond them, typing is dropped).
pub const CONSOLE_INPUT_MAX: usize = 64 << 10;

impl std::fmt::Debug for PortBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortBus").finish_non_exhaustive()
    }
}

impl PortBus {
    /// COM1 writing to `console` and interrupting on `serial_irq`, and the i8042 (shared
    /// with whoever types on it).
    pub fn new(
        console: Box<dyn Write + Send>,
        serial_irq: EventFd,
        i8042: Arc<Mutex<I8042>>,
        input: ConsoleInput,
    ) -> PortBus {
        PortBus {
            serial: Serial::new(SerialIrq(serial_irq), console),
            i8042,
            input,
        }
    }

    /// Moves typed bytes into the UART's receive FIFO while it has room (the UART raises
    /// its receive interrupt if the guest enabled it).
    pub fn feed(&mut self) {
        let mut input = self.input.lock();
        while !input.is_empty() && self.serial.fifo_capacity() > 0 {
            let n = input.len().min(self.serial.fifo_capacity());
            let bytes: Vec<u8> = input.drain(..n).collect();
            if let Err(e) = self.serial.enqueue_raw_bytes(&bytes) {
                tracing::debug!("serial input: {e:?}");
                break;
            }
        }
    }

    /// A guest's OUT.
    pub fn write(&mut self, port: u16, data: &[u8]) {
        let Some(&value) = data.first() else { return };
        match port {
            p if (COM1..COM1 + 8).contains(&p) => {
                if let Err(e) = self.serial.write((p - COM1) as u8, value) {
                    tracing::debug!("serial: {e:?}");
                }
            }
            I8042_DATA => self.i8042.lock().data(value),
            I8042_COMMAND => self.i8042.lock().command(value),
            _ => {}
        }
    }

    /// A guest's IN.
    pub fn read(&mut self, port: u16, data: &mut [u8]) {
        let value = match port {
            p if (COM1..COM1 + 8).contains(&p) => {
                let value = self.serial.read((p - COM1) as u8);
                self.feed();
                value
            }
            I8042_DATA => self.i8042.lock().read(true),
            I8042_COMMAND => self.i8042.lock().read(false),
            _ => 0xff,
        };
        data.fill(0xff);
        if let Some(first) = data.first_mut() {
            *first = value;
        }
    }

    /// Whether the guest asked for a reset.
    pub fn reset_requested(&self) -> bool {
        self.i8042.lock().reset_requested()
    }

    /// Flushes the console.
    pub fn flush(&mut self) {
        let _ = self.serial.writer_mut().flush();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use vmm_sys_util::eventfd::EFD_NONBLOCK;

    #[test]
    fn typed_bytes_reach_the_guest_through_the_uart_fifo_in_order() {
        let input = ConsoleInput::default();
        let irq = EventFd::new(EFD_NONBLOCK).unwrap();
        let i8042 = Arc::new(Mutex::new(I8042::new(None)));
        let mut bus = PortBus::new(Box::new(std::io::sink()), irq, i8042, input.clone());
        // More than the 64-byte FIFO: the rest waits in the queue.
        let typed: Vec<u8> = (0..200u32).map(|i| b'a' + (i % 26) as u8).collect();
        input.lock().extend(&typed);
        bus.feed();
        assert_eq!(input.lock().len(), 200 - 64);
        let mut got = Vec::new();
        let mut b = [0u8];
        loop {
            bus.read(COM1 + 5, &mut b); // line status: data ready?
            if b[0] & 1 == 0 {
                break;
            }
            bus.read(COM1, &mut b);
            got.push(b[0]);
        }
        assert_eq!(got, typed);
        assert!(input.lock().is_empty());
    }
}
