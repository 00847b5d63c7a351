//! The i8042 keyboard controller, as much of it as a guest needs to be reset through it
//! and to be asked to shut down: the controller commands a driver probes with (read and
//! write the configuration byte, self tests, enable and disable the ports), keyboard
//! commands acknowledged, the CPU reset command (0xFE on port 0x64), and Ctrl+Alt+Del
//! typed by the VMM (scan code set 1: Ctrl, Alt, Del), which Linux answers with an orderly
//! reboot (with `reboot=k` the VM then stops). A byte waiting for the guest sets the
//! status register's output-full bit and raises IRQ 1 when the configuration enables it.

use std::collections::VecDeque;
use vmm_sys_util::eventfd::EventFd;

/// Status: output buffer full.
const STATUS_OBF: u8 = 1;
/// Status: the system flag (set after a successful self test).
const STATUS_SYS: u8 = 1 << 2;
/// Status: the last write was a command.
const STATUS_CMD: u8 = 1 << 3;
/// Configuration: keyboard interrupt enabled.
const CONFIG_KBD_INT: u8 = 1;
/// Configuration: the system flag.
const CONFIG_SYS: u8 = 1 << 2;
/// Configuration: scan code translation (set 2 to set 1).
const CONFIG_XLATE: u8 = 1 << 6;
/// Ctrl, Alt, Del pressed (scan code set 1; Del is an extended key).
const CTRL_ALT_DEL: [u8; 4] = [0x1d, 0x38, 0xe0, 0x53];
/// The most bytes waiting for the guest (a guest that never reads does not grow it).
const MAX_PENDING: usize = 64;

/// The controller.
#[derive(Debug)]
pub struct I8042 {
    output: VecDeque<u8>,
    config: u8,
    /// A controller command that takes a data byte next (0x60 write configuration, 0xD4
    /// to the mouse, ...).
    pending_command: Option<u8>,
    last_was_command: bool,
    reset: bool,
    irq: Option<EventFd>,
}

impl I8042 {
    /// A controller whose keyboard interrupt (IRQ 1) is signalled on `irq`.
    pub fn new(irq: Option<EventFd>) -> I8042 {
        I8042 {
            output: VecDeque::new(),
            config: CONFIG_KBD_INT | CONFIG_SYS | CONFIG_XLATE,
            pending_command: None,
            last_was_command: false,
            reset: false,
            irq,
        }
    }

    /// Whether the guest asked for a CPU reset.
    pub fn reset_requested(&self) -> bool {
        self.reset
    }

    /// Types Ctrl+Alt+Del.
    pub fn ctrl_alt_del(&mut self) {
        for b in CTRL_ALT_DEL {
            self.push(b);
        }
        self.interrupt();
    }

    fn push(&mut self, b: u8) {
        if self.output.len() < MAX_PENDING {
            self.output.push_back(b);
        }
    }

    fn interrupt(&self) {
        if self.config & CONFIG_KBD_INT != 0 && !self.output.is_empty() {
            if let Some(irq) = &self.irq {
                let _ = irq.write(1);
            }
        }
    }

    /// A read of port 0x60 (`data`) or 0x64 (status).
    pub fn read(&mut self, data: bool) -> u8 {
        if data {
            let b = self.output.pop_front().unwrap_or(0);
            // The next byte, if any, interrupts again.
            self.interrupt();
            b
        } else {
            let mut s = STATUS_SYS;
            if !self.output.is_empty() {
                s |= STATUS_OBF;
            }
            if self.last_was_command {
                s |= STATUS_CMD;
            }
            s
        }
    }

    /// A write of port 0x64 (a controller command).
    pub fn command(&mut self, cmd: u8) {
        self.last_was_command = true;
        self.pending_command = None;
        match cmd {
            0x20 => self.push(self.config),
            0x60 | 0xd1 | 0xd2 | 0xd3 | 0xd4 => self.pending_command = Some(cmd),
            0xa9 | 0xab => self.push(0x00), // port tests: no error
            0xaa => self.push(0x55),        // controller self test passed
            0xa7 | 0xa8 | 0xad | 0xae => {} // disable/enable a port
            0xfe => self.reset = true,
            _ => {}
        }
        self.interrupt();
    }

    /// A write of port 0x60: a command's data byte, or a command to the keyboard.
    pub fn data(&mut self, b: u8) {
        self.last_was_command = false;
        match self.pending_command.take() {
            Some(0x60) => self.config = b,
            Some(0xd2) => self.push(b), // echo as if typed
            Some(_) => {}               // output port, mouse: nothing attached
            None => match b {
                0xff => {
                    // Keyboard reset: acknowledged, self test passed.
                    self.push(0xfa);
                    self.push(0xaa);
                }
                0xee => self.push(0xee), // echo
                0xf2 => {
                    // Identify: an MF2 keyboard.
                    self.push(0xfa);
                    self.push(0xab);
                    self.push(0x83);
                }
                _ => self.push(0xfa),
            },
        }
        self.interrupt();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn probing_commands_answer_as_a_driver_expects() {
        let mut k = I8042::new(None);
        k.command(0xaa);
        assert_eq!(
            (k.read(false) & STATUS_OBF, k.read(true)),
            (STATUS_OBF, 0x55)
        );
        assert_eq!(k.read(false) & STATUS_OBF, 0);
        k.command(0x60);
        k.data(0x45);
        k.command(0x20);
        assert_eq!(k.read(true), 0x45);
        k.data(0xff);
        assert_eq!((k.read(true), k.read(true)), (0xfa, 0xaa));
        assert!(!k.reset_requested());
        k.command(0xfe);
        assert!(k.reset_requested());
    }

    #[test]
    fn ctrl_alt_del_is_typed_and_interrupts_while_bytes_wait() {
        let irq = EventFd::new(vmm_sys_util::eventfd::EFD_NONBLOCK).unwrap();
        let mut k = I8042::new(Some(irq.try_clone().unwrap()));
        k.ctrl_alt_del();
        assert!(irq.read().is_ok());
        let mut typed = Vec::new();
        while k.read(false) & STATUS_OBF != 0 {
            typed.push(k.read(true));
        }
        assert_eq!(typed, CTRL_ALT_DEL);
        // An interrupt per byte still waiting after a read (three), then none.
        assert_eq!(irq.read().unwrap(), 3);
        // With the keyboard interrupt disabled, the bytes wait without interrupting.
        k.command(0x60);
        k.data(CONFIG_SYS);
        let _ = irq.read();
        k.ctrl_alt_del();
        assert!(irq.read().is_err());
        // A guest that never reads does not grow the buffer without bound.
        for _ in 0..100 {
            k.ctrl_alt_del();
        }
        assert_eq!(k.output.len(), MAX_PENDING);
    }
}
