//! Task ordering within a session's task set (SAM-5 task attributes).
//!
//! SIMPLE tasks run concurrently; an ORDERED task waits until every task that entered
//! before it has finished, and tasks entering after it wait until it has finished; HEAD OF
//! QUEUE tasks start at once. Tasks enter in CmdSN order (the reader loop admits them one
//! at a time), so this is a FIFO of gates that [`Scheduler::admit`] opens as the rules
//! allow.

use std::collections::VecDeque;

use parking_lot::Mutex;
use tokio::sync::oneshot;
use vsa_scsi::TaskAttr;

#[derive(Debug)]
struct Waiting {
    id: u64,
    ordered: bool,
    go: oneshot::Sender<()>,
}

#[derive(Debug, Default)]
struct State {
    next_id: u64,
    running_simple: usize,
    running_ordered: bool,
    queue: VecDeque<Waiting>,
}

/// The gatekeeper of one session's task set.
#[derive(Debug, Default)]
pub struct Scheduler {
    state: Mutex<State>,
}

/// Held while a task runs; dropping it lets later tasks start.
#[derive(Debug)]
pub struct Slot<'a> {
    sched: &'a Scheduler,
    kind: Kind,
}

#[derive(Debug, Clone, Copy)]
enum Kind {
    Simple,
    Ordered,
    Head,
    /// A slot that holds no place (its task was removed from the queue).
    Nothing,
}

/// A task's place in the queue, obtained in CmdSN order.
#[derive(Debug)]
pub struct Ticket {
    id: u64,
    kind: Kind,
    rx: Option<oneshot::Receiver<()>>,
}

impl Scheduler {
    /// Puts a task in the queue (synchronously, so the order is the call order).
    pub fn enter(&self, attr: TaskAttr) -> Ticket {
        let kind = match attr {
            TaskAttr::Ordered => Kind::Ordered,
            TaskAttr::HeadOfQueue => Kind::Head,
            TaskAttr::Simple | TaskAttr::Aca => Kind::Simple,
        };
        let mut st = self.state.lock();
        st.next_id += 1;
        let id = st.next_id;
        if let Kind::Head = kind {
            return Ticket { id, kind, rx: None };
        }
        // Nothing queued and nothing in the way: admitted now, no channel needed.
        let ordered = matches!(kind, Kind::Ordered);
        if st.queue.is_empty() && !st.running_ordered && !(ordered && st.running_simple > 0) {
            if ordered {
                st.running_ordered = true;
            } else {
                st.running_simple += 1;
            }
            return Ticket { id, kind, rx: None };
        }
        let (go, rx) = oneshot::channel();
        st.queue.push_back(Waiting {
            id,
            ordered: matches!(kind, Kind::Ordered),
            go,
        });
        Self::pump(&mut st);
        Ticket {
            id,
            kind,
            rx: Some(rx),
        }
    }

    /// Waits until the ticket's task may run.
    pub async fn admit(&self, mut t: Ticket) -> Slot<'_> {
        let mut kind = t.kind;
        if let Some(rx) = t.rx.take() {
            // A dropped sender means the scheduler removed us (aborted): the caller checks
            // its abort flag and runs nothing; the slot holds no place to give back.
            if rx.await.is_err() {
                kind = Kind::Nothing;
            }
        }
        Slot { sched: self, kind }
    }

    /// Admits the ticket's task if it may run now; gives the ticket back if it must wait.
    pub fn try_admit(&self, mut t: Ticket) -> Result<Slot<'_>, Ticket> {
        let mut kind = t.kind;
        if let Some(mut rx) = t.rx.take() {
            match rx.try_recv() {
                Ok(()) => {}
                // Removed (aborted): as in `admit`.
                Err(oneshot::error::TryRecvError::Closed) => kind = Kind::Nothing,
                Err(oneshot::error::TryRecvError::Empty) => {
                    t.rx = Some(rx);
                    return Err(t);
                }
            }
        }
        Ok(Slot { sched: self, kind })
    }

    /// Removes a waiting task (aborted before it started). Returns whether it was waiting.
    pub fn cancel(&self, ticket_id: u64) -> bool {
        let mut st = self.state.lock();
        let before = st.queue.len();
        st.queue.retain(|w| w.id != ticket_id);
        let removed = st.queue.len() != before;
        Self::pump(&mut st);
        removed
    }

    fn pump(st: &mut State) {
        while let Some(front) = st.queue.front() {
            if st.running_ordered {
                break;
            }
            if front.ordered && st.running_simple > 0 {
                break;
            }
            let Some(w) = st.queue.pop_front() else { break };
            if w.ordered {
                st.running_ordered = true;
            } else {
                st.running_simple += 1;
            }
            if w.go.send(()).is_err() {
                // The waiter is gone; release what it took.
                if w.ordered {
                    st.running_ordered = false;
                } else {
                    st.running_simple -= 1;
                }
            }
        }
    }

    fn release(&self, kind: Kind) {
        let mut st = self.state.lock();
        match kind {
            Kind::Simple => st.running_simple = st.running_simple.saturating_sub(1),
            Kind::Ordered => st.running_ordered = false,
            Kind::Head | Kind::Nothing => {}
        }
        Self::pump(&mut st);
    }
}

impl Ticket {
    /// The ticket's identity, for [`Scheduler::cancel`].
    pub fn id(&self) -> u64 {
        self.id
    }
}

impl Drop for Slot<'_> {
    fn drop(&mut self) {
        self.sched.release(self.kind);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn ordered_waits_for_earlier_and_blocks_later() {
        let s = Scheduler::default();
        let a = s.enter(TaskAttr::Simple);
        let o = s.enter(TaskAttr::Ordered);
        let b = s.enter(TaskAttr::Simple);
        let h = s.enter(TaskAttr::HeadOfQueue);
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
        let a = s.try_admit(s.enter(TaskAttr::Simple));
        assert!(a.is_ok(), "nothing in the way: admitted at once");
        let o = s.try_admit(s.enter(TaskAttr::Ordered));
        let o = o.expect_err("an ORDERED task waits for the running one");
        let b = s.enter(TaskAttr::Simple);
        // Abort `b` while it waits: its slot, once taken, gives back no place.
        assert!(s.cancel(b.id()));
        drop(s.try_admit(b));
        let o = s
            .try_admit(o)
            .expect_err("`a` still runs, so `o` still waits");
        drop(a);
        assert!(s.try_admit(o).is_ok());
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
