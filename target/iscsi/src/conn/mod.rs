//! Full feature phase of one connection (RFC 7143 4, 11): the reader loop that takes PDUs
//! in order, checks CmdSN, and dispatches them; commands run on spawned tasks so reading
//! continues while they execute.
//!
//! - [`command`]: SCSI Command, immediate/unsolicited data, R2T and Data-Out, execution,
//!   Data-In and SCSI Response with residuals.
//! - [`tmf`]: task management.
//! - [`writer`]: the thread that stamps sequence numbers and writes PDUs.
//!
//! Protocol errors that ErrorRecoveryLevel 0 cannot recover (bad DataSN, bad digests in
//! headers, oversized segments) drop the connection, which ends the session.

pub mod command;
pub mod tmf;
pub mod writer;

#[cfg(test)]
mod tests;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::{Duration, Instant};

use bytes::Bytes;
use tokio::net::TcpStream;
use tokio::sync::{watch, OwnedSemaphorePermit};

use crate::codec::FrameReader;
use crate::error::CodecError;
use crate::metrics::Metrics;
use crate::payload::Payload;
use crate::pdu::{
    AsyncMessage, Bhs, LogoutReason, LogoutRequest, LogoutResponse, NopIn, NopOut, Pdu, RawPdu,
    Reject, RejectReason, TextRequest, TextResponse, NO_TAG,
};
use crate::server::Shared;
use crate::session::Session;
use crate::{discovery, login, text};
use command::WriteTask;
use writer::Out;

/// The reader passes held answers on once they carry this many bytes of data.
const HOLD_BYTES: usize = 256 * 1024;

/// Why a connection ends.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConnError {
    #[error(transparent)]
    Codec(#[from] CodecError),
    #[error("protocol error: {0}")]
    Protocol(&'static str),
    #[error("the writer has gone")]
    WriterGone,
}

/// The reader side of one connection in full feature phase.
#[derive(Debug)]
pub struct Conn {
    pub(crate) session: Arc<Session>,
    pub(crate) shared: Arc<Shared>,
    pub(crate) tx: writer::Sender,
    /// Answers of commands served on the reader, held until it has read all it has
    /// (or [`HOLD_BYTES`] are held), then passed to the writer in one go: one wakeup and
    /// one `writev` for a burst of commands instead of one per command.
    held: parking_lot::Mutex<(Vec<(Pdu, Payload)>, usize)>,
    pub(crate) pending: HashMap<u32, WriteTask>,
    pub(crate) local: Option<SocketAddr>,
    cid: u16,
    /// Outstanding target NOP-In ping: its TTT and when it was sent.
    ping: Option<(u32, Instant)>,
    last_rx: Instant,
    /// Text response continuations by TTT.
    text_rest: HashMap<u32, Vec<u8>>,
}

enum Flow {
    Continue,
    /// Logged out or asked to close: stop reading, flush the writer.
    Stop,
}

/// Serves one TCP connection from login to close; `login_slot` is its place among the
/// connections in the login phase, given back when the login ends.
pub async fn run(
    stream: TcpStream,
    peer: SocketAddr,
    local: Option<SocketAddr>,
    shared: Arc<Shared>,
    mut shutdown: watch::Receiver<bool>,
    login_slot: OwnedSemaphorePermit,
) {
    let (rd, mut wr) = stream.into_split();
    let mut reader = FrameReader::new(rd);
    Metrics::inc(&shared.metrics.login_connections);
    let done = login::run(&shared, &mut reader, &mut wr, peer, &mut shutdown).await;
    // The place first, then the count: whoever sees the count fall finds the place free.
    drop(login_slot);
    Metrics::dec(&shared.metrics.login_connections);
    let Some(done) = done else {
        return;
    };
    let session = done.session;
    Metrics::inc(&shared.metrics.sessions_active);
    tracing::info!(
        %peer, initiator = %session.initiator, target = %session.target_name(),
        tsih = session.tsih, "session logged in"
    );
    reader.framing = done.framing;
    let link = Arc::new(writer::Link::new(
        wr,
        done.framing,
        done.stat_sn,
        session.clone(),
        shared.clone(),
    ));
    let (tx, rx) = writer::channel(link.clone(), 512);
    let writer = writer::spawn(writer::run(link, rx));
    let mut conn = Conn {
        session: session.clone(),
        shared: shared.clone(),
        tx,
        held: Default::default(),
        pending: HashMap::new(),
        local,
        cid: done.cid,
        ping: None,
        last_rx: Instant::now(),
        text_rest: HashMap::new(),
    };
    let mut closing = session.closing();
    let result = conn
        .read_loop(&mut reader, &mut closing, &mut shutdown)
        .await;
    if let Err(e) = &result {
        tracing::info!(%peer, tsih = session.tsih, "connection dropped: {e}");
    }
    // With the connection the session (MaxConnections=1, ErrorRecoveryLevel 0) and its
    // I_T nexus are gone: release the nexus before commands wind down, so that the
    // initiator's next command on another session no longer meets this one's RESERVE(6).
    session.release_nexus();
    // Abort whatever is left and wait for running commands, then close the writer.
    let _ = conn.pass_held(false).await;
    conn.pending.clear();
    let graceful = result.is_ok();
    conn.finish_tasks(!graceful).await;
    let _ = conn.tx.send(Out::Close).await;
    drop(conn);
    let _ = writer.await;
    shared.sessions.remove(session.tsih);
    Metrics::dec(&shared.metrics.sessions_active);
    session.set_done();
    tracing::info!(%peer, tsih = session.tsih, "session closed");
}

impl Conn {
    async fn read_loop<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        reader: &mut FrameReader<R>,
        closing: &mut watch::Receiver<bool>,
        shutdown: &mut watch::Receiver<bool>,
    ) -> Result<(), ConnError> {
        let cfg = &self.shared.config;
        let (interval, timeout, grace) = (cfg.nop_interval, cfg.nop_timeout, cfg.logout_grace);
        let mut logout = self.session.logout_requested();
        // Set once the target has asked the initiator to log out: the close deadline.
        let mut asked: Option<Instant> = None;
        let mut stop = false;
        loop {
            if *closing.borrow() {
                return Ok(());
            }
            stop |= *shutdown.borrow() || *logout.borrow();
            if stop && asked.is_none() {
                if grace.is_zero() {
                    return Ok(());
                }
                asked = Some(Instant::now() + grace);
                self.request_logout(grace).await?;
            }
            if !reader.has_frame() {
                // About to wait for the initiator: what is held goes out now, written
                // here if the writer thread is idle (no wake-up of it).
                self.pass_held(true).await?;
            }
            let mut deadline = match self.ping {
                Some((_, sent)) => sent + timeout,
                None => self.last_rx + interval,
            };
            if let Some(a) = asked {
                deadline = deadline.min(a);
            }
            let raw = tokio::select! {
                r = reader.read() => r,
                _ = tokio::time::sleep_until(deadline.into()) => {
                    if asked.is_some_and(|a| Instant::now() >= a) {
                        return Ok(());
                    }
                    if self.ping.is_some() {
                        Metrics::inc(&self.shared.metrics.nop_timeouts);
                        return Err(ConnError::Protocol("the initiator did not answer a NOP-In"));
                    }
                    self.send_ping().await?;
                    continue;
                }
                _ = closing.changed() => return Ok(()),
                r = shutdown.changed(), if asked.is_none() => {
                    stop |= r.is_err();
                    continue;
                }
                r = logout.changed(), if asked.is_none() => {
                    stop |= r.is_err();
                    continue;
                }
            };
            let raw = match raw {
                Ok(Some(raw)) => raw,
                Ok(None) => return Ok(()),
                Err(CodecError::DataDigest(raw)) => {
                    Metrics::inc(&self.shared.metrics.digest_errors);
                    // The header is sound: reject the PDU; a lost Data-Out then fails
                    // the command (no recovery at ERL 0).
                    self.reject(&raw.bhs, RejectReason::DataDigestError).await?;
                    if raw.bhs.opcode_byte() == 0x05 {
                        return Err(ConnError::Protocol("data digest error in Data-Out"));
                    }
                    continue;
                }
                Err(e) => {
                    if matches!(e, CodecError::HeaderDigest) {
                        Metrics::inc(&self.shared.metrics.digest_errors);
                    } else {
                        Metrics::inc(&self.shared.metrics.protocol_errors);
                    }
                    return Err(e.into());
                }
            };
            self.last_rx = Instant::now();
            Metrics::inc(&self.shared.metrics.pdus_in);
            Metrics::add(
                &self.shared.metrics.bytes_in,
                48 + raw.ahs.len() + raw.data.len(),
            );
            match self.dispatch(raw).await {
                Ok(Flow::Continue) => {}
                Ok(Flow::Stop) => return Ok(()),
                Err(e) => {
                    Metrics::inc(&self.shared.metrics.protocol_errors);
                    return Err(e);
                }
            }
        }
    }

    async fn dispatch(&mut self, raw: RawPdu) -> Result<Flow, ConnError> {
        let pdu = match Pdu::parse(&raw) {
            Ok(p) => p,
            Err(crate::PduError::UnknownOpcode(_)) => {
                self.reject(&raw.bhs, RejectReason::CommandNotSupported)
                    .await?;
                return Ok(Flow::Continue);
            }
            Err(_) => {
                self.reject(&raw.bhs, RejectReason::InvalidPduField).await?;
                return Ok(Flow::Continue);
            }
        };
        let discovery = self.session.is_discovery();
        match pdu {
            Pdu::NopOut(n) => self.on_nop_out(n, raw.data).await?,
            Pdu::TextRequest(t) => self.on_text(t, &raw).await?,
            Pdu::LogoutRequest(l) => return self.on_logout(l).await,
            Pdu::ScsiCommand(c) if !discovery => self.on_command(c, raw.data, &raw.bhs).await?,
            Pdu::DataOut(d) if !discovery => self.on_data_out(d, raw.data).await?,
            Pdu::TmfRequest(t) if !discovery => self.on_tmf(t).await?,
            Pdu::Snack(_) => self.reject(&raw.bhs, RejectReason::SnackReject).await?,
            // Login in full feature phase, target-only opcodes, and data-path PDUs in a
            // discovery session.
            _ => self.reject(&raw.bhs, RejectReason::ProtocolError).await?,
        }
        Ok(Flow::Continue)
    }

    /// Sends a PDU through the writer, after whatever is held.
    pub(crate) async fn send(&self, pdu: Pdu, data: impl Into<Payload>) -> Result<(), ConnError> {
        self.pass_held(false).await?;
        self.tx
            .send(Out::pdu(pdu, data))
            .await
            .map_err(|_| ConnError::WriterGone)
    }

    /// Holds the answer of a command served on the reader (see [`Conn::held`]).
    pub(crate) async fn hold(&self, pdus: Vec<(Pdu, Payload)>) -> Result<(), ConnError> {
        let full = {
            let mut held = self.held.lock();
            held.1 += pdus.iter().map(|(_, d)| d.len()).sum::<usize>();
            held.0.extend(pdus);
            held.1 >= HOLD_BYTES
        };
        if full {
            // The reader has more to do: the writer thread sends these meanwhile.
            self.pass_held(false).await?;
        }
        Ok(())
    }

    /// Passes the held answers to the writer thread, or with `now` writes them on this
    /// thread if the writer is idle.
    async fn pass_held(&self, now: bool) -> Result<(), ConnError> {
        let pdus = std::mem::take(&mut *self.held.lock()).0;
        if pdus.is_empty() {
            return Ok(());
        }
        let sent = if now {
            self.tx.send_now(pdus).await
        } else {
            self.tx.send(Out::Batch(pdus)).await
        };
        sent.map_err(|_| ConnError::WriterGone)
    }

    pub(crate) async fn reject(&self, bhs: &Bhs, reason: RejectReason) -> Result<(), ConnError> {
        Metrics::inc(&self.shared.metrics.rejects);
        let r = Reject {
            reason: reason as u8,
            ..Default::default()
        };
        self.send(Pdu::Reject(r), Bytes::copy_from_slice(&bhs.0))
            .await
    }

    /// CmdSN acceptance: an immediate PDU is taken as is; a non-immediate one must carry
    /// ExpCmdSN (one connection delivers in order) and advances it. Anything else lies
    /// outside the window and is silently ignored (RFC 7143 4.2.2.1).
    pub(crate) fn accept_cmd_sn(&self, immediate: bool, cmd_sn: u32) -> bool {
        if immediate {
            return true;
        }
        let mut w = self.session.window.lock();
        if cmd_sn != w.exp_cmd_sn {
            tracing::debug!(
                cmd_sn,
                exp = w.exp_cmd_sn,
                "CmdSN outside the window; ignored"
            );
            return false;
        }
        w.exp_cmd_sn = w.exp_cmd_sn.wrapping_add(1);
        true
    }

    /// Asks the initiator to log out within `grace` (Async Message, event 1).
    async fn request_logout(&self, grace: Duration) -> Result<(), ConnError> {
        let secs = grace.as_secs().clamp(1, u64::from(u16::MAX)) as u16;
        let msg = AsyncMessage {
            lun: [0; 8],
            sn: Default::default(),
            event: 1,
            vcode: 0,
            params: [0, 0, secs],
        };
        self.send(Pdu::AsyncMessage(msg), Bytes::new()).await
    }

    async fn send_ping(&mut self) -> Result<(), ConnError> {
        let ttt = self.session.next_ttt();
        self.ping = Some((ttt, Instant::now()));
        let nop = NopIn {
            lun: [0; 8],
            itt: NO_TAG,
            ttt,
            sn: Default::default(),
        };
        self.send(Pdu::NopIn(nop), Bytes::new()).await
    }

    async fn on_nop_out(&mut self, n: NopOut, data: Bytes) -> Result<(), ConnError> {
        if n.itt != NO_TAG && !self.accept_cmd_sn(n.immediate, n.cmd_sn) {
            return Ok(());
        }
        if n.ttt != NO_TAG {
            // The answer to our ping.
            if self.ping.is_some_and(|(t, _)| t == n.ttt) {
                self.ping = None;
            }
            return Ok(());
        }
        if n.itt == NO_TAG {
            return Ok(());
        }
        let nop = NopIn {
            lun: n.lun,
            itt: n.itt,
            ttt: NO_TAG,
            sn: Default::default(),
        };
        let max = self.session.params.initiator_mrdsl as usize;
        let echo = data.slice(..data.len().min(max));
        self.send(Pdu::NopIn(nop), echo).await
    }

    async fn on_text(&mut self, t: TextRequest, raw: &RawPdu) -> Result<(), ConnError> {
        if !self.accept_cmd_sn(t.immediate, t.cmd_sn) {
            return Ok(());
        }
        let body = if t.ttt != NO_TAG {
            // The initiator asks for the rest of a long answer.
            match self.text_rest.remove(&t.ttt) {
                Some(rest) => rest,
                None => return self.reject(&raw.bhs, RejectReason::InvalidPduField).await,
            }
        } else {
            if t.continue_bit {
                return self.reject(&raw.bhs, RejectReason::ProtocolError).await;
            }
            let keys = match text::parse(&raw.data) {
                Ok(k) => k,
                Err(_) => return self.reject(&raw.bhs, RejectReason::ProtocolError).await,
            };
            let mut out = Vec::new();
            for (k, v) in keys {
                if k == "SendTargets" {
                    let portal = self
                        .local
                        .unwrap_or_else(|| SocketAddr::from(([127, 0, 0, 1], 3260)));
                    out.extend(discovery::send_targets(
                        &v,
                        &self.session.initiator,
                        self.session.entry.as_ref().map(|e| e.name.as_str()),
                        self.shared.registry.as_ref(),
                        portal,
                        self.shared.config.tpgt,
                    ));
                } else {
                    // Renegotiation in full feature phase is not supported.
                    out.push((k, "Reject".to_string()));
                }
            }
            text::encode(&out)
        };
        let cut = text::split_point(&body, self.session.params.initiator_mrdsl as usize);
        let (chunk, more) = if cut < body.len() {
            (body[..cut].to_vec(), Some(body[cut..].to_vec()))
        } else {
            (body, None)
        };
        let ttt = match more {
            Some(rest) => {
                let ttt = self.session.next_ttt();
                // Only the latest long answer is kept.
                self.text_rest.clear();
                self.text_rest.insert(ttt, rest);
                ttt
            }
            None => NO_TAG,
        };
        let rsp = TextResponse {
            final_bit: ttt == NO_TAG,
            continue_bit: ttt != NO_TAG,
            lun: t.lun,
            itt: t.itt,
            ttt,
            sn: Default::default(),
        };
        self.send(Pdu::TextResponse(rsp), Bytes::from(chunk)).await
    }

    async fn on_logout(&mut self, l: LogoutRequest) -> Result<Flow, ConnError> {
        if !self.accept_cmd_sn(l.immediate, l.cmd_sn) {
            return Ok(Flow::Continue);
        }
        let (response, stop) = match l.reason {
            LogoutReason::CloseSession => (0, true),
            LogoutReason::CloseConnection if l.cid == self.cid => (0, true),
            LogoutReason::CloseConnection => (1, false),
            LogoutReason::RemoveForRecovery => (2, false),
            LogoutReason::Other(_) => (2, false),
        };
        if stop {
            // Outstanding commands complete (and answer) before the logout response.
            self.pending.clear();
            self.finish_tasks(false).await;
            self.session.release_nexus();
        }
        let rsp = LogoutResponse {
            response,
            itt: l.itt,
            sn: Default::default(),
            time2wait: 0,
            time2retain: 0,
        };
        self.send(Pdu::LogoutResponse(rsp), Bytes::new()).await?;
        Ok(if stop { Flow::Stop } else { Flow::Continue })
    }

    /// Waits for this session's commands to finish; with `abort`, they are aborted first
    /// (their responses are dropped).
    pub(crate) async fn finish_tasks(&self, abort: bool) {
        // Tasks still collecting data never run now; running ones are aborted only when
        // asked.
        let aborted = self
            .session
            .abort_tasks(|_, t| abort || t.done_tx.is_some());
        // Units with commands that wait on long work (SANITIZE) let those commands go.
        if abort && !aborted.is_empty() {
            if let Some(e) = &self.session.entry {
                e.scsi.aborting(None, &self.session.nexus);
            }
        }
        let waits: Vec<_> = self
            .session
            .tasks
            .lock()
            .values()
            .map(|t| t.done.clone())
            .collect();
        for mut d in waits {
            let _ = tokio::time::timeout(Duration::from_secs(30), d.wait_for(|x| *x)).await;
        }
    }
}
