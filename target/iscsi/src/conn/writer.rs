//! The connection's writer task: stamps StatSN/ExpCmdSN/MaxCmdSN into each outgoing PDU
//! at the moment it is sent (so StatSN is strictly in send order), frames it with the
//! negotiated digests and writes batches to the socket.
//!
//! Each connection's writer runs on a thread of its own ([`spawn`]), like LIO's per-
//! connection transmit thread: sending (the kernel's copy into the socket, and on loopback
//! the receiver's TCP processing) then runs beside the reader, which parses commands and
//! serves cached reads, instead of taking turns with it on one runtime worker.

use std::sync::Arc;

use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::codec::{Framing, OutBuf};
use crate::metrics::Metrics;
use crate::payload::Payload;
use crate::pdu::{Pdu, SeqNums, NO_TAG};
use crate::server::Shared;
use crate::session::Session;

/// The writer stops taking more PDUs into one `writev` past this many bytes.
const BATCH_BYTES: usize = 512 * 1024;

/// What the writer is asked to do.
#[derive(Debug)]
pub enum Out {
    Pdu(Box<Pdu>, Payload),
    /// PDUs to send in this order (what the reader held back while it had more to read).
    Batch(Vec<(Pdu, Payload)>),
    /// Flush and close the connection's sending side.
    Close,
}

impl Out {
    pub fn pdu(p: Pdu, data: impl Into<Payload>) -> Self {
        Out::Pdu(Box::new(p), data.into())
    }
}

/// Fills the sequence numbers of a target PDU; returns whether it consumed a StatSN.
pub fn stamp(pdu: &mut Pdu, stat_sn: u32, exp: u32, max: u32) -> bool {
    let sn = |_advance: bool| SeqNums {
        stat_sn,
        exp_cmd_sn: exp,
        max_cmd_sn: max,
    };
    match pdu {
        Pdu::ScsiResponse(p) => {
            p.sn = sn(true);
            true
        }
        Pdu::TmfResponse(p) => {
            p.sn = sn(true);
            true
        }
        Pdu::LogoutResponse(p) => {
            p.sn = sn(true);
            true
        }
        Pdu::TextResponse(p) => {
            p.sn = sn(true);
            true
        }
        Pdu::Reject(p) => {
            p.sn = sn(true);
            true
        }
        Pdu::AsyncMessage(p) => {
            p.sn = sn(true);
            true
        }
        Pdu::NopIn(p) => {
            p.sn = sn(true);
            p.itt != NO_TAG
        }
        Pdu::R2t(p) => {
            p.sn = sn(false);
            false
        }
        Pdu::DataIn(p) => {
            let s = p.status.is_some();
            p.sn = SeqNums {
                stat_sn: if s { stat_sn } else { 0 },
                exp_cmd_sn: exp,
                max_cmd_sn: max,
            };
            s
        }
        _ => false,
    }
}

/// Runs `writer` (a [`run`] future) on a thread of its own; the returned receiver
/// completes when it has ended. If no thread can be had, the writer is dropped (logged):
/// the connection then ends as if its socket had failed.
pub fn spawn<F>(writer: F) -> tokio::sync::oneshot::Receiver<()>
where
    F: std::future::Future<Output = ()> + Send + 'static,
{
    let (done, ended) = tokio::sync::oneshot::channel();
    let started = std::thread::Builder::new()
        .name("vsa-iscsi-tx".into())
        .spawn(move || {
            // The socket stays registered with the server's runtime, which wakes this one.
            match tokio::runtime::Builder::new_current_thread().build() {
                Ok(rt) => rt.block_on(writer),
                Err(e) => tracing::error!("cannot start a connection's writer: {e}"),
            }
            let _ = done.send(());
        });
    if let Err(e) = started {
        tracing::error!("cannot start a connection's writer thread: {e}");
    }
    ended
}

/// Runs until the channel closes or [`Out::Close`] arrives.
pub async fn run<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::Receiver<Out>,
    framing: Framing,
    mut stat_sn: u32,
    session: Arc<Session>,
    shared: Arc<Shared>,
) {
    let mut buf = OutBuf::default();
    let mut closing = false;
    // Stamps and encodes one PDU into `buf`.
    let mut put = |mut pdu: Pdu, data: &Payload, buf: &mut OutBuf| {
        let (exp, max) = {
            let mut win = session.window.lock();
            let in_flight = session.tasks.lock().len() as u32;
            let max = win.advertise(in_flight);
            (win.exp_cmd_sn, max)
        };
        if stamp(&mut pdu, stat_sn, exp, max) {
            stat_sn = stat_sn.wrapping_add(1);
        }
        buf.push(&pdu, data, &framing);
        Metrics::inc(&shared.metrics.pdus_out);
    };
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(out) = next.take() {
            match out {
                Out::Close => {
                    closing = true;
                    break;
                }
                Out::Pdu(pdu, data) => put(*pdu, &data, &mut buf),
                Out::Batch(pdus) => {
                    for (pdu, data) in pdus {
                        put(pdu, &data, &mut buf);
                    }
                }
            }
            if buf.len() < BATCH_BYTES {
                next = rx.try_recv().ok();
            }
        }
        if !buf.is_empty() {
            Metrics::add(&shared.metrics.bytes_out, buf.len());
            if buf.write_to(&mut w).await.is_err() {
                break;
            }
        }
        if closing {
            break;
        }
    }
    let _ = w.flush().await;
    let _ = w.shutdown().await;
}
