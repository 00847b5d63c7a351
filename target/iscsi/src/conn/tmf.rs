//! Task management (RFC 7143 11.5–11.6, SAM-5 7): ABORT TASK, ABORT TASK SET, CLEAR TASK
//! SET, LOGICAL UNIT RESET, TARGET WARM RESET and TARGET COLD RESET. Aborted tasks get no
//! response; the TMF response goes out after they have stopped.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tokio::sync::watch;
use vsa_scsi::target::lun_from_wire;
use vsa_scsi::Reset;

use super::{Conn, ConnError};
use crate::metrics::Metrics;
use crate::pdu::{Pdu, TmfFunction, TmfRequest, TmfResponse, TmfResult};
use crate::session::Session;

/// Which tasks an abort hits.
#[derive(Debug, Clone, Copy)]
enum Scope {
    Task(u32),
    Lun([u8; 8]),
    All,
}

/// Marks the matching tasks of `session` aborted (see [`Session::abort_tasks`]).
fn abort(session: &Session, scope: Scope) -> Vec<watch::Receiver<bool>> {
    let w = session.abort_tasks(|itt, t| match scope {
        // A task whose answer is out is done as far as ABORT TASK goes.
        Scope::Task(x) => itt == x && !t.answered,
        Scope::Lun(l) => t.lun == l,
        Scope::All => true,
    });
    if let (false, Some(e)) = (w.is_empty(), &session.entry) {
        let lun = match scope {
            Scope::Lun(l) => lun_from_wire(l),
            Scope::Task(_) | Scope::All => None,
        };
        e.scsi.aborting(lun, &session.nexus);
    }
    w
}

async fn wait(all: Vec<watch::Receiver<bool>>) {
    for mut d in all {
        let _ = tokio::time::timeout(Duration::from_secs(30), d.wait_for(|x| *x)).await;
    }
}

impl Conn {
    pub(super) async fn on_tmf(&mut self, t: TmfRequest) -> Result<(), ConnError> {
        if !self.accept_cmd_sn(t.immediate, t.cmd_sn) {
            return Ok(());
        }
        Metrics::inc(&self.shared.metrics.task_management);
        let Some(entry) = self.session.entry.clone() else {
            return self.tmf_reply(&t, TmfResult::Rejected).await;
        };
        let lun = lun_from_wire(t.lun);
        let lun_exists = lun.is_some_and(|l| entry.scsi.unit(l).is_some());
        let nexus = self.session.nexus.clone();
        let result = match t.function {
            TmfFunction::AbortTask => {
                self.pending.remove(&t.ref_itt);
                let w = abort(&self.session, Scope::Task(t.ref_itt));
                if w.is_empty() {
                    TmfResult::TaskDoesNotExist
                } else {
                    wait(w).await;
                    TmfResult::Complete
                }
            }
            TmfFunction::AbortTaskSet | TmfFunction::ClearTaskSet if !lun_exists => {
                TmfResult::LunDoesNotExist
            }
            TmfFunction::AbortTaskSet => {
                self.pending.retain(|_, p| p.lun() != t.lun);
                wait(abort(&self.session, Scope::Lun(t.lun))).await;
                TmfResult::Complete
            }
            TmfFunction::ClearTaskSet => {
                self.pending.retain(|_, p| p.lun() != t.lun);
                let mut w = abort(&self.session, Scope::Lun(t.lun));
                for other in self.others(&entry.name) {
                    let hit = abort(&other, Scope::Lun(t.lun));
                    if !hit.is_empty() {
                        if let Some(u) = lun.and_then(|l| entry.scsi.unit(l)) {
                            u.tasks_cleared(&other.nexus, &nexus);
                        }
                    }
                    w.extend(hit);
                }
                wait(w).await;
                TmfResult::Complete
            }
            TmfFunction::LogicalUnitReset if !lun_exists => TmfResult::LunDoesNotExist,
            TmfFunction::LogicalUnitReset => {
                self.pending.retain(|_, p| p.lun() != t.lun);
                let mut w = abort(&self.session, Scope::Lun(t.lun));
                for other in self.others(&entry.name) {
                    w.extend(abort(&other, Scope::Lun(t.lun)));
                }
                wait(w).await;
                let scsi = entry.scsi.clone();
                let n = nexus.clone();
                let _ =
                    tokio::task::spawn_blocking(move || scsi.reset(lun, Reset::LogicalUnit, &n))
                        .await;
                TmfResult::Complete
            }
            TmfFunction::TargetWarmReset | TmfFunction::TargetColdReset => {
                let cold = t.function == TmfFunction::TargetColdReset;
                self.pending.clear();
                let mut w = abort(&self.session, Scope::All);
                for other in self.others(&entry.name) {
                    w.extend(abort(&other, Scope::All));
                }
                wait(w).await;
                let kind = if cold {
                    Reset::TargetCold
                } else {
                    Reset::TargetWarm
                };
                let scsi = entry.scsi.clone();
                let n = nexus.clone();
                let _ = tokio::task::spawn_blocking(move || scsi.reset(None, kind, &n)).await;
                self.tmf_reply(&t, TmfResult::Complete).await?;
                if cold {
                    // A cold reset ends every session of the target, this one included,
                    // after the response has gone out.
                    for s in self.shared.sessions.of_target(&entry.name) {
                        s.close();
                    }
                }
                return Ok(());
            }
            TmfFunction::TaskReassign => TmfResult::ReassignNotSupported,
            TmfFunction::ClearAca | TmfFunction::Other(_) => TmfResult::NotSupported,
        };
        self.tmf_reply(&t, result).await
    }

    fn others(&self, target: &str) -> Vec<Arc<Session>> {
        self.shared
            .sessions
            .of_target(target)
            .into_iter()
            .filter(|s| s.tsih != self.session.tsih)
            .collect()
    }

    async fn tmf_reply(&self, t: &TmfRequest, r: TmfResult) -> Result<(), ConnError> {
        let rsp = TmfResponse {
            response: r as u8,
            itt: t.itt,
            sn: Default::default(),
        };
        self.send(Pdu::TmfResponse(rsp), Bytes::new()).await
    }
}
