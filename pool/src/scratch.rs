//! A per-thread reusable scratch buffer whose start is 4096-byte aligned in memory, so
//! members using direct I/O read into it and write from it without a bounce copy (parity,
//! the spans the write journal sends home), and hot paths neither allocate nor zero-fill a
//! fresh buffer per request.

use std::cell::RefCell;

/// Memory alignment of the buffers.
pub(crate) const ALIGN: usize = 4096;
/// Buffers larger than this are not kept for reuse once the request is done.
const KEEP_MAX: usize = 8 << 20;

thread_local! {
    static SCRATCH: RefCell<Vec<u8>> = const { RefCell::new(Vec::new()) };
}

/// `len` bytes of `v` from an `ALIGN`-aligned address, `v` grown (zeroed) if it is too short.
pub(crate) fn aligned(v: &mut Vec<u8>, len: usize) -> &mut [u8] {
    let need = len + ALIGN;
    if v.len() < need {
        *v = vec![0u8; need];
    }
    let off = v.as_ptr().align_offset(ALIGN);
    // align_offset may in theory give up (usize::MAX); the buffer is then merely unaligned:
    // a direct-I/O member bounces it, and the kernel refuses the bounce buffer itself with
    // EINVAL (an error, not a panic).
    let off = if off < ALIGN { off } else { 0 };
    &mut v[off..off + len]
}

/// Runs `f` on an aligned scratch slice of `len` bytes holding stale contents (zeroes or
/// earlier data): `f` must not read what it has not written.
pub(crate) fn with<R>(len: usize, f: impl FnOnce(&mut [u8]) -> R) -> R {
    SCRATCH.with(|cell| match cell.try_borrow_mut() {
        Ok(mut v) => {
            let r = f(aligned(&mut v, len));
            if v.len() > KEEP_MAX + ALIGN {
                *v = Vec::new();
            }
            r
        }
        // Re-entered on this thread: use a one-off buffer.
        Err(_) => f(aligned(&mut Vec::new(), len)),
    })
}
