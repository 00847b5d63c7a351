//! The port I/O devices of the VM: COM1 (an 8250/16550 UART from `vm-superio`, its
//! output to the console sink) and the i8042 controller (its reset command stops the VM).
//! Reads of ports no device claims return all ones, as on a PC.

use crate::kvm::layout::{COM1, I8042_COMMAND, I8042_DATA};
use std::io::Write;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use vm_superio::{I8042Device, Serial, Trigger};

/// An interrupt line not wired yet (no interrupt controller in the VM yet): the UART's
/// interrupts are dropped, so the guest polls it.
#[derive(Debug, Default)]
pub struct NoIrq;

impl Trigger for NoIrq {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Raised by the i8042's reset command.
#[derive(Debug, Default, Clone)]
pub struct ResetFlag(Arc<AtomicBool>);

impl Trigger for ResetFlag {
    type E = std::io::Error;
    fn trigger(&self) -> std::io::Result<()> {
        self.0.store(true, Ordering::SeqCst);
        Ok(())
    }
}

/// The devices on I/O ports.
pub struct PortBus {
    serial: Serial<NoIrq, vm_superio::serial::NoEvents, Box<dyn Write + Send>>,
    i8042: I8042Device<ResetFlag>,
    reset: ResetFlag,
}

impl std::fmt::Debug for PortBus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PortBus").finish_non_exhaustive()
    }
}

impl PortBus {
    /// COM1 writing to `console`, and the i8042.
    pub fn new(console: Box<dyn Write + Send>) -> PortBus {
        let reset = ResetFlag::default();
        PortBus {
            serial: Serial::new(NoIrq, console),
            i8042: I8042Device::new(reset.clone()),
            reset,
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
            I8042_DATA | I8042_COMMAND => {
                if let Err(e) = self.i8042.write((port - I8042_DATA) as u8, value) {
                    tracing::debug!("i8042: {e:?}");
                }
            }
            _ => {}
        }
    }

    /// A guest's IN.
    pub fn read(&mut self, port: u16, data: &mut [u8]) {
        let value = match port {
            p if (COM1..COM1 + 8).contains(&p) => self.serial.read((p - COM1) as u8),
            I8042_DATA | I8042_COMMAND => self.i8042.read((port - I8042_DATA) as u8),
            _ => 0xff,
        };
        data.fill(0xff);
        if let Some(first) = data.first_mut() {
            *first = value;
        }
    }

    /// Whether the guest asked for a reset.
    pub fn reset_requested(&self) -> bool {
        self.reset.0.load(Ordering::SeqCst)
    }

    /// Flushes the console.
    pub fn flush(&mut self) {
        let _ = self.serial.writer_mut().flush();
    }
}
