//! A vCPU ready to run 64-bit code: the boot GDT and identity page tables in guest
//! memory, long-mode segment and control registers, the host's supported CPUID.

use super::layout::*;
use super::KvmError;
use crate::boot::{Entry, Mode};
use kvm_bindings::{kvm_segment, KVM_MAX_CPUID_ENTRIES};
use kvm_ioctls::{Kvm, VcpuFd};
use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

const CR0_PE: u64 = 1;
const CR0_ET: u64 = 1 << 4;
const CR0_PG: u64 = 1 << 31;
const CR4_PAE: u64 = 1 << 5;
const EFER_LME: u64 = 1 << 8;
const EFER_LMA: u64 = 1 << 10;

/// GDT entries: (flags and access in Intel's packing, base, limit).
const GDT_ENTRIES: [(u16, u32, u32); 5] = [
    (0, 0, 0),            // null
    (0xa09b, 0, 0xfffff), // 0x08: 64-bit code
    (0xc093, 0, 0xfffff), // 0x10: data
    (0x808b, 0, 0xfffff), // 0x18: TSS (busy), which VMX requires
    (0xc09b, 0, 0xfffff), // 0x20: 32-bit code (PVH entry)
];

/// A GDT descriptor from its flags, base and limit.
fn gdt_entry((flags, base, limit): (u16, u32, u32)) -> u64 {
    ((u64::from(base) & 0xff00_0000) << 32)
        | ((u64::from(flags) & 0xf0ff) << 40)
        | ((u64::from(limit) & 0x000f_0000) << 32)
        | ((u64::from(base) & 0x00ff_ffff) << 16)
        | (u64::from(limit) & 0x0000_ffff)
}

/// The segment register KVM wants for GDT entry `index`.
fn segment(index: usize) -> kvm_segment {
    let (flags, base, limit) = GDT_ENTRIES[index];
    let bit = |n: u16| ((flags >> n) & 1) as u8;
    kvm_segment {
        base: u64::from(base),
        // KVM takes the limit in bytes: with 4 KiB granularity, the descriptor's limit
        // counts pages (long mode ignores limits, 32-bit code does not).
        limit: if bit(15) == 1 {
            (limit << 12) | 0xfff
        } else {
            limit
        },
        selector: (index as u16) * 8,
        type_: (flags & 0xf) as u8,
        present: bit(7),
        dpl: ((flags >> 5) & 3) as u8,
        db: bit(14),
        s: bit(4),
        l: bit(13),
        g: bit(15),
        avl: bit(12),
        unusable: u8::from(bit(7) == 0),
        padding: 0,
    }
}

/// Writes the GDT and the identity page tables (2 MiB pages over the first 4 GiB).
pub fn write_boot_tables(mem: &GuestMemoryMmap) -> Result<(), KvmError> {
    for (i, e) in GDT_ENTRIES.iter().enumerate() {
        mem.write_obj(gdt_entry(*e), GuestAddress(GDT + 8 * i as u64))
            .map_err(|e| KvmError::Memory(format!("the boot GDT: {e}")))?;
    }
    mem.write_obj(0u64, GuestAddress(IDT))
        .map_err(|e| KvmError::Memory(format!("the boot IDT: {e}")))?;
    let table = |what: &str, addr: u64, value: u64| {
        mem.write_obj(value, GuestAddress(addr))
            .map_err(|e| KvmError::Memory(format!("the boot page tables ({what}): {e}")))
    };
    table("PML4", PML4, PDPT | 0x3)?;
    for gib in 0..4u64 {
        table("PDPT", PDPT + gib * 8, (PD + gib * 0x1000) | 0x3)?;
    }
    for i in 0..4 * 512u64 {
        // Present, writable, 2 MiB page.
        table("PD", PD + i * 8, (i << 21) | 0x83)?;
    }
    Ok(())
}

/// Gives vCPU `id` of `count` the host's supported CPUID with its own topology: local
/// APIC id `id` (leaf 1 and the x2APIC leaves 0xB and 0x1F), `count` logical processors
/// in one package, one thread per core.
pub fn set_cpuid(kvm: &Kvm, vcpu: &VcpuFd, id: u8, count: u8) -> Result<(), KvmError> {
    let mut cpuid = kvm
        .get_supported_cpuid(KVM_MAX_CPUID_ENTRIES)
        .map_err(|e| KvmError::Kvm("KVM_GET_SUPPORTED_CPUID", e))?;
    for e in cpuid.as_mut_slice() {
        topology(e, id, count);
    }
    vcpu.set_cpuid2(&cpuid)
        .map_err(|e| KvmError::Kvm("KVM_SET_CPUID2", e))
}

/// Model-specific registers a vCPU starts with where KVM's reset values are not what a
/// PC's firmware leaves: fast string operations on (IA32_MISC_ENABLE bit 0), and the
/// MTRRs enabled with write-back as the default memory type (IA32_MTRR_DEF_TYPE: E and
/// type 6), so a Linux guest does not run its memory uncached or warn that MTRRs are off.
const BOOT_MSRS: [(u32, u64); 2] = [(0x1a0, 1), (0x2ff, (1 << 11) | 6)];

/// Sets [`BOOT_MSRS`] on `vcpu`.
pub fn set_msrs(vcpu: &VcpuFd) -> Result<(), KvmError> {
    let entries: Vec<kvm_bindings::kvm_msr_entry> = BOOT_MSRS
        .iter()
        .map(|&(index, data)| kvm_bindings::kvm_msr_entry {
            index,
            data,
            ..Default::default()
        })
        .collect();
    let msrs = kvm_bindings::Msrs::from_entries(&entries)
        .map_err(|e| KvmError::Devices(format!("the boot MSRs: {e:?}")))?;
    let set = vcpu
        .set_msrs(&msrs)
        .map_err(|e| KvmError::Kvm("KVM_SET_MSRS", e))?;
    if set != entries.len() {
        return Err(KvmError::Devices(format!(
            "KVM took {set} of the {} boot MSRs",
            entries.len()
        )));
    }
    Ok(())
}

/// The topology parts of one CPUID entry (Intel SDM vol. 2A, CPUID leaves 01H, 04H, 0BH,
/// 1FH).
fn topology(e: &mut kvm_bindings::kvm_cpuid_entry2, id: u8, count: u8) {
    let (id, count) = (u32::from(id), u32::from(count));
    // The bits of an APIC id that number the cores.
    let core_bits = 32 - (count.max(1) - 1).leading_zeros();
    match e.function {
        1 => {
            e.ebx = (e.ebx & 0xffff) | (count << 16) | (id << 24);
            if count > 1 {
                e.edx |= 1 << 28; // HTT: more than one logical processor per package
            }
        }
        4 if e.eax & 0x1f != 0 => {
            e.eax = (e.eax & 0x03ff_ffff) | ((count - 1) << 26);
        }
        0xb | 0x1f => {
            (e.eax, e.ebx, e.ecx) = match e.index {
                0 => (0, 1, 1 << 8),                   // SMT: one thread
                1 => (core_bits, count, (2 << 8) | 1), // cores: `count` of them
                n => (0, 0, n & 0xff),                 // no more levels
            };
            e.edx = id;
        }
        _ => {}
    }
}

/// Sets up the bootstrap vCPU to start at `entry`: in 64-bit mode with `rsi` as given
/// (the Linux 64-bit boot protocol passes the zero page there), or for PVH in 32-bit
/// protected mode, paging off, with the start info in `ebx`.
pub fn setup(vcpu: &VcpuFd, entry: &Entry) -> Result<(), KvmError> {
    let mut s = vcpu
        .get_sregs()
        .map_err(|e| KvmError::Kvm("KVM_GET_SREGS", e))?;
    s.gdt.base = GDT;
    s.gdt.limit = (GDT_ENTRIES.len() * 8 - 1) as u16;
    s.idt.base = IDT;
    s.idt.limit = 7;
    let pvh = entry.mode == Mode::Protected32;
    s.cs = segment(if pvh { 4 } else { 1 });
    let data = segment(2);
    s.ds = data;
    s.es = data;
    s.fs = data;
    s.gs = data;
    s.ss = data;
    s.tr = segment(3);
    if pvh {
        s.cr0 = CR0_PE | CR0_ET;
        s.cr3 = 0;
        s.cr4 = 0;
        s.efer = 0;
    } else {
        s.cr3 = PML4;
        s.cr4 |= CR4_PAE;
        s.cr0 |= CR0_PE | CR0_ET | CR0_PG;
        s.efer |= EFER_LME | EFER_LMA;
    }
    vcpu.set_sregs(&s)
        .map_err(|e| KvmError::Kvm("KVM_SET_SREGS", e))?;

    let mut r = vcpu
        .get_regs()
        .map_err(|e| KvmError::Kvm("KVM_GET_REGS", e))?;
    r.rflags = 0x2;
    r.rip = entry.rip;
    if pvh {
        r.rbx = entry.rsi;
    } else {
        r.rsp = STACK_TOP;
        r.rbp = STACK_TOP;
        r.rsi = entry.rsi;
    }
    vcpu.set_regs(&r)
        .map_err(|e| KvmError::Kvm("KVM_SET_REGS", e))?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gdt_entries_match_the_segments() {
        // The canonical flat 64-bit code descriptor.
        assert_eq!(gdt_entry(GDT_ENTRIES[1]), 0x00af_9b00_0000_ffff);
        assert_eq!(gdt_entry(GDT_ENTRIES[2]), 0x00cf_9300_0000_ffff);
        let cs = segment(1);
        assert_eq!(
            (cs.l, cs.db, cs.g, cs.present, cs.type_, cs.selector),
            (1, 0, 1, 1, 0xb, 8)
        );
        // 4 KiB granularity: the whole 4 GiB, in bytes as KVM wants it.
        let cs32 = segment(4);
        assert_eq!((cs32.l, cs32.db, cs32.limit), (0, 1, 0xffff_ffff));
        let tr = segment(3);
        assert_eq!((tr.type_, tr.s, tr.selector), (0xb, 0, 0x18));
    }

    #[test]
    fn each_vcpu_gets_its_apic_id_and_the_package_its_count() {
        let entry = |function, index| kvm_bindings::kvm_cpuid_entry2 {
            function,
            index,
            ebx: 0x0008_0800,
            edx: 0,
            ..Default::default()
        };
        let mut leaf1 = entry(1, 0);
        topology(&mut leaf1, 3, 4);
        assert_eq!(
            (
                leaf1.ebx >> 24,
                (leaf1.ebx >> 16) & 0xff,
                leaf1.ebx & 0xffff
            ),
            (3, 4, 0x0800)
        );
        assert_ne!(leaf1.edx & (1 << 28), 0);
        let mut cores = entry(0xb, 1);
        topology(&mut cores, 3, 4);
        assert_eq!(
            (cores.eax, cores.ebx, cores.ecx, cores.edx),
            (2, 4, 0x201, 3)
        );
        let mut one = entry(1, 0);
        topology(&mut one, 0, 1);
        assert_eq!((one.ebx >> 16, one.edx & (1 << 28)), (1, 0));
    }
}
