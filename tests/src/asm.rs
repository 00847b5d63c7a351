//! Small 64-bit guests for the VMM's tests, built into ELF files linked at 1 MiB:
//! assembled ones (binutils `as`, `ld`) that print a line on COM1 and then end some way,
//! and freestanding C ones (gcc) such as the virtio-blk driver in `guests/virtio_blk.c`.

use std::path::{Path, PathBuf};
use std::process::Command;

/// Ends by idling: HLT in a loop (the VM keeps running).
pub const IDLE: &str = "3:  hlt\n    jmp 3b\n";
/// Ends by powering off the way Linux's `reboot=k` does: the i8042 reset command. (With
/// the in-kernel interrupt controller a HLT waits inside KVM; it does not stop the VM.)
pub const POWER_OFF: &str = "    mov $0xfe, %al\n    outb %al, $0x64\n3:  hlt\n    jmp 3b\n";
/// Ends by printing `tick` lines on COM1 forever, each after 100 million TSC cycles (a
/// guest whose progress shows on its console).
pub const TICK: &str = "3:  lea tick(%rip), %rsi\n    mov $5, %rcx\n    mov $0x3f8, %dx\n5:  lodsb\n    outb %al, %dx\n    loop 5b\n    rdtsc\n    shl $32, %rdx\n    or %rax, %rdx\n    lea 100000000(%rdx), %rdi\n4:  pause\n    rdtsc\n    shl $32, %rdx\n    or %rax, %rdx\n    cmp %rdi, %rdx\n    jb 4b\n    jmp 3b\ntick: .ascii \"tick\\n\"\n";
/// Ends with an invalid opcode and no IDT: #UD, #DF, a triple fault.
pub const FAULT: &str = "    ud2\n";

/// Assembles a guest into `dir/name.elf` that prints `line` (and a newline) on COM1,
/// polling the line status register, then runs `ending`.
pub fn guest(dir: &Path, name: &str, line: &str, ending: &str) -> PathBuf {
    let src = dir.join(format!("{name}.s"));
    let obj = dir.join(format!("{name}.o"));
    let elf = dir.join(format!("{name}.elf"));
    let asm = format!(
        r#".code64
.text
.global _start
_start:
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
{ending}
msg: .ascii "{line}\n"
.set len, . - msg
"#
    );
    std::fs::write(&src, asm).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut assemble = Command::new("as");
    assemble.args(["--64", "-o"]).arg(&obj).arg(&src);
    let mut link = Command::new("ld");
    link.args([
        "-nostdlib",
        "-static",
        "-Ttext=0x100000",
        "-e",
        "_start",
        "-o",
    ])
    .arg(&elf)
    .arg(&obj);
    for cmd in [&mut assemble, &mut link] {
        let o = cmd.output().unwrap_or_else(|e| {
            panic!("{cmd:?}: {e} (binutils is needed: apt-get install binutils)")
        });
        assert!(
            o.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    elf
}

/// Assembles a guest into `dir/name.elf` entered by PVH (it carries the
/// `XEN_ELFNOTE_PHYS32_ENTRY` note, so our VMM and qemu's microvm boot it alike): from
/// 32-bit protected mode it turns on 64-bit paging itself, checks the start info's magic,
/// prints the command line it was given and then `line` on COM1, and runs `ending`.
pub fn pvh_guest(dir: &Path, name: &str, line: &str, ending: &str) -> PathBuf {
    let src = dir.join(format!("{name}.s"));
    let obj = dir.join(format!("{name}.o"));
    let elf = dir.join(format!("{name}.elf"));
    let asm = format!(
        r#".section .note.pvh, "a"
    .p2align 2
    .long 4, 4, 18
    .asciz "Xen"
    .long pvh_start
.code32
.text
.global _start
_start:
pvh_start:
    mov %ebx, %edi
    mov $pdpt, %eax
    or $3, %eax
    mov %eax, pml4
    mov $pd, %eax
    or $3, %eax
    mov %eax, pdpt
    xor %ecx, %ecx
1:  mov %ecx, %eax
    shl $21, %eax
    or $0x83, %eax
    mov %eax, pd(,%ecx,8)
    inc %ecx
    cmp $512, %ecx
    jb 1b
    mov $pml4, %eax
    mov %eax, %cr3
    mov %cr4, %eax
    or $0x20, %eax
    mov %eax, %cr4
    mov $0xc0000080, %ecx
    rdmsr
    or $0x100, %eax
    wrmsr
    mov %cr0, %eax
    or $0x80000001, %eax
    mov %eax, %cr0
    lgdt gdtr
    ljmp $0x08, $long
.code64
long:
    mov $0x10, %ax
    mov %ax, %ds
    mov %ax, %es
    mov %ax, %ss
    lea stack_top(%rip), %rsp
    cmpl $0x336ec578, (%rdi)
    jne 3f
    mov 24(%rdi), %rsi
    call print
    lea newline(%rip), %rsi
    call print
3:  lea msg(%rip), %rsi
    call print
{ending}
print:
    mov $0x3fd, %dx
2:  inb %dx, %al
    test $0x20, %al
    jz 2b
    lodsb
    test %al, %al
    jz 4f
    mov $0x3f8, %dx
    outb %al, %dx
    jmp print
4:  ret
msg: .asciz "{line}
"
newline: .asciz "
"
gdt: .quad 0, 0x00af9b000000ffff, 0x00cf93000000ffff
gdtr: .word 23
    .long gdt
.bss
.p2align 12
pml4: .skip 4096
pdpt: .skip 4096
pd: .skip 4096
.skip 4096
stack_top:
"#
    );
    std::fs::write(&src, asm).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut assemble = Command::new("as");
    assemble.args(["--64", "-o"]).arg(&obj).arg(&src);
    let mut link = Command::new("ld");
    link.args([
        "-nostdlib",
        "-static",
        "-Ttext=0x100000",
        "-e",
        "_start",
        "-o",
    ])
    .arg(&elf)
    .arg(&obj);
    for cmd in [&mut assemble, &mut link] {
        let o = cmd
            .output()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e} (binutils is needed)"));
        assert!(
            o.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    elf
}

/// The C source of the guest that drives virtio-blk disks over virtio-mmio (polling):
/// per disk it prints `disk N: capacity C sectors, read-only R`, `disk N: read status S
/// fnv1a H` (the FNV-1a hash of the first 64 KiB), `disk N: before write status S fnv1a
/// H` (the 4 KiB at sector 2048), `disk N: write status S flush status S read-back status
/// S matches` (the block [`written_block`] there), then `virtio-blk guest done: N disks`,
/// and powers off.
pub const VIRTIO_BLK_GUEST: &str = include_str!("guests/virtio_blk.c");

/// The C source of a guest that prints `waiting for ctrl-alt-del`, polls its i8042
/// keyboard until Ctrl+Alt+Del is typed, prints `ctrl-alt-del: shutting down` and powers
/// off.
pub const KEYBOARD_GUEST: &str = include_str!("guests/keyboard.c");

/// The C source of the guest that drives a virtio-net card over virtio-mmio (polling):
/// it prints `virtio-net: mac M`, sends a UDP datagram `hello from M` from 10.0.2.15:5555
/// to 10.0.2.1:5555 (Ethernet broadcast), resending it every second or so until a UDP
/// datagram for port 5555 arrives, prints `virtio-net: received TEXT`, answers `echo:
/// TEXT` to its sender, prints `virtio-net guest done` and powers off (or prints
/// `virtio-net: nothing received` after a minute).
pub const VIRTIO_NET_GUEST: &str = include_str!("guests/virtio_net.c");

/// The C source of the guest that reads the MP table and starts its application
/// processors: it prints `mp table: N processors, bootstrap apic B, ioapic at A` and
/// `cpus up: K of M`, and powers off.
pub const SMP_GUEST: &str = include_str!("guests/smp.c");

/// The C source of a guest that prints `type a line`, then for each line typed on its
/// serial console prints `echo: ` and the line in capitals; `quit` makes it print `bye`
/// and power off.
pub const ECHO_GUEST: &str = include_str!("guests/echo.c");

/// The C source of the guest that measures its first virtio-blk disk (polling, 32
/// requests in flight, 8 of 1 MiB): it prints `seq start`, reads the whole disk in 1 MiB
/// requests, prints `seq done BYTES errors E`, then `rand start`, reads 4 KiB at 20,000
/// pseudo-random places, prints `rand done 20000 errors E`, and powers off
/// (`appliance/benches/virtio_blk.rs` times the lines).
pub const BLK_BENCH_GUEST: &str = include_str!("guests/blk_bench.c");

/// The C source of a guest that writes garbage to every virtio-mmio device's registers,
/// sets them up with random queues of garbage descriptors and kicks them, writes random
/// I/O ports, then prints `chaos done: N devices` and powers off (64 MiB of memory
/// at least).
pub const CHAOS_GUEST: &str = include_str!("guests/chaos.c");

/// The 4 KiB block the virtio-blk guest writes at sector 2048 of disk `disk`.
pub fn written_block(disk: u8) -> Vec<u8> {
    let mut b = format!("written by the virtio-blk test guest on disk {disk}\n").into_bytes();
    let n = b.len();
    b.extend((n..4096).map(|k| k as u8));
    b
}

/// The FNV-1a hash (64-bit) the virtio-blk guest prints, as it prints it.
pub fn fnv1a(bytes: &[u8]) -> String {
    let h = bytes.iter().fold(0xcbf2_9ce4_8422_2325u64, |h, &b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    });
    format!("{h:016x}")
}

/// What the C guests share: `guest.h` (types, the entry, port I/O, the console and the
/// virtio-mmio helpers) and `blk.h` (a polling virtio-blk queue).
const HEADERS: [(&str, &str); 2] = [
    ("guest.h", include_str!("guests/guest.h")),
    ("blk.h", include_str!("guests/blk.h")),
];

/// Compiles the freestanding C `source` into `dir/name.elf` (no SSE, no red zone, one
/// segment at 1 MiB, entered at `_start`).
pub fn c_guest(dir: &Path, name: &str, source: &str) -> PathBuf {
    let src = dir.join(format!("{name}.c"));
    let obj = dir.join(format!("{name}.o"));
    let elf = dir.join(format!("{name}.elf"));
    for (name, text) in HEADERS {
        let header = dir.join(name);
        std::fs::write(&header, text).unwrap_or_else(|e| panic!("{}: {e}", header.display()));
    }
    std::fs::write(&src, source).unwrap_or_else(|e| panic!("{}: {e}", src.display()));
    let mut compile = Command::new("gcc");
    compile
        .args([
            "-c",
            "-O2",
            "-ffreestanding",
            "-fno-pic",
            "-mno-red-zone",
            "-mgeneral-regs-only",
            "-fno-stack-protector",
            "-fcf-protection=none",
            "-fno-asynchronous-unwind-tables",
            "-Wall",
            "-Werror",
            "-o",
        ])
        .arg(&obj)
        .arg(&src);
    let mut link = Command::new("ld");
    link.args([
        "-nostdlib",
        "-static",
        "-N",
        "--no-warn-rwx-segments",
        "-Ttext=0x100000",
        "-e",
        "_start",
        "-o",
    ])
    .arg(&elf)
    .arg(&obj);
    for cmd in [&mut compile, &mut link] {
        let o = cmd
            .output()
            .unwrap_or_else(|e| panic!("{cmd:?}: {e} (gcc and binutils are needed)"));
        assert!(
            o.status.success(),
            "{cmd:?}: {}",
            String::from_utf8_lossy(&o.stderr)
        );
    }
    elf
}
