//! A VM's serial console as the API serves it: the log the runner's COM1 output goes to
//! (`console.log` in the VM's directory, appended across runs), read from an offset so
//! a client can follow it, and typing, sent to the runner as a control command that puts
//! the bytes on the guest's UART.

use super::types::ConsoleView;
use std::io::{Read, Seek, SeekFrom};
use std::path::Path;

/// The control command that types bytes on the console: `console HEX`.
pub const TYPE_COMMAND: &str = "console";
/// The most bytes one read returns.
pub const READ_MAX: u64 = 64 << 10;
/// The most bytes one request may type.
pub const TYPE_MAX: usize = 4096;

/// The control line that types `bytes`.
pub fn type_line(bytes: &[u8]) -> String {
    let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
    format!("{TYPE_COMMAND} {hex}")
}

/// The bytes of a control line's argument, if it is even-length hex.
pub fn parse_hex(hex: &str) -> Option<Vec<u8>> {
    if hex.len() % 2 != 0 {
        return None;
    }
    (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect()
}

/// The log of `name` from `from` (the last [`READ_MAX`] bytes when `None`), up to
/// [`READ_MAX`] bytes, ending on a whole UTF-8 character so the next read starts on one.
pub fn read(name: &str, path: &Path, from: Option<u64>, running: bool) -> ConsoleView {
    let empty = |at: u64| ConsoleView {
        name: name.to_owned(),
        text: String::new(),
        from: at,
        next: at,
        running,
    };
    let Ok(mut f) = std::fs::File::open(path) else {
        return empty(0);
    };
    let len = f.metadata().map(|m| m.len()).unwrap_or(0);
    let start = match from {
        Some(at) => at.min(len),
        None => len.saturating_sub(READ_MAX),
    };
    let mut buf = Vec::new();
    let got = f
        .seek(SeekFrom::Start(start))
        .and_then(|_| (&mut f).take(READ_MAX).read_to_end(&mut buf));
    if got.is_err() {
        return empty(start);
    }
    // A character cut at the end waits for the next read.
    if let Err(e) = std::str::from_utf8(&buf) {
        if e.error_len().is_none() {
            buf.truncate(e.valid_up_to());
        }
    }
    ConsoleView {
        name: name.to_owned(),
        text: String::from_utf8_lossy(&buf).into_owned(),
        from: start,
        next: start + buf.len() as u64,
        running,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typing_round_trips_through_hex() {
        let line = type_line(b"ls\r\x03");
        assert_eq!(line, "console 6c730d03");
        assert_eq!(parse_hex("6c730d03").unwrap(), b"ls\r\x03");
        assert!(parse_hex("6c7").is_none() && parse_hex("zz").is_none());
        assert_eq!(parse_hex("").unwrap(), b"");
    }

    #[test]
    fn reads_follow_the_log_and_never_split_a_character() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("console.log");
        assert_eq!(read("vm", &path, Some(5), false).next, 0);
        std::fs::write(&path, "héllo").unwrap(); // 'é' is 2 bytes
        let v = read("vm", &path, None, true);
        assert_eq!((v.text.as_str(), v.from, v.next), ("héllo", 0, 6));
        let v = read("vm", &path, Some(2), true);
        assert_eq!((v.from, v.next), (2, 6)); // from inside 'é': lossy, but on
        std::fs::write(&path, b"ab\xc3").unwrap(); // half a character so far
        let v = read("vm", &path, Some(0), true);
        assert_eq!((v.text.as_str(), v.next), ("ab", 2));
        let v = read("vm", &path, Some(100), true);
        assert_eq!((v.from, v.next), (3, 3));
    }
}
