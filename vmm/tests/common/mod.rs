//! What the VMM's tests share: whether KVM is here, and booting a guest with a console
//! captured and a time limit.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};
pub use vsa_e2e::kvm_here;
use vsa_vmm::kvm::{run, Exit, VmConfig};

#[derive(Clone, Default)]
struct Console(Arc<Mutex<Vec<u8>>>);

impl Write for Console {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(buf);
        Ok(buf.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Boots `elf` with `disks` (vhost-user-blk sockets) until it stops; how it stopped and
/// what it printed.
#[allow(dead_code)] // not every test file uses it
pub fn boot(elf: &Path, disks: Vec<PathBuf>) -> (Exit, String) {
    run_config(VmConfig {
        memory: 64 << 20,
        vcpus: 1,
        kernel: elf.to_owned(),
        initrd: None,
        cmdline: String::new(),
        disks,
        nets: vec![],
        confine: false,
    })
}

/// Boots `elf` with a kernel command line and no disks.
#[allow(dead_code)] // not every test file uses it
pub fn boot_with_cmdline(elf: &Path, cmdline: &str) -> (Exit, String) {
    run_config(VmConfig {
        memory: 64 << 20,
        vcpus: 1,
        kernel: elf.to_owned(),
        initrd: None,
        cmdline: cmdline.to_owned(),
        disks: vec![],
        nets: vec![],
        confine: false,
    })
}

/// Boots `config` until it stops; how it stopped and what it printed.
pub fn run_config(config: VmConfig) -> (Exit, String) {
    let console = Console::default();
    // A guest that never stops must fail the test, not hang it.
    let (tx, rx) = std::sync::mpsc::channel();
    let sink = Box::new(console.clone());
    std::thread::spawn(move || tx.send(run(&config, sink)));
    let (exit, _) = rx
        .recv_timeout(std::time::Duration::from_secs(120))
        .expect("the guest did not stop within two minutes")
        .unwrap();
    let text = String::from_utf8_lossy(&console.0.lock().unwrap()).into_owned();
    (exit, text)
}
