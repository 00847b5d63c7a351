//! The VMM on this machine's KVM: small 64-bit guests, assembled here with binutils
//! (`as`, `ld`) into ELF files loaded at 1 MiB, print on COM1, reset through the i8042
//! or fault, and the VM stops with the matching reason.
//!
//! Without /dev/kvm the tests say so on stderr and pass without running a guest.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, Mutex};
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

/// Assembles `body` (AT&T syntax, 64-bit, `_start` first) into an ELF linked at 1 MiB.
fn guest(dir: &Path, name: &str, body: &str) -> PathBuf {
    let src = dir.join(format!("{name}.s"));
    let obj = dir.join(format!("{name}.o"));
    let elf = dir.join(format!("{name}.elf"));
    std::fs::write(
        &src,
        format!(".code64\n.text\n.global _start\n_start:\n{body}\n"),
    )
    .unwrap();
    let ok = |c: &mut Command| {
        let o = c
            .output()
            .expect("binutils (as, ld) are needed: apt-get install binutils");
        assert!(
            o.status.success(),
            "{c:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    };
    ok(Command::new("as").args(["--64", "-o"]).arg(&obj).arg(&src));
    ok(Command::new("ld")
        .args([
            "-nostdlib",
            "-static",
            "-Ttext=0x100000",
            "-e",
            "_start",
            "-o",
        ])
        .arg(&elf)
        .arg(&obj));
    elf
}

fn kvm_here() -> bool {
    let here = std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_ok();
    if !here {
        eprintln!("NOT RUN: /dev/kvm cannot be opened on this machine; no guest was booted");
    }
    here
}

fn boot(elf: &Path) -> (Exit, String) {
    let console = Console::default();
    let config = VmConfig {
        memory: 64 << 20,
        kernel: elf.to_owned(),
        initrd: None,
        cmdline: String::new(),
    };
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

/// Prints the string at `msg` (length `len`) on COM1, polling the line status register.
const PRINT: &str = r#"
    lea msg(%rip), %rsi
    mov $len, %rcx
1:  mov $0x3fd, %dx
2:  inb %dx, %al
    test $0x20, %al
    jz 2b
    mov $0x3f8, %dx
    lodsb
    outb %al, %dx
    loop 1b
"#;

#[test]
fn a_64_bit_guest_prints_on_the_serial_console_and_powers_off() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let elf = guest(
        tmp.path(),
        "hello",
        &format!("{PRINT}\n{OFF}\nmsg: .ascii \"vsa guest: hello from long mode\\n\"\n.set len, . - msg\n"),
    );
    let (exit, console) = boot(&elf);
    assert_eq!(exit, Exit::Reset, "{console}");
    assert_eq!(console, "vsa guest: hello from long mode\n");
}

/// Powers the machine off the way Linux's `reboot=k` does: the i8042 reset command.
/// (With the in-kernel interrupt controller a HLT waits for an interrupt inside KVM; it
/// does not stop the VM.)
const OFF: &str = "    mov $0xfe, %al\n    outb %al, $0x64\n1:  hlt\n    jmp 1b\n";

#[test]
fn a_guest_that_faults_without_handlers_stops_with_a_reason() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    // An invalid opcode with an empty IDT: #UD, then #DF, then a triple fault.
    let elf = guest(tmp.path(), "fault", "    ud2\n");
    let (exit, _) = boot(&elf);
    assert_eq!(exit, Exit::TripleFault);
}

#[test]
fn a_missing_or_bad_kernel_is_an_error_naming_the_file() {
    if !kvm_here() {
        return;
    }
    let tmp = tempfile::tempdir().unwrap();
    let bad = tmp.path().join("not-elf");
    std::fs::write(&bad, b"not an ELF file at all").unwrap();
    for path in [tmp.path().join("missing"), bad] {
        let config = VmConfig {
            memory: 16 << 20,
            kernel: path.clone(),
            initrd: None,
            cmdline: String::new(),
        };
        match run(&config, Box::new(std::io::sink())) {
            Err(e) => assert!(e.to_string().contains(&*path.to_string_lossy()), "{e}"),
            Ok(r) => panic!("{} booted: {r:?}", path.display()),
        }
    }
}
