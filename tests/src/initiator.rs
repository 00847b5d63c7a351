//! A minimal iSCSI initiator for tests that need commands the packaged tools do not send
//! (PERSISTENT RESERVE IN/OUT): one connection, no authentication, no digests, immediate
//! data for small writes, Data-In collected until the SCSI Response. Written from RFC 7143
//! for the tests; it checks what it reads and fails loudly. [`LoginConn`] drives a login
//! one PDU at a time, for tests of how the target answers odd or hostile logins.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::Duration;

/// What a command returned.
#[derive(Debug, Clone)]
pub struct Reply {
    /// SCSI status.
    pub status: u8,
    /// Sense data (without the 2-byte length).
    pub sense: Vec<u8>,
    /// Data-In.
    pub data: Vec<u8>,
}

/// One logged-in session.
#[derive(Debug)]
pub struct Initiator {
    sock: TcpStream,
    cmd_sn: u32,
    exp_stat_sn: u32,
    itt: u32,
}

/// `key=value` pairs as login and text data segments carry them (each ends in a NUL).
pub fn text_keys(keys: &[(&str, &str)]) -> Vec<u8> {
    let mut out = Vec::new();
    for (k, v) in keys {
        out.extend_from_slice(format!("{k}={v}").as_bytes());
        out.push(0);
    }
    out
}

fn pad4(n: usize) -> usize {
    (4 - n % 4) % 4
}

impl Initiator {
    /// Connects to `addr` and logs in to `target` as `initiator` with `isid`.
    pub fn login(addr: &str, target: &str, initiator: &str, isid: u64) -> std::io::Result<Self> {
        let sock = TcpStream::connect(addr)?;
        sock.set_read_timeout(Some(Duration::from_secs(30)))?;
        sock.set_nodelay(true)?;
        let mut me = Initiator {
            sock,
            cmd_sn: 1,
            exp_stat_sn: 0,
            itt: 1,
        };
        let data = text_keys(&[
            ("InitiatorName", initiator),
            ("TargetName", target),
            ("SessionType", "Normal"),
            ("AuthMethod", "None"),
        ]);
        // Security phase → operational (CSG 0, NSG 1, transit).
        let mut bhs = [0u8; 48];
        bhs[0] = 0x43;
        bhs[1] = 0x80 | 0x01;
        bhs[8..14].copy_from_slice(&isid.to_be_bytes()[2..]);
        me.login_step(bhs, &data)?;
        let data = text_keys(&[
            ("HeaderDigest", "None"),
            ("DataDigest", "None"),
            ("ImmediateData", "Yes"),
            ("InitialR2T", "No"),
            ("MaxRecvDataSegmentLength", "262144"),
            ("FirstBurstLength", "65536"),
            ("MaxBurstLength", "262144"),
            ("ErrorRecoveryLevel", "0"),
        ]);
        // Operational → full feature (CSG 1, NSG 3, transit).
        let mut bhs = [0u8; 48];
        bhs[0] = 0x43;
        bhs[1] = 0x80 | (1 << 2) | 0x03;
        bhs[8..14].copy_from_slice(&isid.to_be_bytes()[2..]);
        me.login_step(bhs, &data)?;
        Ok(me)
    }

    fn login_step(&mut self, mut bhs: [u8; 48], data: &[u8]) -> std::io::Result<()> {
        bhs[2] = 0; // version max
        bhs[3] = 0; // version min
        bhs[5..8].copy_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        bhs[16..20].copy_from_slice(&self.itt.to_be_bytes());
        bhs[24..28].copy_from_slice(&self.cmd_sn.to_be_bytes());
        bhs[28..32].copy_from_slice(&self.exp_stat_sn.to_be_bytes());
        self.send(&bhs, data)?;
        let (rbhs, _) = self.recv()?;
        if rbhs[0] & 0x3F != 0x23 {
            return Err(std::io::Error::other(format!(
                "expected a login response, got opcode {:#x}",
                rbhs[0]
            )));
        }
        if rbhs[36] != 0 {
            return Err(std::io::Error::other(format!(
                "login refused: status class {} detail {}",
                rbhs[36], rbhs[37]
            )));
        }
        self.exp_stat_sn = u32::from_be_bytes([rbhs[24], rbhs[25], rbhs[26], rbhs[27]]) + 1;
        Ok(())
    }

    fn send(&mut self, bhs: &[u8; 48], data: &[u8]) -> std::io::Result<()> {
        let mut pdu = bhs.to_vec();
        pdu.extend_from_slice(data);
        pdu.extend(std::iter::repeat_n(0u8, pad4(data.len())));
        self.sock.write_all(&pdu)
    }

    fn recv(&mut self) -> std::io::Result<([u8; 48], Vec<u8>)> {
        let mut bhs = [0u8; 48];
        self.sock.read_exact(&mut bhs)?;
        let ahs = usize::from(bhs[4]) * 4;
        let dlen = u32::from_be_bytes([0, bhs[5], bhs[6], bhs[7]]) as usize;
        let mut rest = vec![0u8; ahs + dlen + pad4(dlen)];
        self.sock.read_exact(&mut rest)?;
        Ok((bhs, rest[ahs..ahs + dlen].to_vec()))
    }

    /// Sends one command to `lun` with `data_out` as immediate data (at most 64 KiB) and
    /// expecting up to `data_in` bytes back.
    pub fn command(
        &mut self,
        lun: u64,
        cdb: &[u8],
        data_out: &[u8],
        data_in: u32,
    ) -> std::io::Result<Reply> {
        assert!(cdb.len() <= 16 && data_out.len() <= 65536);
        self.itt = self.itt.wrapping_add(1);
        let mut bhs = [0u8; 48];
        bhs[0] = 0x01;
        bhs[1] = 0x80 | 0x01; // final, SIMPLE
        if data_in > 0 {
            bhs[1] |= 0x40;
        }
        if !data_out.is_empty() {
            bhs[1] |= 0x20;
        }
        bhs[5..8].copy_from_slice(&(data_out.len() as u32).to_be_bytes()[1..]);
        bhs[8..16].copy_from_slice(&lun_field(lun));
        bhs[16..20].copy_from_slice(&self.itt.to_be_bytes());
        let edtl = if data_out.is_empty() {
            data_in
        } else {
            data_out.len() as u32
        };
        bhs[20..24].copy_from_slice(&edtl.to_be_bytes());
        bhs[24..28].copy_from_slice(&self.cmd_sn.to_be_bytes());
        bhs[28..32].copy_from_slice(&self.exp_stat_sn.to_be_bytes());
        bhs[32..32 + cdb.len()].copy_from_slice(cdb);
        self.cmd_sn = self.cmd_sn.wrapping_add(1);
        self.send(&bhs, data_out)?;
        let mut data = Vec::new();
        loop {
            let (r, seg) = self.recv()?;
            match r[0] & 0x3F {
                // Data-In: collect; with the S bit it carries the status too.
                0x25 => {
                    let off = u32::from_be_bytes([r[40], r[41], r[42], r[43]]) as usize;
                    if data.len() < off + seg.len() {
                        data.resize(off + seg.len(), 0);
                    }
                    data[off..off + seg.len()].copy_from_slice(&seg);
                    if r[1] & 0x01 != 0 {
                        self.exp_stat_sn =
                            u32::from_be_bytes([r[24], r[25], r[26], r[27]]).wrapping_add(1);
                        return Ok(Reply {
                            status: r[3],
                            sense: Vec::new(),
                            data,
                        });
                    }
                }
                // SCSI Response.
                0x21 => {
                    self.exp_stat_sn =
                        u32::from_be_bytes([r[24], r[25], r[26], r[27]]).wrapping_add(1);
                    let sense = if seg.len() >= 2 {
                        let n = usize::from(u16::from_be_bytes([seg[0], seg[1]]));
                        seg[2..(2 + n).min(seg.len())].to_vec()
                    } else {
                        Vec::new()
                    };
                    return Ok(Reply {
                        status: r[3],
                        sense,
                        data,
                    });
                }
                // NOP-In from the target: answer pings that want an answer.
                0x20 => {
                    let ttt = [r[20], r[21], r[22], r[23]];
                    if ttt != [0xFF; 4] {
                        let mut nop = [0u8; 48];
                        nop[0] = 0x40; // NOP-Out (opcode 0), immediate
                        nop[1] = 0x80;
                        nop[8..16].copy_from_slice(&r[8..16]);
                        nop[16..20].copy_from_slice(&[0xFF; 4]);
                        nop[20..24].copy_from_slice(&ttt);
                        nop[24..28].copy_from_slice(&self.cmd_sn.to_be_bytes());
                        nop[28..32].copy_from_slice(&self.exp_stat_sn.to_be_bytes());
                        self.send(&nop, &[])?;
                    }
                }
                op => {
                    return Err(std::io::Error::other(format!(
                        "unexpected PDU opcode {op:#x} while waiting for a SCSI response"
                    )))
                }
            }
        }
    }
}

impl Initiator {
    /// Sends TEST UNIT READY until it answers GOOD, consuming the unit attentions a new
    /// nexus sees (power on, reset), as every initiator does after login.
    pub fn clear_unit_attentions(&mut self, lun: u64) -> std::io::Result<()> {
        for _ in 0..8 {
            let r = self.command(lun, &[0; 6], &[], 0)?;
            match (r.status, r.sense.get(2).map(|k| k & 0x0F)) {
                (0, _) => return Ok(()),
                (2, Some(6)) => continue,
                _ => {
                    return Err(std::io::Error::other(format!(
                        "TEST UNIT READY failed: {r:?}"
                    )))
                }
            }
        }
        Err(std::io::Error::other("unit attentions did not clear"))
    }
}

/// The 8-byte LUN field (peripheral addressing below 256, flat space above).
pub fn lun_field(lun: u64) -> [u8; 8] {
    let mut f = [0u8; 8];
    if lun < 256 {
        f[1] = lun as u8;
    } else {
        f[..2].copy_from_slice(&((lun as u16 & 0x3FFF) | 0x4000).to_be_bytes());
    }
    f
}

/// The `key=value` pairs of a login or text data segment.
pub fn parse_keys(data: &[u8]) -> Vec<(String, String)> {
    data.split(|&b| b == 0)
        .filter(|item| !item.is_empty())
        .map(|item| {
            let item = String::from_utf8_lossy(item);
            let (k, v) = item.split_once('=').unwrap_or((&item, ""));
            (k.to_owned(), v.to_owned())
        })
        .collect()
}

/// A Login Response, as a test looks at it.
#[derive(Debug, Clone)]
pub struct LoginReply {
    /// Status class and detail.
    pub status: (u8, u8),
    /// The T (transit) bit.
    pub transit: bool,
    /// The C (continue) bit.
    pub cont: bool,
    /// The next stage (meaningful with T).
    pub nsg: u8,
    /// The session's TSIH (set when the login completes).
    pub tsih: u16,
    /// The data segment.
    pub data: Vec<u8>,
}

/// A connection in the login phase that a test drives one Login PDU at a time (stages,
/// T and C bits and data as it chooses), to see how the target answers.
#[derive(Debug)]
pub struct LoginConn {
    sock: TcpStream,
    isid: u64,
    exp_stat_sn: u32,
}

impl LoginConn {
    /// Connects to `addr`; the login will use `isid`.
    pub fn connect(addr: &str, isid: u64) -> std::io::Result<Self> {
        let sock = TcpStream::connect(addr)?;
        sock.set_read_timeout(Some(Duration::from_secs(60)))?;
        sock.set_nodelay(true)?;
        Ok(LoginConn {
            sock,
            isid,
            exp_stat_sn: 0,
        })
    }

    /// Sends a Login Request from stage `csg` (to `nsg` with `transit`), with the C bit
    /// as `cont` says.
    pub fn send(
        &mut self,
        (csg, nsg): (u8, u8),
        transit: bool,
        cont: bool,
        data: &[u8],
    ) -> std::io::Result<()> {
        let mut bhs = [0u8; 48];
        bhs[0] = 0x43;
        bhs[1] = u8::from(transit) << 7 | u8::from(cont) << 6 | (csg & 3) << 2 | (nsg & 3);
        bhs[5..8].copy_from_slice(&(data.len() as u32).to_be_bytes()[1..]);
        bhs[8..14].copy_from_slice(&self.isid.to_be_bytes()[2..]);
        bhs[16..20].copy_from_slice(&1u32.to_be_bytes());
        bhs[24..28].copy_from_slice(&1u32.to_be_bytes());
        bhs[28..32].copy_from_slice(&self.exp_stat_sn.to_be_bytes());
        let mut pdu = bhs.to_vec();
        pdu.extend_from_slice(data);
        pdu.extend(std::iter::repeat_n(0u8, pad4(data.len())));
        self.sock.write_all(&pdu)
    }

    /// Reads the next PDU, which must be a Login Response.
    pub fn recv(&mut self) -> std::io::Result<LoginReply> {
        let mut bhs = [0u8; 48];
        self.sock.read_exact(&mut bhs)?;
        let ahs = usize::from(bhs[4]) * 4;
        let dlen = u32::from_be_bytes([0, bhs[5], bhs[6], bhs[7]]) as usize;
        let mut rest = vec![0u8; ahs + dlen + pad4(dlen)];
        self.sock.read_exact(&mut rest)?;
        if bhs[0] & 0x3F != 0x23 {
            return Err(std::io::Error::other(format!(
                "expected a login response, got opcode {:#x}",
                bhs[0]
            )));
        }
        let stat_sn = u32::from_be_bytes([bhs[24], bhs[25], bhs[26], bhs[27]]);
        self.exp_stat_sn = stat_sn.wrapping_add(1);
        Ok(LoginReply {
            status: (bhs[36], bhs[37]),
            transit: bhs[1] & 0x80 != 0,
            cont: bhs[1] & 0x40 != 0,
            nsg: bhs[1] & 3,
            tsih: u16::from_be_bytes([bhs[14], bhs[15]]),
            data: rest[ahs..ahs + dlen].to_vec(),
        })
    }

    /// [`LoginConn::send`], then [`LoginConn::recv`].
    pub fn request(
        &mut self,
        stages: (u8, u8),
        transit: bool,
        cont: bool,
        data: &[u8],
    ) -> std::io::Result<LoginReply> {
        self.send(stages, transit, cont, data)?;
        self.recv()
    }

    /// Whether the target has closed the connection (end of stream or reset, after any
    /// bytes it still sent).
    pub fn closed(&mut self) -> bool {
        let mut buf = [0u8; 4096];
        loop {
            match self.sock.read(&mut buf) {
                Ok(0) => return true,
                Ok(_) => continue,
                Err(e) => {
                    return e.kind() != std::io::ErrorKind::WouldBlock
                        && e.kind() != std::io::ErrorKind::TimedOut
                }
            }
        }
    }

    /// The session, once a Login Response has moved it to full feature phase.
    pub fn into_initiator(self) -> Initiator {
        Initiator {
            sock: self.sock,
            cmd_sn: 1,
            exp_stat_sn: self.exp_stat_sn,
            itt: 1,
        }
    }
}
