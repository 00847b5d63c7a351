//! A session with a sequential logical unit (a tape-like recorder at LUN 0) and a disk-like
//! unit (LUN 1), driven over TCP by a raw initiator: the tape's SIMPLE commands run one at
//! a time in CmdSN order while the disk's run concurrently beside them.
//!
//! Nothing here sleeps for a fixed time: the units wait on conditions (bounded by
//! [`PATIENCE`] only so that a broken scheduler fails the test instead of hanging it).

#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::{Condvar, Mutex};
use tokio::io::AsyncWriteExt;
use tokio::net::tcp::{OwnedReadHalf, OwnedWriteHalf};
use tokio::net::TcpStream;
use tokio::sync::watch;
use vsa_scsi::{Command, LogicalUnit, Nexus, Reset, Response, Sense, Status};

use crate::codec::{self, FrameReader, Framing};
use crate::pdu::{LoginRequest, Pdu, ScsiCommand, Stage};
use crate::{Registry, Server, ServerConfig, TargetEntry};

const IQN: &str = "iqn.2026-01.invalid.vsa:lanes";
/// How long a unit waits for a condition before it gives up and fails the command.
const PATIENCE: Duration = Duration::from_secs(20);

/// What the tape-like unit saw.
#[derive(Debug, Default)]
struct TapeLog {
    in_flight: usize,
    max_in_flight: usize,
    /// The sequence numbers (CDB byte 2) in the order the commands started.
    order: Vec<u8>,
    /// Commands with a sequence number below this may finish.
    released: u8,
}

/// A sequential unit that records concurrency; each command waits until the test
/// releases it.
#[derive(Debug)]
struct Tape {
    log: Mutex<TapeLog>,
    cv: Condvar,
    started: watch::Sender<usize>,
}

impl Tape {
    fn release(&self, below: u8) {
        self.log.lock().released = below;
        self.cv.notify_all();
    }
}

impl LogicalUnit for Tape {
    fn execute(&self, cmd: &Command<'_>) -> Response {
        let seq = cmd.cdb.get(2).copied().unwrap_or(0);
        let mut log = self.log.lock();
        log.in_flight += 1;
        log.max_in_flight = log.max_in_flight.max(log.in_flight);
        log.order.push(seq);
        self.started.send_replace(log.order.len());
        let released = self
            .cv
            .wait_while_for(&mut log, |l| l.released <= seq, PATIENCE);
        log.in_flight -= 1;
        if released.timed_out() {
            return Response::check(&Sense::internal_failure(), false);
        }
        Response::good()
    }
    fn sequential(&self) -> bool {
        true
    }
    fn reset(&self, _reset: Reset, _from: &Nexus) {}
}

/// A disk-like unit whose commands finish only once two of them run at the same time.
#[derive(Debug, Default)]
struct Pair {
    in_flight: Mutex<(usize, usize)>,
    cv: Condvar,
}

impl LogicalUnit for Pair {
    fn execute(&self, _cmd: &Command<'_>) -> Response {
        let mut st = self.in_flight.lock();
        st.0 += 1;
        st.1 = st.1.max(st.0);
        self.cv.notify_all();
        let met = self.cv.wait_while_for(&mut st, |s| s.1 < 2, PATIENCE);
        st.0 -= 1;
        if met.timed_out() {
            return Response::check(&Sense::internal_failure(), false);
        }
        Response::good()
    }
    fn reset(&self, _reset: Reset, _from: &Nexus) {}
}

#[derive(Debug)]
struct One(Arc<TargetEntry>);

impl Registry for One {
    fn target(&self, name: &str) -> Option<Arc<TargetEntry>> {
        (name == self.0.name).then(|| self.0.clone())
    }
    fn targets(&self) -> Vec<Arc<TargetEntry>> {
        vec![self.0.clone()]
    }
}

/// Serves `scsi` as target [`IQN`] on a port of its own; returns the address, the stop
/// switch and the server's task.
async fn serve(
    scsi: vsa_scsi::Target,
) -> (
    std::net::SocketAddr,
    watch::Sender<bool>,
    tokio::task::JoinHandle<()>,
) {
    let entry = Arc::new(TargetEntry {
        name: IQN.into(),
        alias: None,
        chap: None,
        mutual_chap: None,
        acl: Vec::new(),
        scsi: Arc::new(scsi),
    });
    let server = Server::bind(
        "127.0.0.1:0".parse().unwrap(),
        Arc::new(One(entry)),
        ServerConfig::default(),
    )
    .await
    .unwrap();
    let addr = server.local_addr().unwrap();
    let (stop, stop_rx) = watch::channel(false);
    let serving = tokio::spawn(server.run(stop_rx));
    (addr, stop, serving)
}

/// Just enough of an initiator: login, SCSI commands, responses by ITT.
struct Initiator {
    rd: FrameReader<OwnedReadHalf>,
    wr: OwnedWriteHalf,
    cmd_sn: u32,
    itt: u32,
    /// Status of each answered command, by ITT.
    answers: HashMap<u32, u8>,
}

impl Initiator {
    async fn login(addr: std::net::SocketAddr) -> Self {
        let (r, w) = TcpStream::connect(addr).await.unwrap().into_split();
        let mut me = Self {
            rd: FrameReader::new(r),
            wr: w,
            cmd_sn: 1,
            itt: 0,
            answers: HashMap::new(),
        };
        let keys = format!(
            "InitiatorName=iqn.2026-01.invalid:ini\0TargetName={IQN}\0SessionType=Normal\0"
        );
        let req = LoginRequest {
            transit: true,
            csg: Stage::Operational,
            nsg: Stage::FullFeature,
            isid: 0x23D0_0000_0001,
            cmd_sn: me.cmd_sn,
            ..Default::default()
        };
        me.send(&Pdu::LoginRequest(req), keys.as_bytes()).await;
        match me.recv().await {
            Pdu::LoginResponse(r) => assert_eq!(r.status_class, 0, "login refused"),
            p => panic!("not a login response: {p:?}"),
        }
        me
    }

    async fn send(&mut self, pdu: &Pdu, data: &[u8]) {
        let b = codec::encode(pdu, data, &Framing::default());
        self.wr.write_all(&b).await.unwrap();
    }

    async fn recv(&mut self) -> Pdu {
        let raw = tokio::time::timeout(PATIENCE, self.rd.read())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("the connection is open");
        Pdu::parse(&raw).unwrap()
    }

    /// Sends a SIMPLE command without data to `lun`; returns its ITT.
    async fn command(&mut self, lun: u8, cdb: [u8; 6]) -> u32 {
        self.itt += 1;
        let mut c = ScsiCommand {
            final_bit: true,
            attr: 1,
            itt: self.itt,
            cmd_sn: self.cmd_sn,
            cdb: cdb.to_vec(),
            ..Default::default()
        };
        c.lun[1] = lun;
        self.cmd_sn += 1;
        self.send(&Pdu::ScsiCommand(c), &[]).await;
        self.itt
    }

    /// Sends an [`echo_read`] with tag `itt` to `lun`; returns the CmdSN it took.
    async fn echo_read(&mut self, itt: u32, lun: u8, n: u8) -> u32 {
        let cmd_sn = self.cmd_sn;
        self.cmd_sn += 1;
        let c = echo_read(itt, cmd_sn, lun, n);
        self.send(&Pdu::ScsiCommand(c), &[]).await;
        cmd_sn
    }

    /// Reads until command `itt` is answered; returns its status.
    async fn answer(&mut self, itt: u32) -> u8 {
        while !self.answers.contains_key(&itt) {
            if let Pdu::ScsiResponse(r) = self.recv().await {
                self.answers.insert(r.itt, r.status);
            }
        }
        self.answers[&itt]
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_sequential_unit_runs_one_command_at_a_time_while_a_disk_runs_many() {
    let (started, mut started_rx) = watch::channel(0);
    let tape = Arc::new(Tape {
        log: Mutex::default(),
        cv: Condvar::new(),
        started,
    });
    let disk = Arc::new(Pair::default());
    let scsi = vsa_scsi::Target::new();
    scsi.insert(0, tape.clone());
    scsi.insert(1, disk.clone());
    let (addr, stop, serving) = serve(scsi).await;
    let mut ini = Initiator::login(addr).await;

    // Tape commands 0..4 (sequence number in CDB byte 2), two disk commands among them.
    let mut tape_itts = Vec::new();
    for seq in 0..3u8 {
        tape_itts.push(ini.command(0, [0x10, 0, seq, 0, 0, 0]).await);
    }
    let d0 = ini.command(1, [0x00; 6]).await;
    tape_itts.push(ini.command(0, [0x10, 0, 3, 0, 0, 0]).await);
    let d1 = ini.command(1, [0x00; 6]).await;
    // The disk commands finish only if they run at the same time, while tape command 0
    // holds its unit and the others wait for it.
    assert_eq!(ini.answer(d0).await, Status::Good as u8);
    assert_eq!(ini.answer(d1).await, Status::Good as u8);
    assert_eq!(disk.in_flight.lock().1, 2);
    // Every tape command has entered the session by now (d1 came after them).
    started_rx.wait_for(|n| *n >= 1).await.unwrap();
    assert_eq!(
        tape.log.lock().order,
        [0],
        "only the first tape command started"
    );
    for (seq, itt) in tape_itts.iter().enumerate() {
        let seq = seq as u8;
        started_rx
            .wait_for(|n| *n > usize::from(seq))
            .await
            .unwrap();
        tape.release(seq + 1);
        assert_eq!(ini.answer(*itt).await, Status::Good as u8, "tape {seq}");
    }
    {
        let log = tape.log.lock();
        assert_eq!(log.order, [0, 1, 2, 3], "CmdSN order");
        assert_eq!(log.max_in_flight, 1, "one at a time");
    }
    stop.send_replace(true);
    drop(ini);
    serving.await.unwrap();
}

/// A unit whose READs answer at once, on the connection's thread ([`LogicalUnit::
/// try_execute`]) for LUN 0, on the blocking pool for LUN 1; the data names the command:
/// every byte is the low byte of the number in CDB bytes 2..6.
#[derive(Debug)]
struct Echo {
    inline: bool,
}

const ECHO_LEN: usize = 4096;

impl Echo {
    fn answer(cmd: &Command<'_>) -> Response {
        let n = cmd.cdb.get(5).copied().unwrap_or(0);
        Response::with_data(vec![n; ECHO_LEN])
    }
}

/// A SIMPLE READ of [`ECHO_LEN`] bytes to `lun` whose data [`Echo`] fills with `n`.
fn echo_read(itt: u32, cmd_sn: u32, lun: u8, n: u8) -> ScsiCommand {
    let mut c = ScsiCommand {
        final_bit: true,
        read: true,
        attr: 1,
        itt,
        cmd_sn,
        expected_len: ECHO_LEN as u32,
        cdb: vec![0x08, 0, 0, 0, 0, n],
        ..Default::default()
    };
    c.lun[1] = lun;
    c
}

impl LogicalUnit for Echo {
    fn execute(&self, cmd: &Command<'_>) -> Response {
        Self::answer(cmd)
    }
    fn try_execute(&self, cmd: &Command<'_>) -> Option<Response> {
        self.inline.then(|| Self::answer(cmd))
    }
    fn reset(&self, _reset: Reset, _from: &Nexus) {}
}

/// Answers written by the reader itself (the writer thread idle), by the tasks that ran
/// commands and by the writer thread, while the initiator leaves 24 MiB of them unread
/// (the socket fills, so all three take turns and partial writes happen): every command
/// is answered once, with its own data, and StatSN counts up by one in the order the
/// answers arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn answers_written_by_reader_tasks_and_writer_keep_statsn_in_order_when_the_socket_fills() {
    let scsi = vsa_scsi::Target::new();
    scsi.insert(0, Arc::new(Echo { inline: true }));
    scsi.insert(1, Arc::new(Echo { inline: false }));
    let (addr, stop, serving) = serve(scsi).await;
    let Initiator {
        mut rd,
        mut wr,
        mut cmd_sn,
        ..
    } = Initiator::login(addr).await;

    const COMMANDS: u32 = 6000;
    let sending = tokio::spawn(async move {
        for itt in 1..=COMMANDS {
            // Every 97th to the unit that runs on the blocking pool.
            let c = echo_read(itt, cmd_sn, u8::from(itt % 97 == 0), itt as u8);
            cmd_sn += 1;
            let b = codec::encode(&Pdu::ScsiCommand(c), &[], &Framing::default());
            wr.write_all(&b).await.unwrap();
        }
        wr
    });
    // Nothing is read until every command is sent: 24 MiB of answers wait meanwhile.
    let wr = sending.await.unwrap();
    let mut seen = vec![false; COMMANDS as usize + 1];
    let mut last_stat_sn: Option<u32> = None;
    for _ in 0..COMMANDS {
        let raw = tokio::time::timeout(PATIENCE, rd.read())
            .await
            .expect("an answer in time")
            .unwrap()
            .expect("the connection is open");
        let Pdu::DataIn(din) = Pdu::parse(&raw).unwrap() else {
            panic!("not a Data-In with status");
        };
        assert_eq!(din.status, Some(Status::Good as u8));
        let itt = din.itt as usize;
        assert!(itt >= 1 && itt <= COMMANDS as usize, "unknown ITT {itt}");
        assert!(!seen[itt], "ITT {itt} answered twice");
        seen[itt] = true;
        assert_eq!(raw.data.len(), ECHO_LEN);
        assert!(
            raw.data.iter().all(|&b| b == itt as u8),
            "data of ITT {itt}"
        );
        if let Some(prev) = last_stat_sn {
            assert_eq!(din.sn.stat_sn, prev.wrapping_add(1), "StatSN in send order");
        }
        last_stat_sn = Some(din.sn.stat_sn);
    }
    stop.send_replace(true);
    drop((rd, wr));
    serving.await.unwrap();
}

/// An initiator that uses an ITT again as soon as the command's answer arrives (as
/// initiators with a fixed pool of tags do) never meets TASK IN PROGRESS, though the
/// answer of a command run on the blocking pool may be written before its task has left
/// the session.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_itt_is_free_again_once_its_answer_has_arrived() {
    let scsi = vsa_scsi::Target::new();
    scsi.insert(0, Arc::new(Echo { inline: false }));
    let (addr, stop, serving) = serve(scsi).await;
    let mut ini = Initiator::login(addr).await;
    for round in 0..2000u32 {
        ini.echo_read(7, 0, round as u8).await;
        match ini.recv().await {
            Pdu::DataIn(d) => {
                assert_eq!((d.itt, d.status), (7, Some(Status::Good as u8)));
            }
            p => panic!("round {round}: {p:?}"),
        }
    }
    stop.send_replace(true);
    drop(ini);
    serving.await.unwrap();
}

/// ABORT TASK for a command whose answer has arrived finds no task (TASK DOES NOT EXIST),
/// never "function complete" for a task that was answered too (libiscsi's
/// AbortTaskSimpleAsync fails a target that does both), though the task of a command run
/// on the blocking pool leaves the session only after its answer is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_task_after_the_answer_finds_no_task() {
    let scsi = vsa_scsi::Target::new();
    scsi.insert(0, Arc::new(Echo { inline: false }));
    let (addr, stop, serving) = serve(scsi).await;
    let mut ini = Initiator::login(addr).await;
    for round in 0..500u32 {
        let itt = 2 * round + 1;
        let ref_cmd_sn = ini.echo_read(itt, 0, round as u8).await;
        assert!(matches!(ini.recv().await, Pdu::DataIn(d) if d.itt == itt));
        let tmf = crate::pdu::TmfRequest {
            immediate: true,
            function: crate::pdu::TmfFunction::AbortTask,
            lun: [0; 8],
            itt: itt + 1,
            ref_itt: itt,
            cmd_sn: ini.cmd_sn,
            exp_stat_sn: 0,
            ref_cmd_sn,
            exp_data_sn: 0,
        };
        ini.send(&Pdu::TmfRequest(tmf), &[]).await;
        match ini.recv().await {
            Pdu::TmfResponse(r) => {
                assert_eq!(r.itt, itt + 1);
                assert_eq!(r.response, 1, "round {round}: TASK DOES NOT EXIST");
            }
            p => panic!("round {round}: {p:?}"),
        }
    }
    stop.send_replace(true);
    drop(ini);
    serving.await.unwrap();
}

/// The answer of a command served on the reader (held there while more commands arrive)
/// reaches the initiator before that of an ORDERED command after it, though the ORDERED
/// command runs on the blocking pool at once and its task could write its answer first.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ordered_command_is_answered_after_the_held_answers_before_it() {
    let scsi = vsa_scsi::Target::new();
    scsi.insert(0, Arc::new(Echo { inline: true }));
    scsi.insert(1, Arc::new(Echo { inline: false }));
    let (addr, stop, serving) = serve(scsi).await;
    let mut ini = Initiator::login(addr).await;
    // Per round, in one write: a READ served on the reader, an ORDERED READ run on the
    // blocking pool, then SIMPLE READs that wait for it (the reader still has frames to
    // read while the ORDERED one runs).
    const AFTER: u32 = 40;
    for round in 0..200u32 {
        let first = ini.itt + 1;
        let mut burst = Vec::new();
        for k in 0..AFTER + 2 {
            ini.itt += 1;
            let mut c = echo_read(ini.itt, ini.cmd_sn, u8::from(k > 0), ini.itt as u8);
            if k == 1 {
                c.attr = 2; // ORDERED
            }
            ini.cmd_sn += 1;
            burst.extend(codec::encode(
                &Pdu::ScsiCommand(c),
                &[],
                &Framing::default(),
            ));
        }
        ini.wr.write_all(&burst).await.unwrap();
        let mut order = Vec::new();
        while order.len() < (AFTER + 2) as usize {
            match ini.recv().await {
                Pdu::DataIn(d) => {
                    assert_eq!(d.status, Some(Status::Good as u8));
                    order.push(d.itt);
                }
                p => panic!("round {round}: {p:?}"),
            }
        }
        let pos = |itt| order.iter().position(|&i| i == itt).unwrap();
        assert!(
            pos(first) < pos(first + 1),
            "round {round}: the ORDERED command was answered before the one before it: {order:?}"
        );
    }
    stop.send_replace(true);
    drop(ini);
    serving.await.unwrap();
}

/// A unit that panics on one CDB (READ of data byte 0xEE), else answers as [`Echo`].
#[derive(Debug)]
struct Fragile;

impl LogicalUnit for Fragile {
    fn execute(&self, cmd: &Command<'_>) -> Response {
        assert_ne!(cmd.cdb.get(5), Some(&0xEE), "a unit's bug");
        Echo::answer(cmd)
    }
    fn reset(&self, _reset: Reset, _from: &Nexus) {}
}

/// A unit that panics fails that command with CHECK CONDITION (HARDWARE ERROR, INTERNAL
/// TARGET FAILURE); the connection and the unit go on serving.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_panicking_unit_fails_the_command_not_the_connection() {
    let scsi = vsa_scsi::Target::new();
    scsi.insert(0, Arc::new(Fragile));
    let (addr, stop, serving) = serve(scsi).await;
    let mut ini = Initiator::login(addr).await;
    for (itt, n) in [(1u32, 1u8), (2, 0xEE), (3, 3)] {
        ini.echo_read(itt, 0, n).await;
        match ini.recv().await {
            Pdu::DataIn(d) => {
                assert_ne!(n, 0xEE, "the panicking command got data");
                assert_eq!((d.itt, d.status), (itt, Some(Status::Good as u8)));
            }
            Pdu::ScsiResponse(r) => {
                assert_eq!(
                    (r.itt, r.status, n),
                    (itt, Status::CheckCondition as u8, 0xEE)
                );
            }
            p => panic!("command {itt}: {p:?}"),
        }
    }
    stop.send_replace(true);
    drop(ini);
    serving.await.unwrap();
}
