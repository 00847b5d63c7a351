//! `vsa vm console NAME --follow|--attach`: the console followed as it grows (a read
//! from the last offset every 100 ms, or at once when something was typed), and with
//! `--attach` what is typed goes to the guest; Ctrl+] (or the end of input) detaches.
//! On a terminal, input is raw while attached (each key goes as typed, Ctrl+C
//! included) and is restored when detaching.

use super::api::VmConsoleExchange;
use super::types::{ConsoleBody, VmPath};
use crate::core::client::Client;
use std::io::{Read, Write};
use std::sync::mpsc::{self, Receiver, RecvTimeoutError};
use std::time::Duration;

/// The detach key: Ctrl+] (as telnet and virsh use).
pub const DETACH: u8 = 0x1d;
/// How often the log is read while nothing is typed.
const POLL: Duration = Duration::from_millis(100);

/// Puts a terminal into raw mode while it lives.
struct RawMode(rustix::termios::Termios);

impl RawMode {
    fn enter() -> Option<RawMode> {
        let stdin = std::io::stdin();
        if !rustix::termios::isatty(&stdin) {
            return None;
        }
        let saved = rustix::termios::tcgetattr(&stdin).ok()?;
        let mut raw = saved.clone();
        raw.make_raw();
        rustix::termios::tcsetattr(&stdin, rustix::termios::OptionalActions::Now, &raw).ok()?;
        Some(RawMode(saved))
    }
}

impl Drop for RawMode {
    fn drop(&mut self) {
        let _ = rustix::termios::tcsetattr(
            std::io::stdin(),
            rustix::termios::OptionalActions::Now,
            &self.0,
        );
    }
}

/// Reads standard input on a thread of its own: chunks as they come, `None` at its end.
fn keyboard() -> Receiver<Option<Vec<u8>>> {
    let (tx, rx) = mpsc::channel();
    std::thread::spawn(move || {
        let mut stdin = std::io::stdin().lock();
        let mut buf = [0u8; 1024];
        loop {
            match stdin.read(&mut buf) {
                Ok(0) | Err(_) => {
                    let _ = tx.send(None);
                    return;
                }
                Ok(n) => {
                    if tx.send(Some(buf[..n].to_vec())).is_err() {
                        return;
                    }
                }
            }
        }
    });
    rx
}

/// What was typed since the last look: the bytes to send, and whether to detach.
fn typed(keys: &Receiver<Option<Vec<u8>>>, first: Option<Option<Vec<u8>>>) -> (Vec<u8>, bool) {
    let mut out = Vec::new();
    let mut chunks = first
        .into_iter()
        .chain(std::iter::from_fn(|| keys.try_recv().ok()));
    for chunk in chunks.by_ref() {
        let Some(bytes) = chunk else {
            return (out, true);
        };
        if let Some(at) = bytes.iter().position(|&b| b == DETACH) {
            out.extend_from_slice(&bytes[..at]);
            return (out, true);
        }
        out.extend_from_slice(&bytes);
    }
    (out, false)
}

/// Follows the console of `name` (from the end part of its log) until the VM stops, or
/// with `attach` until the user detaches.
pub fn follow(client: &Client, name: &str, attach: bool) -> anyhow::Result<()> {
    let params = VmPath {
        name: name.to_owned(),
    };
    let keys = attach.then(keyboard);
    let raw = if attach { RawMode::enter() } else { None };
    if attach {
        eprint!("[attached to the console of VM {name}; Ctrl+] detaches]\r\n");
    }
    let mut from = None;
    let mut out = std::io::stdout();
    loop {
        let (input, detach) = match &keys {
            Some(k) => match k.recv_timeout(if from.is_none() { Duration::ZERO } else { POLL }) {
                Ok(first) => typed(k, Some(first)),
                Err(RecvTimeoutError::Timeout) => (Vec::new(), false),
                Err(RecvTimeoutError::Disconnected) => (Vec::new(), true),
            },
            None => {
                if from.is_some() {
                    std::thread::sleep(POLL);
                }
                (Vec::new(), false)
            }
        };
        let body = ConsoleBody {
            from,
            input: (!input.is_empty()).then(|| String::from_utf8_lossy(&input).into_owned()),
        };
        let v = client.call::<VmConsoleExchange>(&params, &body)?;
        // A raw terminal needs carriage returns of its own.
        let text = if raw.is_some() {
            v.text.replace('\n', "\r\n")
        } else {
            v.text
        };
        out.write_all(text.as_bytes())?;
        out.flush()?;
        from = Some(v.next);
        if detach {
            drop(raw);
            eprintln!("\n[detached from the console of VM {name}]");
            return Ok(());
        }
        if !v.running && v.next == v.from {
            drop(raw);
            eprintln!("\n[VM {name} is not running]");
            return Ok(());
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_stops_at_the_detach_key_or_the_end_of_input() {
        let (tx, rx) = mpsc::channel();
        tx.send(Some(b"ls\r".to_vec())).unwrap();
        tx.send(Some(vec![b'x', DETACH, b'y'])).unwrap();
        assert_eq!(typed(&rx, None), (b"ls\rx".to_vec(), true));
        tx.send(Some(b"a".to_vec())).unwrap();
        assert_eq!(typed(&rx, None), (b"a".to_vec(), false));
        tx.send(None).unwrap();
        assert_eq!(typed(&rx, Some(Some(b"b".to_vec()))), (b"b".to_vec(), true));
    }
}
