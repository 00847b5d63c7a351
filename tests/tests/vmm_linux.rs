//! The bundled VMM's Linux boot path with Debian's kernel (the one the guest tests use,
//! fetched once with apt-get download):
//!
//! - without running it: the bzImage is loaded into guest memory and the zero page, the
//!   e820 map, the command line and the initrd are checked against the Linux x86 boot
//!   protocol;
//! - running it with `vsa __vm-runner` (the process the daemon starts per VM) on KVM, where
//!   this machine's KVM can run a stock kernel: the guest's init runs a script and the
//!   console shows its end marker. These machines' paravirtual KVM cannot run one; the
//!   test then says so in its output.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use linux_loader::loader::bootparam::boot_params;
use std::io::Read;
use std::process::{Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};
use vsa_e2e::guest::{end_status, Guest, Kernel};
use vsa_vmm::boot::linux::{load, LinuxBoot, E820_RAM, EBDA_START};
use vsa_vmm::kvm::layout::{CMDLINE, HIMEM_START, ZERO_PAGE};

const MEM: u64 = 256 << 20;
const CMDLINE_TEXT: &str = "console=ttyS0 earlyprintk=serial,ttyS0,115200 reboot=k panic=-1";

#[test]
fn debian_s_bzimage_is_loaded_by_the_boot_protocol() {
    let kernel = Kernel::get().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let initrd = tmp.path().join("initrd");
    let initrd_bytes: Vec<u8> = (0..3_000_001u32).map(|i| (i % 251) as u8).collect();
    std::fs::write(&initrd, &initrd_bytes).unwrap();
    let mem = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), MEM as usize)]).unwrap();
    let boot = LinuxBoot {
        kernel: kernel.vmlinuz.clone(),
        initrd: Some(initrd.clone()),
        cmdline: CMDLINE_TEXT.into(),
    };
    let entry = load(&mem, MEM, &boot).unwrap();
    assert_eq!(
        (entry.rip, entry.rsi),
        (HIMEM_START + 0x200, ZERO_PAGE),
        "64-bit entry, zero page in rsi"
    );

    let p: boot_params = mem.read_obj(GuestAddress(ZERO_PAGE)).unwrap();
    let h = p.hdr;
    let (magic, flag, version, loader, loadflags) = (
        h.header,
        h.boot_flag,
        h.version,
        h.type_of_loader,
        h.loadflags,
    );
    assert_eq!(
        (magic, flag),
        (0x5372_6448, 0xaa55),
        "HdrS and the boot flag"
    );
    assert!(version >= 0x020c, "protocol {version:#x}");
    assert_eq!(loader, 0xff, "an undefined boot loader");
    assert_eq!(loadflags & 0x81, 0x81, "LOADED_HIGH and CAN_USE_HEAP");

    // The command line: where the header says, NUL-terminated, its size counted.
    let (ptr, size) = (h.cmd_line_ptr, h.cmdline_size);
    assert_eq!(u64::from(ptr), CMDLINE);
    let mut line = vec![0u8; CMDLINE_TEXT.len() + 1];
    mem.read_slice(&mut line, GuestAddress(CMDLINE)).unwrap();
    assert_eq!(&line[..CMDLINE_TEXT.len()], CMDLINE_TEXT.as_bytes());
    assert_eq!(
        (line[CMDLINE_TEXT.len()], size as usize),
        (0, CMDLINE_TEXT.len() + 1)
    );

    // The memory map: conventional memory below the EBDA, then 1 MiB to the end.
    let n = p.e820_entries as usize;
    let map: Vec<(u64, u64, u32)> = p.e820_table[..n]
        .iter()
        .map(|e| (e.addr, e.size, e.r#type))
        .collect();
    assert_eq!(
        map,
        [
            (0, EBDA_START, E820_RAM),
            (HIMEM_START, MEM - HIMEM_START, E820_RAM)
        ]
    );

    // The protected-mode kernel at 1 MiB is the file past its setup sectors.
    let file = std::fs::read(&kernel.vmlinuz).unwrap();
    let setup = (usize::from(h.setup_sects).max(4) + 1) * 512;
    let mut head = vec![0u8; 4096];
    mem.read_slice(&mut head, GuestAddress(HIMEM_START))
        .unwrap();
    assert_eq!(head, file[setup..setup + 4096]);
    let kernel_end = HIMEM_START + (file.len() - setup) as u64;

    // The initrd: page-aligned, above the kernel, below both limits, intact.
    let (at, len, max) = (
        u64::from(h.ramdisk_image),
        u64::from(h.ramdisk_size),
        u64::from(h.initrd_addr_max),
    );
    assert_eq!(len, initrd_bytes.len() as u64);
    assert_eq!(at % 4096, 0, "{at:#x}");
    assert!(
        at >= kernel_end && at + len <= MEM.min(max + 1),
        "{at:#x}+{len:#x}"
    );
    let mut back = vec![0u8; initrd_bytes.len()];
    mem.read_slice(&mut back, GuestAddress(at)).unwrap();
    assert!(back == initrd_bytes, "the initrd's bytes differ");

    // What cannot be booted is refused with the reason.
    let small = GuestMemoryMmap::<()>::from_ranges(&[(GuestAddress(0), 16 << 20)]).unwrap();
    let big = tmp.path().join("big-initrd");
    std::fs::write(&big, vec![1u8; 12 << 20]).unwrap();
    let e = load(
        &small,
        16 << 20,
        &LinuxBoot {
            initrd: Some(big),
            ..boot.clone()
        },
    )
    .unwrap_err();
    assert!(
        e.to_string().contains("big-initrd") && e.to_string().contains("more memory"),
        "{e}"
    );
    let e = load(
        &mem,
        MEM,
        &LinuxBoot {
            cmdline: "x".repeat(4096),
            ..boot.clone()
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("command line"), "{e}");
    let e = load(
        &mem,
        MEM,
        &LinuxBoot {
            kernel: initrd,
            ..boot
        },
    )
    .unwrap_err();
    assert!(e.to_string().contains("initrd"), "{e}");
}

#[test]
fn debian_s_kernel_boots_on_kvm_where_kvm_can_run_it() {
    if std::fs::OpenOptions::new()
        .read(true)
        .write(true)
        .open("/dev/kvm")
        .is_err()
    {
        eprintln!("NOT RUN: /dev/kvm cannot be opened here; no Linux guest was booted");
        return;
    }
    let kernel = Kernel::get().unwrap();
    let tmp = tempfile::tempdir().unwrap();
    let initrd = tmp.path().join("initramfs.cpio");
    let image = Guest::new()
        .initramfs_image("echo hello from the vsa VMM")
        .unwrap();
    std::fs::write(&initrd, image).unwrap();
    let mut child = Command::new(vsa_e2e::vsa_bin())
        .args([
            "__vm-runner",
            "--memory",
            "512M",
            "--cmdline",
            CMDLINE_TEXT,
            "--kernel",
        ])
        .arg(&kernel.vmlinuz)
        .arg("--initrd")
        .arg(&initrd)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let console = Arc::new(Mutex::new(String::new()));
    let mut out = child.stdout.take().unwrap();
    let sink = console.clone();
    std::thread::spawn(move || {
        let mut buf = [0u8; 4096];
        while let Ok(n) = out.read(&mut buf) {
            if n == 0 {
                break;
            }
            sink.lock()
                .unwrap()
                .push_str(&String::from_utf8_lossy(&buf[..n]));
        }
    });
    // A kernel that runs prints its banner within seconds; one that does, gets minutes.
    let started = Instant::now();
    let outcome = loop {
        let text = console.lock().unwrap().clone();
        if let Some(status) = end_status(&text) {
            break Some((status, text));
        }
        let exited = child.try_wait().unwrap();
        let limit = if text.contains("Linux version") {
            300
        } else {
            20
        };
        if exited.is_some() || started.elapsed() > Duration::from_secs(limit) {
            break None;
        }
        std::thread::sleep(Duration::from_millis(100));
    };
    let _ = child.kill();
    let _ = child.wait();
    let mut err = String::new();
    let _ = child.stderr.take().unwrap().read_to_string(&mut err);
    let text = console.lock().unwrap().clone();
    match outcome {
        Some((status, text)) => {
            assert_eq!(status, 0, "{text}");
            assert!(text.contains("hello from the vsa VMM"), "{text}");
        }
        None if !text.contains("Linux version") => eprintln!(
            "NOT RUN: this machine's KVM did not run Debian's kernel (no output within 20 s; \
             the runner said: {}); the Linux boot path is checked without running by \
             debian_s_bzimage_is_loaded_by_the_boot_protocol",
            err.trim()
        ),
        None => panic!("the kernel started but did not reach the init script:\n{text}\n{err}"),
    }
}
