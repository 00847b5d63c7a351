//! SCSI commands over the connection (RFC 7143 4.2, 11.3–11.8): immediate and
//! unsolicited data (InitialR2T, ImmediateData, FirstBurstLength), R2T and Data-Out
//! sequencing (DataSN, buffer offsets, MaxBurstLength), execution on the blocking pool,
//! and the answer as Data-In PDUs (split by the initiator's MaxRecvDataSegmentLength and
//! MaxBurstLength, status in the last one when there is no sense) and/or a SCSI Response
//! with sense and residuals.

use std::sync::atomic::{AtomicBool, Ordering::Relaxed};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use vsa_scsi::target::lun_from_wire;
use vsa_scsi::{Command, Response, Sense, SenseKey, Status, TaskAttr};

use super::writer::Sender;
use super::{Conn, ConnError};
use crate::codec;
use crate::metrics::Metrics;
use crate::params::SessionParams;
use crate::payload::Payload;
use crate::pdu::{Bhs, DataIn, DataOut, Pdu, R2t, RejectReason, ScsiCommand, ScsiResponse, NO_TAG};

/// A write command still collecting its data-out.
#[derive(Debug)]
pub struct WriteTask {
    cmd: ScsiCommand,
    aborted: Arc<AtomicBool>,
    buf: BytesMut,
    /// End of the current sequence (unsolicited or R2T burst).
    seq_end: u32,
    /// TTT of the R2T being answered, `NO_TAG` during unsolicited data.
    ttt: u32,
    exp_data_sn: u32,
    next_r2t_sn: u32,
}

impl WriteTask {
    /// The LUN field of the command.
    pub fn lun(&self) -> [u8; 8] {
        self.cmd.lun
    }
}

/// Maps the task attribute bits of a SCSI Command.
/// DATA PHASE ERROR (SPC-4): Data-Out out of sequence (DataSN, TTT, F bit).
const DATA_PHASE_ERROR: (u8, u8) = (0x4B, 0x00);
/// DATA OFFSET ERROR (RFC 7143 11.4.7.2): Data-Out at the wrong buffer offset.
const DATA_OFFSET_ERROR: (u8, u8) = (0x4B, 0x05);

pub fn task_attr(bits: u8) -> TaskAttr {
    match bits {
        2 => TaskAttr::Ordered,
        3 => TaskAttr::HeadOfQueue,
        4 => TaskAttr::Aca,
        _ => TaskAttr::Simple,
    }
}

impl Conn {
    pub(super) async fn on_command(
        &mut self,
        cmd: ScsiCommand,
        data: Bytes,
        bhs: &Bhs,
    ) -> Result<(), ConnError> {
        if !self.accept_cmd_sn(cmd.immediate, cmd.cmd_sn) {
            return Ok(());
        }
        if let Some(&op) = cmd.cdb.first() {
            Metrics::inc(&self.shared.metrics.commands[usize::from(op)]);
        }
        if self
            .pending
            .get(&cmd.itt)
            .is_some_and(|p| p.aborted.load(Relaxed))
        {
            // Aborted (by another session) while collecting data: the tag is free again.
            self.pending.remove(&cmd.itt);
        }
        let running = self
            .session
            .tasks
            .lock()
            .get(&cmd.itt)
            .is_some_and(|t| !t.answered);
        if self.pending.contains_key(&cmd.itt) || running {
            return self.reject(bhs, RejectReason::TaskInProgress).await;
        }
        let p = &self.session.params;
        let total = cmd.expected_len;
        let bad_immediate = !data.is_empty()
            && (!cmd.write
                || !p.immediate_data
                || data.len() as u64 > u64::from(p.first_burst_length).min(u64::from(total)));
        if bad_immediate {
            return self.reject(bhs, RejectReason::ProtocolError).await;
        }
        if !cmd.write || data.len() as u32 == total {
            self.session.register_task(cmd.itt, cmd.cmd_sn, cmd.lun);
            self.execute(cmd, data).await;
            return Ok(());
        }
        if total > self.shared.config.max_command_data {
            // Too big to buffer: fail the command without soliciting its data.
            let sense = Sense::invalid_field_in_cdb(0, None);
            let resp = Response::check(&sense, false);
            let pdus = response_pdus(&cmd, resp, 0, p);
            for (pdu, d) in pdus {
                self.send(pdu, d).await?;
            }
            return Ok(());
        }
        let received = data.len() as u32;
        // Grow with the data instead of trusting the announced length up front.
        let mut buf = BytesMut::with_capacity(total.min(p.first_burst_length) as usize);
        buf.extend_from_slice(&data);
        // Unsolicited Data-Out follows when InitialR2T=No and the F bit is clear, up to
        // FirstBurstLength in all (immediate data included).
        let unsolicited =
            !p.initial_r2t && !cmd.final_bit && received < p.first_burst_length.min(total);
        let seq_end = if unsolicited {
            p.first_burst_length.min(total)
        } else {
            received
        };
        let aborted = self.session.register_task(cmd.itt, cmd.cmd_sn, cmd.lun);
        let mut task = WriteTask {
            cmd,
            aborted,
            buf,
            seq_end,
            ttt: NO_TAG,
            exp_data_sn: 0,
            next_r2t_sn: 0,
        };
        if !unsolicited {
            self.send_r2t(&mut task).await?;
        }
        self.pending.insert(task.cmd.itt, task);
        Ok(())
    }

    async fn send_r2t(&self, t: &mut WriteTask) -> Result<(), ConnError> {
        let received = t.buf.len() as u32;
        let len = (t.cmd.expected_len - received).min(self.session.params.max_burst_length);
        t.ttt = self.session.next_ttt();
        t.seq_end = received + len;
        // Room for the burst asked for, at once: growing as its PDUs come would copy what
        // was received again at every doubling (64 KiB, then 128 KiB of a 256 KiB write).
        // What is reserved is what this target solicits, at most MaxBurstLength.
        t.buf.reserve(len as usize);
        t.exp_data_sn = 0;
        let r2t = R2t {
            lun: t.cmd.lun,
            itt: t.cmd.itt,
            ttt: t.ttt,
            sn: Default::default(),
            r2t_sn: t.next_r2t_sn,
            buffer_offset: received,
            desired_len: len,
        };
        t.next_r2t_sn += 1;
        self.send(Pdu::R2t(r2t), Bytes::new()).await
    }

    pub(super) async fn on_data_out(&mut self, d: DataOut, data: Bytes) -> Result<(), ConnError> {
        let Some(mut t) = self.pending.remove(&d.itt) else {
            // Data for an aborted or unknown task is discarded.
            return Ok(());
        };
        if t.aborted.load(Relaxed) {
            return Ok(());
        }
        // A Data-Out out of sequence ends its task, not the connection: at
        // ErrorRecoveryLevel 0 the data cannot be asked for again, so the command fails
        // with ABORTED COMMAND and the task's later Data-Out PDUs are discarded (its tag
        // is unknown from now on). Other tasks and the session go on.
        if d.ttt != t.ttt || d.data_sn != t.exp_data_sn {
            return self.terminate(t, DATA_PHASE_ERROR).await;
        }
        let received = t.buf.len() as u32;
        if d.buffer_offset != received || received as u64 + data.len() as u64 > u64::from(t.seq_end)
        {
            return self.terminate(t, DATA_OFFSET_ERROR).await;
        }
        t.buf.extend_from_slice(&data);
        t.exp_data_sn = t.exp_data_sn.wrapping_add(1);
        let received = t.buf.len() as u32;
        let seq_done = received == t.seq_end;
        if d.final_bit != seq_done {
            return self.terminate(t, DATA_PHASE_ERROR).await;
        }
        if !seq_done {
            self.pending.insert(d.itt, t);
            return Ok(());
        }
        if received == t.cmd.expected_len {
            let data = t.buf.freeze();
            self.execute(t.cmd, data).await;
            return Ok(());
        }
        self.send_r2t(&mut t).await?;
        self.pending.insert(d.itt, t);
        Ok(())
    }

    /// Ends a write task whose data went wrong: CHECK CONDITION, ABORTED COMMAND with
    /// `asc`, without executing it, and frees its tag.
    async fn terminate(&mut self, t: WriteTask, asc: (u8, u8)) -> Result<(), ConnError> {
        tracing::debug!(
            itt = t.cmd.itt,
            "Data-Out out of sequence; the command ends with ABORTED COMMAND"
        );
        let received = t.buf.len() as u32;
        let sense = Sense::new(SenseKey::AbortedCommand, asc.0, asc.1);
        let pdus = response_pdus(
            &t.cmd,
            Response::check(&sense, false),
            received,
            &self.session.params,
        );
        if let Some(mut task) = self.session.tasks.lock().remove(&t.cmd.itt) {
            if let Some(tx) = task.done_tx.take() {
                tx.send_replace(true);
            }
        }
        for (pdu, d) in pdus {
            self.send(pdu, d).await?;
        }
        Ok(())
    }

    /// Runs a registered command with all its data: here and now if it may start at once
    /// and the unit can serve it without waiting (a READ from the pool's cache), else on
    /// a task of its own that waits for its turn and runs it on the blocking pool. The
    /// answer goes out when done. Commands to a sequential unit (a tape drive) keep to
    /// their LUN's lane: one at a time, in CmdSN order (see [`crate::sched`]).
    pub(super) async fn execute(&mut self, cmd: ScsiCommand, data_out: Bytes) {
        let session = self.session.clone();
        let shared = self.shared.clone();
        let tx = self.tx.clone();
        let ticket = session
            .sched
            .enter(task_attr(cmd.attr), lane(&session, &cmd));
        let taken = session.tasks.lock().get_mut(&cmd.itt).and_then(|t| {
            t.ticket = Some(ticket.id());
            Some((t.aborted.clone(), t.done_tx.take()?))
        });
        let Some((aborted, done_tx)) = taken else {
            // Aborted while its data arrived; dropping the ticket gives its place up.
            return;
        };
        let turn = match session.sched.try_admit(ticket) {
            Ok(slot) => {
                if let Some(resp) = try_inline(&session, &cmd, &data_out) {
                    drop(slot);
                    Metrics::inc(&shared.metrics.inline_commands);
                    // Done before it is sent, as if it had run on a task of its own.
                    finish(&session, cmd.itt, &aborted, done_tx);
                    if !aborted.load(Relaxed) {
                        let pdus = response_pdus(&cmd, resp.0, resp.1, &session.params);
                        // A gone writer ends the connection at the reader's next send.
                        let _ = self.hold(pdus).await;
                    }
                    return;
                }
                // It would wait: it runs on a task of its own, keeping its turn.
                Ok(slot)
            }
            Err(ticket) => Err(ticket),
        };
        if task_attr(cmd.attr) == TaskAttr::Ordered {
            // Its answer may be written from its task before the reader passes on what
            // it holds: the answers of commands before it go first.
            let _ = self.pass_held(false).await;
        }
        let itt = cmd.itt;
        tokio::spawn(async move {
            let slot = match turn {
                Ok(slot) => slot,
                Err(ticket) => session.sched.admit(ticket).await,
            };
            if let Some(t) = session.tasks.lock().get_mut(&itt) {
                t.ticket = None;
            }
            if !aborted.load(Relaxed) {
                let job = Job {
                    session: session.clone(),
                    cmd,
                    data_out,
                    aborted: aborted.clone(),
                    tx,
                };
                run_blocking(&shared, job, slot).await;
            } else {
                drop(slot);
            }
            finish(&session, itt, &aborted, done_tx);
        });
    }
}

/// The lane of a command: its LUN if the unit there must run its commands one at a time
/// in order ([`vsa_scsi::LogicalUnit::sequential`]).
fn lane(session: &crate::session::Session, cmd: &ScsiCommand) -> Option<crate::sched::Lane> {
    let lun = lun_from_wire(cmd.lun)?;
    let entry = session.entry.as_ref()?;
    entry.scsi.sequential(Some(lun)).then_some(lun)
}

/// Marks a task whose answer is about to be sent, unless it was aborted: its ITT is free
/// for the initiator's next command once the answer reaches it, which may be before
/// [`finish`] has run (the answer may be written on this very thread), and an ABORT TASK
/// from now on finds no task to abort (TASK DOES NOT EXIST: its answer is out). Whether
/// to answer and the mark are decided under the lock an abort takes, so a task is never
/// both answered and reported aborted. Returns whether to send the answer.
fn answered(session: &crate::session::Session, itt: u32, aborted: &Arc<AtomicBool>) -> bool {
    let mut tasks = session.tasks.lock();
    if aborted.load(Relaxed) {
        return false;
    }
    if let Some(t) = tasks.get_mut(&itt) {
        if Arc::ptr_eq(&t.aborted, aborted) {
            t.answered = true;
        }
    }
    true
}

/// Removes a finished task from the session (unless its tag was reused since) and tells
/// whoever waits for it.
fn finish(
    session: &crate::session::Session,
    itt: u32,
    aborted: &Arc<AtomicBool>,
    done_tx: tokio::sync::watch::Sender<bool>,
) {
    {
        let mut tasks = session.tasks.lock();
        if tasks
            .get(&itt)
            .is_some_and(|t| Arc::ptr_eq(&t.aborted, aborted))
        {
            tasks.remove(&itt);
        }
    }
    let _ = done_tx.send(true);
}

/// Runs the command on the calling thread if the unit can do it without waiting; `None`
/// otherwise (nothing was done). Returns the response and the data-out bytes received.
fn try_inline(
    session: &crate::session::Session,
    cmd: &ScsiCommand,
    data_out: &Bytes,
) -> Option<(Response, u32)> {
    let entry = session.entry.as_ref()?;
    let c = Command {
        cdb: &cmd.cdb,
        data_out,
        expected_len: cmd.expected_len,
        nexus: &session.nexus,
        attr: task_attr(cmd.attr),
    };
    let resp = entry.scsi.try_execute(lun_from_wire(cmd.lun), &c)?;
    Some((resp, data_out.len() as u32))
}

/// Sends a command's answer from the task that ran it: written on this thread if the
/// writer thread is idle (one wake-up less), else queued for it.
async fn send_all(tx: &Sender, pdus: Vec<(Pdu, Payload)>) {
    let _ = tx.send_now(pdus).await;
}

/// A command to run on the blocking pool, with what its answer needs.
struct Job {
    session: Arc<crate::session::Session>,
    cmd: ScsiCommand,
    data_out: Bytes,
    aborted: Arc<AtomicBool>,
    tx: Sender,
}

impl Job {
    /// The answer's PDUs, the task marked answered; `None` if it was aborted meanwhile.
    fn answer(&self, resp: Response) -> Option<Vec<(Pdu, Payload)>> {
        if !answered(&self.session, self.cmd.itt, &self.aborted) {
            return None;
        }
        let received = self.data_out.len() as u32;
        Some(response_pdus(
            &self.cmd,
            resp,
            received,
            &self.session.params,
        ))
    }

    /// Sends the answer `resp` from a task.
    async fn send(&self, resp: Response) {
        if let Some(pdus) = self.answer(resp) {
            send_all(&self.tx, pdus).await;
        }
    }
}

/// Runs the command on the blocking pool (bounded by the server's semaphore), gives its
/// turn (`slot`) back, and sends its answer from there: written at once when the writer
/// thread is idle, so it leaves without waking this task first.
async fn run_blocking(shared: &Arc<crate::server::Shared>, job: Job, slot: crate::sched::Slot) {
    let Some(entry) = job.session.entry.clone() else {
        drop(slot);
        return job
            .send(Response::check(&Sense::internal_failure(), false))
            .await;
    };
    let Ok(permit) = shared.blocking.clone().acquire_owned().await else {
        drop(slot);
        return job.send(Response::status(Status::Busy)).await;
    };
    let r = tokio::task::spawn_blocking(move || {
        let c = Command {
            cdb: &job.cmd.cdb,
            data_out: &job.data_out,
            expected_len: job.cmd.expected_len,
            nexus: &job.session.nexus,
            attr: task_attr(job.cmd.attr),
        };
        let lun = lun_from_wire(job.cmd.lun);
        // A unit that panics fails the command, not the connection.
        let run = std::panic::AssertUnwindSafe(|| entry.scsi.execute(lun, &c));
        let resp = std::panic::catch_unwind(run).unwrap_or_else(|_| {
            tracing::error!(cdb = ?job.cmd.cdb, "a SCSI command panicked");
            Response::check(&Sense::internal_failure(), false)
        });
        drop(permit);
        if let Some(pdus) = job.answer(resp) {
            // A gone writer ends the connection at the reader's next send.
            let _ = job.tx.send_now_blocking(pdus);
        }
        // Only now, its answer written or queued ahead of theirs, may the commands that
        // wait for this one (ORDERED ones, the next of a sequential unit) run.
        drop(slot);
    })
    .await;
    match r {
        Err(e) if e.is_panic() => {
            tracing::error!("answering a SCSI command panicked: {e}");
        }
        // The runtime is shutting down: the connection goes with it.
        Err(e) => tracing::debug!("a SCSI command was cancelled: {e}"),
        Ok(()) => {}
    }
}

/// Residual of a command: `(overflow, underflow, count)`.
pub fn residual(cmd: &ScsiCommand, resp: &Response, received: u32) -> (bool, bool, u32) {
    let expected = u64::from(cmd.expected_len);
    let actual = if cmd.write {
        u64::from(resp.data_out_len.unwrap_or(received))
    } else {
        resp.data_len() as u64
    };
    if actual > expected {
        (
            true,
            false,
            (actual - expected).min(u64::from(u32::MAX)) as u32,
        )
    } else if actual < expected {
        (false, true, (expected - actual) as u32)
    } else {
        (false, false, 0)
    }
}

/// The PDUs that answer a command: Data-In (for reads), then a SCSI Response unless the
/// status rode in the last Data-In.
pub fn response_pdus(
    cmd: &ScsiCommand,
    resp: Response,
    received: u32,
    p: &SessionParams,
) -> Vec<(Pdu, Payload)> {
    let (overflow, underflow, count) = residual(cmd, &resp, received);
    let (len, mut data) = if cmd.read {
        let len = resp.data_len().min(cmd.expected_len as usize);
        let mut parts = Vec::with_capacity(1 + resp.shared.len());
        parts.push(Bytes::from(resp.data));
        parts.extend(resp.shared);
        let mut data = Payload::from_parts(parts).cutter().take(len);
        if len >= codec::BORROW_MIN {
            // Large data goes out from one buffer, copied here on the reader's thread: the
            // transmit thread, which sends it from where it is, then reads memory that is
            // in one piece and fresh in the cache, and the two threads share the copying
            // (measured at 128 KiB: 10% more throughput than sending the cache's pages as
            // they are, which leaves all of it to the transmit thread). Small data is copied
            // next to its header on the transmit thread anyway: its pages go as they are.
            data = data.to_bytes().into();
        }
        (len, data.cutter())
    } else {
        (0, Payload::default().cutter())
    };
    let collapse = resp.sense.is_none();
    let mut out = Vec::new();
    let seg = (p.initiator_mrdsl as usize).max(512);
    let burst = (p.max_burst_length as usize).max(seg);
    let mut off = 0usize;
    let mut data_sn = 0u32;
    while off < len {
        let burst_end = (off / burst + 1) * burst;
        let end = (off + seg).min(len).min(burst_end);
        let last = end == len;
        let status = (last && collapse).then_some(resp.status as u8);
        let din = DataIn {
            final_bit: last || end == burst_end,
            ack: false,
            overflow: status.is_some() && overflow,
            underflow: status.is_some() && underflow,
            status,
            lun: [0; 8],
            itt: cmd.itt,
            ttt: NO_TAG,
            sn: Default::default(),
            data_sn,
            buffer_offset: off as u32,
            residual: if status.is_some() { count } else { 0 },
        };
        out.push((Pdu::DataIn(din), data.take(end - off)));
        data_sn += 1;
        off = end;
    }
    if out.is_empty() || !collapse {
        let sense = match &resp.sense {
            Some(s) => {
                let mut d = Vec::with_capacity(2 + s.len());
                d.extend_from_slice(&(s.len() as u16).to_be_bytes());
                d.extend_from_slice(s);
                Payload::from(d)
            }
            None => Payload::default(),
        };
        let rsp = ScsiResponse {
            overflow,
            underflow,
            response: 0,
            status: resp.status as u8,
            itt: cmd.itt,
            exp_data_sn: data_sn,
            residual: count,
            ..Default::default()
        };
        out.push((Pdu::ScsiResponse(rsp), sense));
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    fn read_cmd(expected: u32) -> ScsiCommand {
        ScsiCommand {
            read: true,
            final_bit: true,
            itt: 9,
            expected_len: expected,
            cdb: vec![0x28, 0, 0, 0, 0, 0, 0, 0, 1, 0],
            ..Default::default()
        }
    }

    #[test]
    fn read_is_split_with_status_in_last_data_in() {
        let p = SessionParams {
            initiator_mrdsl: 1024,
            max_burst_length: 2048,
            ..Default::default()
        };
        let resp = Response::with_data(vec![7; 4096]);
        let pdus = response_pdus(&read_cmd(4096), resp, 0, &p);
        assert_eq!(pdus.len(), 4);
        for (i, (pdu, d)) in pdus.iter().enumerate() {
            let Pdu::DataIn(din) = pdu else { panic!() };
            assert_eq!(din.data_sn, i as u32);
            assert_eq!(din.buffer_offset, 1024 * i as u32);
            assert_eq!(d.len(), 1024);
            assert_eq!(din.final_bit, i % 2 == 1);
            assert_eq!(din.status.is_some(), i == 3);
        }
    }

    #[test]
    fn residuals() {
        let p = SessionParams::default();
        let resp = Response::with_data(vec![1; 512]);
        let pdus = response_pdus(&read_cmd(10000), resp.clone(), 0, &p);
        let Pdu::DataIn(d) = &pdus[0].0 else { panic!() };
        assert!(d.underflow && d.residual == 10000 - 512);
        let pdus = response_pdus(&read_cmd(200), resp, 0, &p);
        let Pdu::DataIn(d) = &pdus[0].0 else { panic!() };
        assert!(d.overflow && d.residual == 312);
        assert_eq!(pdus[0].1.len(), 200);
        let mut w = read_cmd(0);
        w.read = false;
        w.write = true;
        let mut resp = Response::good();
        resp.data_out_len = Some(512);
        let pdus = response_pdus(&w, resp, 0, &p);
        let Pdu::ScsiResponse(r) = &pdus[0].0 else {
            panic!()
        };
        assert!(r.overflow && r.residual == 512);
    }

    #[test]
    fn sense_goes_in_a_scsi_response() {
        let p = SessionParams::default();
        let resp = Response::check(&Sense::invalid_opcode(), false);
        let pdus = response_pdus(&read_cmd(512), resp, 0, &p);
        assert_eq!(pdus.len(), 1);
        let Pdu::ScsiResponse(r) = &pdus[0].0 else {
            panic!()
        };
        assert_eq!(r.status, 2);
        let sense = pdus[0].1.to_bytes();
        let len = u16::from_be_bytes([sense[0], sense[1]]) as usize;
        assert_eq!(sense.len(), 2 + len);
    }

    #[test]
    fn small_shared_data_is_cut_across_its_parts_and_large_data_gathered() {
        let p = SessionParams {
            initiator_mrdsl: 1024,
            max_burst_length: 1 << 20,
            ..Default::default()
        };
        let pages: Vec<Bytes> = (0..3u8).map(|i| Bytes::from(vec![i; 1500])).collect();
        let whole: Vec<u8> = pages.concat();
        let resp = Response::with_shared(pages.clone());
        // The initiator expects less than the unit has: the rest is cut, and an overflow.
        let pdus = response_pdus(&read_cmd(4000), resp, 0, &p);
        assert_eq!(pdus.len(), 4);
        let mut got = Vec::new();
        for (pdu, d) in &pdus {
            let Pdu::DataIn(din) = pdu else { panic!() };
            assert_eq!(din.buffer_offset as usize, got.len());
            for part in d.parts() {
                let inside = pages.iter().any(|pg| {
                    let r = pg.as_ptr_range();
                    r.contains(&part.as_ptr()) || part.is_empty()
                });
                assert!(inside, "a piece points into the page it came from");
            }
            got.extend_from_slice(&d.to_bytes());
        }
        assert_eq!(got, whole[..4000]);
        let Pdu::DataIn(last) = &pdus[3].0 else {
            panic!()
        };
        assert!(last.overflow && last.residual == 500 && last.status.is_some());
        // Large data is gathered into one buffer first.
        let pages: Vec<Bytes> = (0..3u8).map(|i| Bytes::from(vec![i; 8192])).collect();
        let resp = Response::with_shared(pages.clone());
        let pdus = response_pdus(&read_cmd(3 * 8192), resp, 0, &p);
        assert_eq!(pdus.len(), 24);
        let mut got = Vec::new();
        for (_, d) in &pdus {
            assert_eq!(d.parts().len(), 1);
            let inside = pages
                .iter()
                .any(|pg| pg.as_ptr_range().contains(&d.parts()[0].as_ptr()));
            assert!(!inside, "copied out of the pages");
            got.extend_from_slice(&d.to_bytes());
        }
        assert_eq!(got, pages.concat());
    }
}
