//! The connection's writer task: stamps StatSN/ExpCmdSN/MaxCmdSN into each outgoing PDU
//! at the moment it is sent (so StatSN is strictly in send order), frames it with the
//! negotiated digests and writes batches to the socket.

use std::sync::Arc;

use bytes::Bytes;
use tokio::io::{AsyncWrite, AsyncWriteExt};
use tokio::sync::mpsc;

use crate::codec::{self, Framing};
use crate::metrics::Metrics;
use crate::pdu::{Pdu, SeqNums, NO_TAG};
use crate::server::Shared;
use crate::session::Session;

/// What the writer is asked to do.
#[derive(Debug)]
pub enum Out {
    Pdu(Box<Pdu>, Bytes),
    /// Flush and close the connection's sending side.
    Close,
}

impl Out {
    pub fn pdu(p: Pdu, data: Bytes) -> Self {
        Out::Pdu(Box::new(p), data)
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

/// Runs until the channel closes or [`Out::Close`] arrives.
pub async fn run<W: AsyncWrite + Unpin>(
    mut w: W,
    mut rx: mpsc::Receiver<Out>,
    framing: Framing,
    mut stat_sn: u32,
    session: Arc<Session>,
    shared: Arc<Shared>,
) {
    let mut buf: Vec<u8> = Vec::with_capacity(256 * 1024);
    let mut closing = false;
    while let Some(first) = rx.recv().await {
        let mut next = Some(first);
        while let Some(out) = next.take() {
            match out {
                Out::Close => {
                    closing = true;
                    break;
                }
                Out::Pdu(mut pdu, data) => {
                    let (exp, max) = {
                        let mut win = session.window.lock();
                        let in_flight = session.tasks.lock().len() as u32;
                        let max = win.advertise(in_flight);
                        (win.exp_cmd_sn, max)
                    };
                    if stamp(&mut pdu, stat_sn, exp, max) {
                        stat_sn = stat_sn.wrapping_add(1);
                    }
                    codec::encode_into(&pdu, &data, &framing, &mut buf);
                    Metrics::inc(&shared.metrics.pdus_out);
                }
            }
            if buf.len() < 256 * 1024 {
                next = rx.try_recv().ok();
            }
        }
        if !buf.is_empty() {
            Metrics::add(&shared.metrics.bytes_out, buf.len());
            if w.write_all(&buf).await.is_err() {
                break;
            }
            buf.clear();
        }
        if closing {
            break;
        }
    }
    let _ = w.flush().await;
    let _ = w.shutdown().await;
}
