//! Task ordering within a session's task set (SAM-5 task attributes), and the one-at-a-time
//! order of sequential-access logical units.
//!
//! SIMPLE tasks run concurrently; an ORDERED task waits until every task that entered
//! before it has finished, and tasks entering after it wait until it has finished; HEAD OF
//! QUEUE tasks start at once. Tasks enter in CmdSN order (the reader loop admits them one
//! at a time), so this is a FIFO of gates that the scheduler opens as the rules allow.
//!
//! # Sequential logical units: one lane per LUN
//!
//! A task may also enter a *lane*: the LUN of a unit that must execute its commands in
//! the order received, one at a time ([`vsa_scsi::LogicalUnit::sequential`]: tape drives
//! and medium changers, where two SIMPLE WRITEs must neither swap nor overlap). SAM-5 lets
//! a device server treat SIMPLE tasks as ORDERED; doing so for the whole session's queue
//! would make every other LUN of the session wait behind a REWIND or a SPACE that takes
//! minutes, although SAM-5 keeps one task set per logical unit and the order a tape needs
//! is only among its own commands. So the ordering is per LUN: a task in a lane waits until
//! every earlier task of that lane has finished and no later one starts before it ends,
//! while tasks of other LUNs pass it by. The session-wide rules still apply on top (an
//! ORDERED task anywhere still waits for the lane's earlier tasks, which entered before
//! it). A HEAD OF QUEUE task in a lane goes before the lane's waiting tasks but still not
//! while one of them runs. Commands of different sessions (I_T nexuses) have no order
//! between them to keep; a unit shared by several initiators serializes them itself.

use std::collections::{HashSet, VecDeque};
use std::sync::Arc;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use vsa_scsi::TaskAttr;

/// A sequential-access logical unit's lane: its LUN.
pub type Lane = u64;

/// How a task stands in the task set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Kind {
    Simple,
    Ordered,
    Head,
}

/// What a running task holds.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
struct Place {
    kind: Kind,
    lane: Option<Lane>,
}

#[derive(Debug)]
struct Waiting {
    id: u64,
    place: Place,
    go: oneshot::Sender<()>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    running_simple: usize,
    running_ordered: bool,
    /// Lanes with a running task.
    busy: HashSet<Lane>,
    /// SIMPLE and ORDERED tasks waiting, in the order they entered.
    queue: VecDeque<Waiting>,
    /// HEAD OF QUEUE tasks waiting for their lane, in the order they entered.
    heads: VecDeque<Waiting>,
}

/// The gatekeeper of one session's task set.
#[derive(Debug, Default)]
pub struct Scheduler {
    state: Arc<Mutex<State>>,
}

/// Held while a task runs; dropping it lets later tasks start.
#[derive(Debug)]
pub struct Slot {
    state: Arc<Mutex<State>>,
    /// `None`: a slot that holds no place (its task was removed from the queue).
    place: Option<Place>,
}

/// A task's place in the queue, obtained in CmdSN order. Dropping a ticket that was not
/// admitted gives its place up.
#[derive(Debug)]
pub struct Ticket {
    state: Arc<Mutex<State>>,
    id: u64,
    /// `None` once handed to a [`Slot`] or given up.
    place: Option<Place>,
    /// `Some` while the task waits for its turn; `None` once admitted.
    rx: Option<oneshot::Receiver<()>>,
}

impl State {
    fn lane_free(&self, lane: Option<Lane>, blocked: &HashSet<Lane>) -> bool {
        lane.is_none_or(|l| !self.busy.contains(&l) && !blocked.contains(&l))
    }

    /// Whether a task may start now; `first`: no task entered before it still waits.
    fn may_start(&self, p: Place, first: bool, blocked: &HashSet<Lane>) -> bool {
        let lane_free = self.lane_free(p.lane, blocked);
        match p.kind {
            Kind::Head => lane_free,
            Kind::Simple => !self.running_ordered && lane_free,
            Kind::Ordered => {
                first && !self.running_ordered && self.running_simple == 0 && lane_free
            }
        }
    }

    fn take(&mut self, p: Place) {
        match p.kind {
            Kind::Simple => self.running_simple += 1,
            Kind::Ordered => self.running_ordered = true,
            Kind::Head => {}
        }
        if let Some(l) = p.lane {
            self.busy.insert(l);
        }
    }

    fn give_back(&mut self, p: Place) {
        match p.kind {
            Kind::Simple => self.running_simple = self.running_simple.saturating_sub(1),
            Kind::Ordered => self.running_ordered = false,
            Kind::Head => {}
        }
        if let Some(l) = p.lane {
            self.busy.remove(&l);
        }
    }

    /// Starts `w`; false if its waiter has gone (then it holds nothing).
    fn start(&mut self, w: Waiting) -> bool {
        self.take(w.place);
        if w.go.send(()).is_err() {
            self.give_back(w.place);
            return false;
        }
        true
    }

    /// Opens every gate the rules allow: waiting HEAD OF QUEUE tasks first, then the
    /// queue in order, passing by tasks whose lane is busy.
    fn pump(&mut self) {
        let mut blocked = HashSet::new();
        let mut i = 0;
        while let Some(w) = self.heads.get(i) {
            if self.may_start(w.place, true, &blocked) {
                if let Some(w) = self.heads.remove(i) {
                    self.start(w);
                }
                continue;
            }
            blocked.extend(w.place.lane);
            i += 1;
        }
        let mut blocked = HashSet::new();
        let mut i = 0;
        while let Some(w) = self.queue.get(i) {
            if self.may_start(w.place, i == 0, &blocked) {
                if let Some(w) = self.queue.remove(i) {
                    self.start(w);
                }
                continue;
            }
            if w.place.kind == Kind::Ordered || self.running_ordered {
                // Nothing that entered after a waiting ORDERED task starts before it.
                break;
            }
            blocked.extend(w.place.lane);
            i += 1;
        }
    }

    /// Removes a waiting task; whether it was waiting.
    fn remove(&mut self, id: u64) -> bool {
        let before = self.queue.len() + self.heads.len();
        self.queue.retain(|w| w.id != id);
        self.heads.retain(|w| w.id != id);
        before != self.queue.len() + self.heads.len()
    }
}

impl Scheduler {
    /// Puts a task in the queue (synchronously, so the order is the call order); `lane`
    /// is the LUN of a sequential unit the task is for (see the module documentation).
    pub fn enter(&self, attr: TaskAttr, lane: Option<Lane>) -> Ticket {
        let kind = match attr {
            TaskAttr::Ordered => Kind::Ordered,
            TaskAttr::HeadOfQueue => Kind::Head,
            TaskAttr::Simple | TaskAttr::Aca => Kind::Simple,
        };
        let place = Place { kind, lane };
        let mut st = self.state.lock();
        st.next_id += 1;
        let id = st.next_id;
        let mut ticket = Ticket {
            state: self.state.clone(),
            id,
            place: Some(place),
            rx: None,
        };
        let nothing_waits = kind == Kind::Head || st.queue.is_empty();
        if nothing_waits && st.may_start(place, true, &HashSet::new()) {
            // Admitted now, no channel needed.
            st.take(place);
            return ticket;
        }
        let (go, rx) = oneshot::channel();
        let w = Waiting { id, place, go };
        if kind == Kind::Head {
            st.heads.push_back(w);
        } else {
            st.queue.push_back(w);
        }
        st.pump();
        ticket.rx = Some(rx);
        ticket
    }

    /// Waits until the ticket's task may run.
    pub async fn admit(&self, mut t: Ticket) -> Slot {
        let granted = match t.rx.as_mut() {
            Some(rx) => rx.await.is_ok(),
            None => true,
        };
        t.into_slot(granted)
    }

    /// Admits the ticket's task if it may run now; gives the ticket back if it must wait.
    pub fn try_admit(&self, mut t: Ticket) -> Result<Slot, Ticket> {
        let granted = match t.rx.as_mut().map(|rx| rx.try_recv()) {
            None | Some(Ok(())) => true,
            Some(Err(oneshot::error::TryRecvError::Empty)) => return Err(t),
            Some(Err(oneshot::error::TryRecvError::Closed)) => false,
        };
        Ok(t.into_slot(granted))
    }

    /// Removes a waiting task (aborted before it started): its [`Scheduler::admit`]
    /// returns a slot that holds nothing. Returns whether it was waiting.
    pub fn cancel(&self, ticket_id: u64) -> bool {
        let mut st = self.state.lock();
        let removed = st.remove(ticket_id);
        st.pump();
        removed
    }
}

impl Ticket {
    /// The ticket's identity, for [`Scheduler::cancel`].
    pub fn id(&self) -> u64 {
        self.id
    }

    /// The slot of an admitted ticket (`granted`), or one that holds nothing (the task was
    /// removed from the queue: the caller checks its abort flag and runs nothing).
    fn into_slot(mut self, granted: bool) -> Slot {
        self.rx = None;
        let place = self.place.take().filter(|_| granted);
        Slot {
            state: self.state.clone(),
            place,
        }
    }
}

impl Drop for Ticket {
    fn drop(&mut self) {
        let Some(place) = self.place.take() else {
            return;
        };
        let mut st = self.state.lock();
        // Under the lock, so the gate cannot open between the look and the removal.
        let granted = match self.rx.as_mut().map(|rx| rx.try_recv()) {
            None | Some(Ok(())) => true,
            Some(Err(oneshot::error::TryRecvError::Closed)) => false,
            Some(Err(oneshot::error::TryRecvError::Empty)) => {
                st.remove(self.id);
                false
            }
        };
        if granted {
            st.give_back(place);
        }
        st.pump();
    }
}

impl Drop for Slot {
    fn drop(&mut self) {
        if let Some(place) = self.place.take() {
            let mut st = self.state.lock();
            st.give_back(place);
            st.pump();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ordered_waits_for_earlier_and_blocks_later() {
        let s = Scheduler::default();
        let a = s.enter(TaskAttr::Simple, None);
        let o = s.enter(TaskAttr::Ordered, None);
        let b = s.enter(TaskAttr::Simple, None);
        let h = s.enter(TaskAttr::HeadOfQueue, None);
        let sa = s.admit(a).await;
        let _sh = s.admit(h).await;
        let mut o_fut = Box::pin(s.admit(o));
        assert!(futures_poll(&mut o_fut).is_none());
        drop(sa);
        let so = o_fut.await;
        let mut b_fut = Box::pin(s.admit(b));
        assert!(futures_poll(&mut b_fut).is_none());
        drop(so);
        let _sb = b_fut.await;
    }

    #[test]
    fn try_admit_and_cancelled_tickets_keep_the_count() {
        let s = Scheduler::default();
        let a = s.try_admit(s.enter(TaskAttr::Simple, None));
        assert!(a.is_ok(), "nothing in the way: admitted at once");
        let o = s.try_admit(s.enter(TaskAttr::Ordered, None));
        let o = o.expect_err("an ORDERED task waits for the running one");
        let b = s.enter(TaskAttr::Simple, None);
        // Abort `b` while it waits: its slot, once taken, gives back no place.
        assert!(s.cancel(b.id()));
        drop(s.try_admit(b));
        let o = s
            .try_admit(o)
            .expect_err("`a` still runs, so `o` still waits");
        drop(a);
        assert!(s.try_admit(o).is_ok());
    }

    /// Admits `t` now or fails the test.
    fn now(s: &Scheduler, t: Ticket, what: &str) -> Slot {
        s.try_admit(t)
            .unwrap_or_else(|_| panic!("{what} should start now"))
    }

    /// Checks that `t` must wait, and gives it back.
    fn waits(s: &Scheduler, t: Ticket, what: &str) -> Ticket {
        match s.try_admit(t) {
            Ok(_) => panic!("{what} should wait"),
            Err(t) => t,
        }
    }

    #[test]
    fn a_lane_runs_one_task_at_a_time_in_order_while_other_luns_pass_by() {
        let s = Scheduler::default();
        let tape = Some(7);
        let t1 = now(&s, s.enter(TaskAttr::Simple, tape), "the first tape task");
        let t2 = s.enter(TaskAttr::Simple, tape);
        let d1 = s.enter(TaskAttr::Simple, None);
        let t3 = s.enter(TaskAttr::Simple, tape);
        let d2 = s.enter(TaskAttr::Simple, Some(8));
        let t2 = waits(&s, t2, "the second tape task");
        let t3 = waits(&s, t3, "the third tape task");
        let _d1 = now(&s, d1, "a disk task behind a waiting tape task");
        let _d2 = now(&s, d2, "a task of another lane");
        drop(t1);
        let t3 = waits(&s, t3, "the third tape task, behind the second");
        let t2 = now(&s, t2, "the second tape task, after the first");
        let t3 = waits(&s, t3, "the third tape task, while the second runs");
        drop(t2);
        let _t3 = now(&s, t3, "the third tape task, last");
    }

    #[test]
    fn ordered_and_head_of_queue_tasks_with_lanes() {
        let s = Scheduler::default();
        let tape = Some(0);
        let t1 = now(&s, s.enter(TaskAttr::Simple, tape), "t1");
        let t2 = s.enter(TaskAttr::Simple, tape);
        let o = s.enter(TaskAttr::Ordered, None);
        let d = s.enter(TaskAttr::Simple, None);
        let h = s.enter(TaskAttr::HeadOfQueue, tape);
        let h_other = s.enter(TaskAttr::HeadOfQueue, None);
        let _ho = now(&s, h_other, "a HEAD OF QUEUE task of another LUN");
        let (t2, o, d) = (waits(&s, t2, "t2"), waits(&s, o, "o"), waits(&s, d, "d"));
        let h = waits(&s, h, "a HEAD OF QUEUE tape task while t1 runs");
        drop(t1);
        // The HEAD OF QUEUE task goes before t2, which entered earlier.
        let sh = now(&s, h, "the HEAD OF QUEUE tape task");
        let t2 = waits(&s, t2, "t2 while the HEAD OF QUEUE task runs");
        drop(sh);
        let st2 = now(&s, t2, "t2");
        // The ORDERED task waits for t2, which entered before it; `d` waits for `o`.
        let o = waits(&s, o, "o while t2 runs");
        let d = waits(&s, d, "d behind o");
        drop(st2);
        let so = now(&s, o, "o");
        let d = waits(&s, d, "d while o runs");
        drop(so);
        let _sd = now(&s, d, "d");
    }

    #[test]
    fn dropped_tickets_give_their_place_back() {
        let s = Scheduler::default();
        // Admitted at once, never run.
        drop(s.enter(TaskAttr::Simple, Some(1)));
        drop(s.enter(TaskAttr::Simple, None));
        let o = now(&s, s.enter(TaskAttr::Ordered, Some(1)), "o");
        // Waiting, then dropped.
        let t = s.enter(TaskAttr::Simple, Some(1));
        let t = waits(&s, t, "t behind o");
        drop(t);
        drop(o);
        let _t = now(&s, s.enter(TaskAttr::Simple, Some(1)), "a new lane task");
        // A slot that holds nothing.
        let w = s.enter(TaskAttr::Ordered, None);
        assert!(s.cancel(w.id()));
        drop(now(&s, w, "a cancelled ticket"));
        assert!(!s.cancel(12345));
    }

    fn futures_poll<F: std::future::Future + Unpin>(f: &mut F) -> Option<F::Output> {
        let waker = std::task::Waker::noop();
        let mut cx = std::task::Context::from_waker(waker);
        match std::pin::Pin::new(f).poll(&mut cx) {
            std::task::Poll::Ready(v) => Some(v),
            std::task::Poll::Pending => None,
        }
    }
}
