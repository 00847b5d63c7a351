//! What the crash tests share: running this test binary again as a child and killing it.

use rand::Rng;
use std::process::{Command, Stdio};
use std::time::Duration;

/// Runs test `child` of this test binary with `env`, and kills it with SIGKILL at a random
/// moment 0.3 to 1.5 s later (the point of a crash test, not a wait for a condition).
/// Panics if the child ended on its own before (it failed).
pub fn kill_at_random_moment(
    child: &str,
    env: &[(&str, String)],
    rng: &mut impl Rng,
    round: usize,
) {
    let exe = std::env::current_exe().unwrap();
    let mut c = Command::new(&exe)
        .args(["--exact", child, "--nocapture", "--test-threads=1"])
        .envs(env.iter().map(|(k, v)| (k, v)))
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    std::thread::sleep(Duration::from_millis(rng.gen_range(300..1500)));
    if let Ok(Some(status)) = c.try_wait() {
        let mut err = String::new();
        std::io::Read::read_to_string(c.stderr.as_mut().unwrap(), &mut err).unwrap();
        panic!("round {round}: the child exited on its own ({status}): {err}");
    }
    c.kill().unwrap(); // SIGKILL
    c.wait().unwrap();
}

/// The 4 KiB block write `seq` puts in `slot`: both numbers, then filler.
pub fn block(seq: u64, slot: u64) -> Vec<u8> {
    let mut b = vec![(seq % 251) as u8; 4096];
    b[..8].copy_from_slice(&seq.to_le_bytes());
    b[8..16].copy_from_slice(&slot.to_le_bytes());
    b
}
