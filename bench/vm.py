#!/usr/bin/env python3
"""VM benchmark: the bundled VMM's start time and memory overhead, beside qemu's microvm
booting the same kind of guest where this machine lets it, and linked-clone VMs made and
started from one golden image. One run, medians over RUNS starts.

  start: `vsa __vm-runner` (one VM per process, as the daemon starts it) from exec to the
         guest's first byte on the serial console, and to the process's exit (the guest
         prints a line and resets the machine through the i8042).
         Two guests: one entered by PVH (32-bit, it turns on 64-bit paging itself) that
         ends with a triple fault, and a 64-bit ELF entered in long mode that resets.
  qemu:  `qemu-system-x86_64 -M microvm` booting the same PVH guest (qemu boots ELF
         kernels only that way) until it exits (-no-reboot), with KVM, else under TCG
         (said in the table).
  memory: an idle VM with 256 MiB: the runner's resident memory beyond guest memory
         (VmRSS - RssShmem: guest memory is a shared memfd), and the private part of it
         (RssAnon; the rest is the binary's file pages, shared with the daemon), beside
         qemu's with its guest memory in a memfd too.
  clones: a daemon with its default pool; a 64 MiB golden volume is snapshotted, then 10
         VMs are created with --clone-of and started (each boots, prints and powers off).

Usage: [VSA_BIN=path] bench/vm.py [RUNS=20]
Needs /dev/kvm, binutils (as, ld), and for the qemu column qemu-system-x86.
"""

import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
RUNS = int(sys.argv[1]) if len(sys.argv) > 1 else 20

POWER_OFF = "    mov $0xfe, %al\n    outb %al, $0x64\n3:  hlt\n    jmp 3b\n"
IDLE = "3:  hlt\n    jmp 3b\n"
FAULT = "    ud2\n"

LONG_MODE_GUEST = """.code64
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
msg: .ascii "vsa bench guest\\n"
.set len, . - msg
"""

# The same guest entered by PVH: it enables 64-bit paging itself (see tests/src/asm.rs).
PVH_GUEST = """.section .note.pvh, "a"
    .p2align 2
    .long 4, 4, 18
    .asciz "Xen"
    .long _start
.code32
.text
.global _start
_start:
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
msg: .ascii "vsa bench guest\\n"
.set len, . - msg
gdt: .quad 0, 0x00af9b000000ffff, 0x00cf93000000ffff
gdtr: .word 23
    .long gdt
.bss
.p2align 12
pml4: .skip 4096
pdpt: .skip 4096
pd: .skip 4096
"""


def run(cmd, **kw):
    return subprocess.run(cmd, check=True, capture_output=True, text=True, **kw).stdout


def assemble(work, name, source):
    s, o, elf = (os.path.join(work, f"{name}.{x}") for x in ("s", "o", "elf"))
    with open(s, "w") as f:
        f.write(source)
    run(["as", "--64", "-o", o, s])
    run(["ld", "-nostdlib", "-static", "-Ttext=0x100000", "-e", "_start", "-o", elf, o])
    return elf


def vsa_binary():
    if os.environ.get("VSA_BIN"):
        return os.environ["VSA_BIN"]
    subprocess.run(["cargo", "build", "--release", "-q", "-p", "vsa-appliance"], cwd=ROOT, check=True)
    meta = json.loads(run(["cargo", "metadata", "--format-version", "1", "--no-deps"], cwd=ROOT))
    return os.path.join(meta["target_directory"], "release", "vsa")


def timed_boot(cmd, limit=20.0):
    """Seconds from exec to the first console byte and to exit (None, None on failure)."""
    t0 = time.perf_counter()
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    first = p.stdout.read(1)
    t1 = time.perf_counter()
    p.stdout.read()
    try:
        p.wait(timeout=limit)
    except subprocess.TimeoutExpired:
        p.kill()
        p.wait()
        return None, None
    t2 = time.perf_counter()
    if not first:
        return None, None
    return t1 - t0, t2 - t0


def median_boot(cmd):
    firsts, ends = [], []
    for _ in range(RUNS):
        a, b = timed_boot(cmd)
        if a is None:
            return None, None
        firsts.append(a)
        ends.append(b)
    return statistics.median(firsts), statistics.median(ends)


def overhead_kib(cmd):
    """An idle VM's resident memory beyond its (shared) guest memory, and the private
    (anonymous) part of it, in KiB: the rest is the program's own file pages, shared with
    every other process running the same binary (for vsa, the daemon)."""
    p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL)
    try:
        if not p.stdout.read(1):
            return None, None
        time.sleep(1.0)
        fields = {}
        with open(f"/proc/{p.pid}/status") as f:
            for line in f:
                k, _, v = line.partition(":")
                if v.strip().endswith("kB"):
                    fields[k] = int(v.split()[0])
        return fields["VmRSS"] - fields.get("RssShmem", 0), fields.get("RssAnon", 0)
    finally:
        p.kill()
        p.wait()


def qemu_cmd(accel, elf, extra=()):
    return [
        "qemu-system-x86_64", "-M", "microvm", "-accel", accel, "-nodefaults", "-no-user-config",
        "-nographic", "-serial", "stdio", "-no-reboot", "-m", "256M", "-kernel", elf, *extra,
    ]


def clones(vsa, work, hello):
    data = os.path.join(work, "daemon")
    os.makedirs(data)
    cli = lambda *a: run([vsa, "--data-dir", data, *a])
    d = subprocess.Popen(
        [vsa, "serve", "--data-dir", data, "--api", "127.0.0.1:0", "--iscsi", "127.0.0.1:0"],
        stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    try:
        for _ in range(600):
            if os.path.exists(os.path.join(data, "api.addr")):
                break
            time.sleep(0.1)
        gold = os.path.join(work, "gold.raw")
        with open(gold, "wb") as f:
            f.truncate(64 << 20)
        cli("volume", "import", gold, "gold", "--format", "raw")
        cli("volume", "snapshot", "gold", "base")
        t0 = time.perf_counter()
        for i in range(10):
            cli("vm", "create", f"vm{i}", "--kernel", hello, "--memory", "64M", "--clone-of", "gold@base")
            cli("vm", "start", f"vm{i}")
        made = time.perf_counter() - t0
        for i in range(10):
            for _ in range(600):
                v = json.loads(cli("--json", "vm", "show", f"vm{i}"))
                if v["state"] != "running" and v["starts"] == 1:
                    break
                time.sleep(0.05)
        return made
    finally:
        d.terminate()
        d.wait()


def main():
    if not os.access("/dev/kvm", os.R_OK | os.W_OK):
        sys.exit("no /dev/kvm here")
    vsa = vsa_binary()
    work = tempfile.mkdtemp(prefix="vsa-vm-bench.")
    try:
        hello = assemble(work, "hello", LONG_MODE_GUEST.format(ending=POWER_OFF))
        idle = assemble(work, "idle", LONG_MODE_GUEST.format(ending=IDLE))
        pvh_fault = assemble(work, "pvh", PVH_GUEST.format(ending=FAULT))
        pvh_idle = assemble(work, "pvh-idle", PVH_GUEST.format(ending=IDLE))
        runner = lambda elf, mem="64M": [vsa, "__vm-runner", "--kernel", elf, "--memory", mem]

        rows = []
        first, end = median_boot(runner(pvh_fault))
        rows.append(("vsa VMM (PVH entry)", first, end, overhead_kib(runner(pvh_idle, "256M"))))
        first, end = median_boot(runner(hello))
        rows.append(("vsa VMM (64-bit ELF entry)", first, end, overhead_kib(runner(idle, "256M"))))
        if shutil.which("qemu-system-x86_64"):
            memfd = ["-object", "memory-backend-memfd,id=m,size=256M,share=on", "-machine", "memory-backend=m"]
            for accel in ("kvm", "tcg"):
                first, end = median_boot(qemu_cmd(accel, pvh_fault))
                if first is not None:
                    kib = overhead_kib(qemu_cmd(accel, pvh_idle, memfd))
                    rows.append((f"qemu -M microvm, {accel} (PVH entry)", first, end, kib))
                    break
                rows.append((f"qemu -M microvm, {accel} (PVH entry)", None, None, None))
        made = clones(vsa, work, hello)

        ms = lambda s: "n/a" if s is None else f"{s * 1000:.1f} ms"
        mib = lambda k: "n/a" if k is None else f"{k / 1024:.1f} MiB"
        print(f"\nmedian of {RUNS} starts; memory of an idle 256 MiB VM beyond guest memory\n")
        print("| VMM | exec to first UART byte | exec to exit | resident beyond guest memory | of which private |")
        print("| --- | --- | --- | --- | --- |")
        for name, a, b, k in rows:
            rss, anon = k if k else (None, None)
            print(f"| {name} | {ms(a)} | {ms(b)} | {mib(rss)} | {mib(anon)} |")
        print(f"\n10 linked-clone VMs created and started (vsa vm create --clone-of + start): {ms(made)}")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
