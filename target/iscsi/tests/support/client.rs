//! A minimal raw iSCSI initiator over the crate's own codec, for wire-level tests.

#![allow(clippy::unwrap_used, clippy::expect_used)]
#![allow(dead_code)]

use std::net::SocketAddr;
use std::time::Duration;

use bytes::Bytes;
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use vsa_iscsi::codec::{self, FrameReader, Framing};
use vsa_iscsi::pdu::*;
use vsa_iscsi::text;

pub struct Client {
    pub rd: FrameReader<OwnedReadHalf>,
    pub wr: OwnedWriteHalf,
    pub out: Framing,
    pub cmd_sn: u32,
    pub itt: u32,
}

impl Client {
    pub async fn connect(addr: SocketAddr) -> Self {
        let s = TcpStream::connect(addr).await.unwrap();
        let (r, w) = s.into_split();
        Self {
            rd: FrameReader::new(r),
            wr: w,
            out: Framing::default(),
            cmd_sn: 1,
            itt: 1,
        }
    }

    pub async fn send(&mut self, pdu: &Pdu, data: &[u8]) {
        let b = codec::encode(pdu, data, &self.out);
        self.wr.write_all(&b).await.unwrap();
    }

    pub async fn send_raw(&mut self, bytes: &[u8]) -> std::io::Result<()> {
        self.wr.write_all(bytes).await
    }

    /// The next PDU, or `None` when the target closed the connection.
    pub async fn recv(&mut self) -> Option<(Pdu, Bytes)> {
        // Generous: tests run in parallel on loaded machines.
        match tokio::time::timeout(Duration::from_secs(60), self.rd.read()).await {
            Ok(Ok(Some(raw))) => Some((Pdu::parse(&raw).unwrap(), raw.data)),
            Ok(_) => None,
            Err(_) => panic!("no PDU within 60 s"),
        }
    }

    /// One login request/response exchange.
    pub async fn login_step(
        &mut self,
        isid: u64,
        csg: Stage,
        nsg: Stage,
        keys: &[(&str, &str)],
    ) -> (LoginResponse, Vec<(String, String)>) {
        let req = LoginRequest {
            transit: true,
            csg,
            nsg,
            isid,
            itt: self.itt,
            cmd_sn: self.cmd_sn,
            ..Default::default()
        };
        self.send(&Pdu::LoginRequest(req), &text::encode(keys))
            .await;
        let (p, d) = self.recv().await.expect("login response");
        let Pdu::LoginResponse(r) = p else {
            panic!("not a login response: {p:?}")
        };
        (r, text::parse(&d).unwrap())
    }

    /// A Login Request of this client's (ITT, CmdSN) in stage `csg`.
    pub fn login_req(&self, isid: u64, csg: Stage, nsg: Stage, transit: bool) -> LoginRequest {
        LoginRequest {
            transit,
            csg,
            nsg,
            isid,
            itt: self.itt,
            cmd_sn: self.cmd_sn,
            ..Default::default()
        }
    }

    /// Sends one Login Request with `data` as it is; returns the Login Response and its
    /// data, or `None` if the target closed the connection (before or after the request).
    pub async fn login_raw(
        &mut self,
        req: LoginRequest,
        data: &[u8],
    ) -> Option<(LoginResponse, Bytes)> {
        let bytes = codec::encode(&Pdu::LoginRequest(req), data, &self.out);
        self.send_raw(&bytes).await.ok()?;
        let (p, d) = self.recv().await?;
        let Pdu::LoginResponse(r) = p else {
            panic!("not a login response: {p:?}")
        };
        Some((r, d))
    }

    /// Logs in without authentication, straight to full feature phase, with `ops`
    /// operational keys; switches digests on if negotiated.
    pub async fn login(
        &mut self,
        isid: u64,
        initiator: &str,
        target: &str,
        ops: &[(&str, &str)],
    ) -> LoginResponse {
        let mut keys = vec![
            ("InitiatorName", initiator),
            ("TargetName", target),
            ("SessionType", "Normal"),
        ];
        keys.extend_from_slice(ops);
        let (r, back) = self
            .login_step(isid, Stage::Operational, Stage::FullFeature, &keys)
            .await;
        let on = |k: &str| back.iter().any(|(n, v)| n == k && v == "CRC32C");
        if r.status_class == 0 {
            self.out.header_digest = on("HeaderDigest");
            self.out.data_digest = on("DataDigest");
            self.rd.framing = Framing {
                max_recv_data: 1 << 24,
                ..self.out
            };
        }
        r
    }

    pub fn next_itt(&mut self) -> u32 {
        self.itt += 1;
        self.itt
    }

    /// Sends a SCSI command; `data` goes as immediate data.
    pub async fn command(
        &mut self,
        cdb: &[u8],
        read: bool,
        write: bool,
        expected: u32,
        data: &[u8],
    ) -> u32 {
        let itt = self.next_itt();
        let c = ScsiCommand {
            final_bit: true,
            read,
            write,
            attr: 1,
            itt,
            expected_len: expected,
            cmd_sn: self.cmd_sn,
            cdb: cdb.to_vec(),
            ..Default::default()
        };
        self.cmd_sn += 1;
        self.send(&Pdu::ScsiCommand(c), data).await;
        itt
    }
}
