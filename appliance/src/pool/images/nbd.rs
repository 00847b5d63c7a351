//! A small NBD client (the NBD protocol, `doc/proto.md` of the NBD project): the fixed
//! newstyle handshake with `NBD_OPT_EXPORT_NAME`, then simple requests and replies one at
//! a time. It talks to the `qemu-nbd` the appliance starts for one image, so the image's
//! format is qemu's business and this side only moves bytes.

use std::io::{Read, Write};
use std::os::unix::net::UnixStream;
use std::path::Path;
use std::time::Duration;

const NBDMAGIC: &[u8; 8] = b"NBDMAGIC";
const IHAVEOPT: u64 = 0x4948_4156_454F_5054;
const FLAG_FIXED_NEWSTYLE: u16 = 1;
const FLAG_NO_ZEROES: u16 = 2;
const OPT_EXPORT_NAME: u32 = 1;
const REQUEST_MAGIC: u32 = 0x2560_9513;
const SIMPLE_REPLY_MAGIC: u32 = 0x6744_6698;
const CMD_READ: u16 = 0;
const CMD_WRITE: u16 = 1;
const CMD_DISC: u16 = 2;
const CMD_FLUSH: u16 = 3;
/// Transmission flag: the server is read-only.
const FLAG_READ_ONLY: u16 = 1 << 1;

/// What went wrong talking NBD.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum NbdError {
    /// The socket failed.
    #[error("NBD connection: {0}")]
    Io(#[from] std::io::Error),
    /// The server said something that is not NBD.
    #[error("NBD server: {0}")]
    Protocol(String),
    /// The server failed a request with an errno.
    #[error("NBD server: {what} at offset {offset} failed with error {errno}")]
    Failed {
        /// The request.
        what: &'static str,
        /// Its offset.
        offset: u64,
        /// The server's errno.
        errno: u32,
    },
}

/// A connected NBD export.
#[derive(Debug)]
pub struct NbdClient {
    sock: UnixStream,
    size: u64,
    read_only: bool,
    cookie: u64,
}

/// Parses the server's greeting (18 bytes): its handshake flags.
pub fn parse_greeting(b: &[u8; 18]) -> Result<u16, NbdError> {
    if &b[..8] != NBDMAGIC || u64::from_be_bytes(take8(&b[8..16])) != IHAVEOPT {
        return Err(NbdError::Protocol("not a newstyle NBD server".into()));
    }
    let flags = u16::from_be_bytes([b[16], b[17]]);
    if flags & FLAG_FIXED_NEWSTYLE == 0 {
        return Err(NbdError::Protocol(
            "the server does not speak fixed newstyle".into(),
        ));
    }
    Ok(flags)
}

/// Parses a simple reply header (16 bytes): the error and the cookie.
pub fn parse_reply(b: &[u8; 16]) -> Result<(u32, u64), NbdError> {
    let magic = u32::from_be_bytes([b[0], b[1], b[2], b[3]]);
    if magic != SIMPLE_REPLY_MAGIC {
        return Err(NbdError::Protocol(format!("reply magic {magic:#x}")));
    }
    Ok((
        u32::from_be_bytes([b[4], b[5], b[6], b[7]]),
        u64::from_be_bytes(take8(&b[8..16])),
    ))
}

fn take8(s: &[u8]) -> [u8; 8] {
    let mut a = [0u8; 8];
    a.copy_from_slice(&s[..8]);
    a
}

impl NbdClient {
    /// Connects to the unnamed export on `socket`. Every read and write waits at most
    /// `timeout` (a stuck server fails the transfer instead of hanging it).
    pub fn connect(socket: &Path, timeout: Duration) -> Result<NbdClient, NbdError> {
        let mut sock = UnixStream::connect(socket)?;
        sock.set_read_timeout(Some(timeout))?;
        sock.set_write_timeout(Some(timeout))?;
        let mut greeting = [0u8; 18];
        sock.read_exact(&mut greeting)?;
        let flags = parse_greeting(&greeting)?;
        let no_zeroes = flags & FLAG_NO_ZEROES != 0;
        let client_flags = u32::from(FLAG_FIXED_NEWSTYLE | (flags & FLAG_NO_ZEROES));
        let mut hello = Vec::with_capacity(20);
        hello.extend_from_slice(&client_flags.to_be_bytes());
        hello.extend_from_slice(&IHAVEOPT.to_be_bytes());
        hello.extend_from_slice(&OPT_EXPORT_NAME.to_be_bytes());
        hello.extend_from_slice(&0u32.to_be_bytes()); // the default export: ""
        sock.write_all(&hello)?;
        let mut info = [0u8; 10];
        sock.read_exact(&mut info)?;
        let size = u64::from_be_bytes(take8(&info[..8]));
        let tflags = u16::from_be_bytes([info[8], info[9]]);
        if !no_zeroes {
            sock.read_exact(&mut [0u8; 124])?;
        }
        Ok(NbdClient {
            sock,
            size,
            read_only: tflags & FLAG_READ_ONLY != 0,
            cookie: 0,
        })
    }

    /// The export's size in bytes.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// Whether the server refuses writes.
    pub fn read_only(&self) -> bool {
        self.read_only
    }

    fn request(&mut self, kind: u16, offset: u64, len: u32, data: &[u8]) -> Result<(), NbdError> {
        self.cookie += 1;
        let mut r = Vec::with_capacity(28 + data.len());
        r.extend_from_slice(&REQUEST_MAGIC.to_be_bytes());
        r.extend_from_slice(&0u16.to_be_bytes());
        r.extend_from_slice(&kind.to_be_bytes());
        r.extend_from_slice(&self.cookie.to_be_bytes());
        r.extend_from_slice(&offset.to_be_bytes());
        r.extend_from_slice(&len.to_be_bytes());
        r.extend_from_slice(data);
        self.sock.write_all(&r)?;
        Ok(())
    }

    fn reply(&mut self, what: &'static str, offset: u64) -> Result<(), NbdError> {
        let mut h = [0u8; 16];
        self.sock.read_exact(&mut h)?;
        let (errno, cookie) = parse_reply(&h)?;
        if cookie != self.cookie {
            return Err(NbdError::Protocol(format!(
                "a reply to request {cookie} while waiting for {}",
                self.cookie
            )));
        }
        if errno != 0 {
            return Err(NbdError::Failed {
                what,
                offset,
                errno,
            });
        }
        Ok(())
    }

    fn check(&self, offset: u64, len: usize) -> Result<u32, NbdError> {
        let n = u32::try_from(len).map_err(|_| NbdError::Protocol("request too large".into()))?;
        match offset.checked_add(u64::from(n)) {
            Some(end) if end <= self.size => Ok(n),
            _ => Err(NbdError::Protocol(format!(
                "{len} bytes at {offset} are past the export's {} bytes",
                self.size
            ))),
        }
    }

    /// Reads `buf.len()` bytes at `offset`.
    pub fn read(&mut self, offset: u64, buf: &mut [u8]) -> Result<(), NbdError> {
        let n = self.check(offset, buf.len())?;
        self.request(CMD_READ, offset, n, &[])?;
        self.reply("read", offset)?;
        self.sock.read_exact(buf)?;
        Ok(())
    }

    /// Writes `data` at `offset`.
    pub fn write(&mut self, offset: u64, data: &[u8]) -> Result<(), NbdError> {
        let n = self.check(offset, data.len())?;
        self.request(CMD_WRITE, offset, n, data)?;
        self.reply("write", offset)
    }

    /// Makes the writes so far durable.
    pub fn flush(&mut self) -> Result<(), NbdError> {
        self.request(CMD_FLUSH, 0, 0, &[])?;
        self.reply("flush", 0)
    }

    /// Ends the session (the server closes the export).
    pub fn disconnect(mut self) -> Result<(), NbdError> {
        self.request(CMD_DISC, 0, 0, &[])
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn greeting_and_reply() {
        let mut g = [0u8; 18];
        g[..8].copy_from_slice(NBDMAGIC);
        g[8..16].copy_from_slice(&IHAVEOPT.to_be_bytes());
        g[17] = 3;
        assert_eq!(parse_greeting(&g).unwrap(), 3);
        g[17] = 2;
        assert!(
            parse_greeting(&g).is_err(),
            "oldstyle-only flags are refused"
        );
        let mut r = [0u8; 16];
        r[..4].copy_from_slice(&SIMPLE_REPLY_MAGIC.to_be_bytes());
        r[7] = 5;
        r[15] = 9;
        assert_eq!(parse_reply(&r).unwrap(), (5, 9));
        r[0] = 0;
        assert!(parse_reply(&r).is_err());
    }

    proptest! {
        #[test]
        fn parsers_never_panic(g in proptest::array::uniform18(any::<u8>()),
                               r in proptest::array::uniform16(any::<u8>())) {
            let _ = parse_greeting(&g);
            let _ = parse_reply(&r);
        }
    }
}
