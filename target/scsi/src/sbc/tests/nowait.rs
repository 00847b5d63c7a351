//! `try_execute`: READs served without waiting when the device has the data in memory,
//! WRITEs when it takes them at once, and nothing done when it would wait.

use std::sync::atomic::{AtomicBool, Ordering};

use vsa_blockdev::Result as BlockResult;

use super::*;
use crate::spc::{MemPrStore, PrStore, Unit, UnitOptions};
use crate::{Identity, LogicalUnit};

/// A device whose `try_read_at` and `try_write_at` succeed while `hot` is set (its data
/// "in the cache", room in its journal).
#[derive(Debug)]
struct Hot {
    inner: MemDevice,
    hot: AtomicBool,
}

impl BlockDevice for Hot {
    fn block_size(&self) -> u32 {
        self.inner.block_size()
    }
    fn size(&self) -> u64 {
        self.inner.size()
    }
    fn read_at(&self, buf: &mut [u8], offset: u64) -> BlockResult<()> {
        self.inner.read_at(buf, offset)
    }
    fn try_read_at(&self, buf: &mut [u8], offset: u64) -> Option<BlockResult<()>> {
        self.hot
            .load(Ordering::SeqCst)
            .then(|| self.inner.read_at(buf, offset))
    }
    fn write_at(&self, buf: &[u8], offset: u64) -> BlockResult<()> {
        self.inner.write_at(buf, offset)
    }
    fn try_write_at(&self, buf: &[u8], offset: u64) -> Option<BlockResult<()>> {
        self.hot
            .load(Ordering::SeqCst)
            .then(|| self.inner.write_at(buf, offset))
    }
    fn flush(&self) -> BlockResult<()> {
        Ok(())
    }
}

fn hot_unit() -> (Arc<Hot>, Unit<Disk>) {
    let dev = Arc::new(Hot {
        inner: MemDevice::new(BLOCKS * BS as u64, BS as u32),
        hot: AtomicBool::new(true),
    });
    let disk = Disk::with_tuning(dev.clone(), options(), tuning(), Arc::new(NoCopyTargets));
    let identity = Identity {
        vendor: "VSA".into(),
        product: "disk".into(),
        revision: "0001".into(),
        serial: "SN1".into(),
        naa: NAA,
    };
    let store: Arc<dyn PrStore> = Arc::new(MemPrStore::new());
    let unit = Unit::new(disk, identity, UnitOptions::default(), store).expect("empty store");
    (dev, unit)
}

/// No data-out.
static NONE: crate::Bytes = crate::Bytes::new();

fn command<'a>(cdb: &'a [u8], data: &'a crate::Bytes, n: &'a Nexus) -> Command<'a> {
    Command {
        cdb,
        data_out: data,
        expected_len: 1 << 20,
        nexus: n,
        attr: Default::default(),
    }
}

#[test]
fn reads_of_data_in_memory_are_served_and_others_are_left_alone() {
    let (dev, u) = hot_unit();
    let n = nexus(1);
    let block: crate::Bytes = (0..BS * 2).map(|i| (i % 251) as u8).collect();
    // The first command reports the power-on unit attention, also on the fast path (and
    // only once).
    let read = cdb10(0x28, 0, 7, 2);
    let r = u.try_execute(&command(&read, &NONE, &n)).expect("served");
    assert_eq!(sense(&r), (0x6, 0x29, 0x00));
    let write = cdb10(0x2A, 0, 7, 2);
    dev.hot.store(false, Ordering::SeqCst);
    assert!(
        u.try_execute(&command(&write, &block, &n)).is_none(),
        "the device would wait"
    );
    assert_eq!(u.execute(&command(&write, &block, &n)).status, Status::Good);
    dev.hot.store(true, Ordering::SeqCst);
    let r = u
        .try_execute(&command(&read, &NONE, &n))
        .expect("in memory");
    assert_eq!(r.status, Status::Good);
    assert_eq!(r.data_in(), block);
    // Not in memory: nothing done, and the same command then runs normally.
    dev.hot.store(false, Ordering::SeqCst);
    assert!(u.try_execute(&command(&read, &NONE, &n)).is_none());
    assert_eq!(u.execute(&command(&read, &NONE, &n)).data, block);
    // Errors the CDB alone shows are answered at once.
    dev.hot.store(true, Ordering::SeqCst);
    let past_end = cdb16(0x88, 0, BLOCKS, 1);
    let r = u
        .try_execute(&command(&past_end, &NONE, &n))
        .expect("answered");
    assert_eq!(sense(&r), (0x5, 0x21, 0x00));
    // SPC commands are never taken this way.
    assert!(u
        .try_execute(&command(&[0, 0, 0, 0, 0, 0], &NONE, &n))
        .is_none());
}

#[test]
fn a_read_of_blocks_another_command_holds_would_wait() {
    let (_dev, u) = hot_unit();
    let n = nexus(1);
    let tur = [0u8; 6];
    let _ = u.execute(&command(&tur, &NONE, &n)); // the power-on unit attention
    let held = u.device().locks.lock(10, 4);
    let overlapping = cdb10(0x28, 0, 12, 1);
    assert!(u.try_execute(&command(&overlapping, &NONE, &n)).is_none());
    let apart = cdb10(0x28, 0, 20, 1);
    assert!(u.try_execute(&command(&apart, &NONE, &n)).is_some());
    drop(held);
    assert!(u.try_execute(&command(&overlapping, &NONE, &n)).is_some());
}

#[test]
fn writes_the_device_takes_at_once_are_served_unless_they_must_reach_stable_storage() {
    let (dev, u) = hot_unit();
    let n = nexus(1);
    let _ = u.execute(&command(&[0u8; 6], &NONE, &n)); // the power-on unit attention
    let block = crate::Bytes::from(vec![9u8; BS * 2]);
    let write = cdb10(0x2A, 0, 30, 2);
    let r = u.try_execute(&command(&write, &block, &n)).expect("served");
    assert_eq!(r.status, Status::Good);
    assert_eq!(r.data_out_len, Some(BS as u32 * 2));
    let mut back = vec![0u8; BS * 2];
    dev.inner.read_at(&mut back, 30 * BS as u64).unwrap();
    assert_eq!(back, block);
    // FUA: the write must reach stable storage, which may wait.
    let fua = cdb10(0x2A, 0x08, 30, 2);
    assert!(u.try_execute(&command(&fua, &block, &n)).is_none());
    // A range another command holds.
    let held = u.device().locks.lock(31, 1);
    assert!(u.try_execute(&command(&write, &block, &n)).is_none());
    drop(held);
    // Errors the CDB and the data show are answered at once.
    let past_end = cdb16(0x8A, 0, BLOCKS, 1);
    let r = u
        .try_execute(&command(&past_end, &block.slice(..BS), &n))
        .expect("answered");
    assert_eq!(sense(&r), (0x5, 0x21, 0x00));
    let torn = u
        .try_execute(&command(&write, &block.slice(..BS + 1), &n))
        .expect("answered");
    assert_eq!(torn.status, Status::CheckCondition);
}
