//! The MP configuration table (Intel MultiProcessor Specification 1.4, chapter 4) that
//! tells a guest how many processors it has and how its interrupts are wired, as a PC
//! BIOS leaves it: a floating pointer structure and the configuration table after it, in
//! the last kilobyte of base memory (where Linux's `smp_scan_config` looks, and which the
//! e820 map keeps out of RAM).
//!
//! The machine it describes: one processor entry per vCPU (local APIC id = vCPU index,
//! vCPU 0 the bootstrap processor), one ISA bus, the in-kernel IOAPIC with ISA interrupts
//! 0..15 on its pins 0..15 (the virtio-mmio devices' lines among them), the PIC's
//! interrupts on every local APIC's LINT0 (ExtINT) and NMI on LINT1.

use vm_memory::{Bytes, GuestAddress, GuestMemoryMmap};

/// Where the floating pointer goes: the last kilobyte of base memory (below 640 KiB).
pub const MPTABLE_START: u64 = crate::boot::linux::EBDA_START;
/// The most vCPUs the table (and so a VM) has: what fits in that kilobyte, rounded down.
pub const MAX_CPUS: u8 = 32;
/// The local APICs' address.
const APIC_BASE: u32 = 0xfee0_0000;
/// The IOAPIC's address.
const IOAPIC_BASE: u32 = 0xfec0_0000;
const APIC_VERSION: u8 = 0x14;
const IOAPIC_VERSION: u8 = 0x11;
/// ISA interrupt lines routed through the IOAPIC.
const ISA_IRQS: u8 = 16;

const FLOATING_LEN: usize = 16;
const HEADER_LEN: usize = 44;

/// Makes the sum of `bytes` zero (mod 256) by setting `bytes[at]`.
fn checksum(bytes: &mut [u8], at: usize) {
    bytes[at] = 0;
    let sum = bytes.iter().fold(0u8, |s, &b| s.wrapping_add(b));
    bytes[at] = sum.wrapping_neg();
}

/// The entries of the configuration table (after its header) and their count.
fn entries(cpus: u8) -> (Vec<u8>, u16) {
    let mut e = Vec::new();
    let mut count = 0u16;
    for id in 0..cpus {
        e.push(0); // processor
        e.push(id);
        e.push(APIC_VERSION);
        e.push(if id == 0 { 0b11 } else { 0b01 }); // enabled; the bootstrap processor
        e.extend_from_slice(&0x0000_0600u32.to_le_bytes()); // family 6
        e.extend_from_slice(&0x0000_0201u32.to_le_bytes()); // FPU, APIC
        e.extend_from_slice(&[0; 8]);
        count += 1;
    }
    e.extend_from_slice(&[1, 0]); // bus 0,
    e.extend_from_slice(b"ISA   "); // an ISA bus
    count += 1;
    let ioapic_id = cpus; // the first id after the local APICs'
    e.extend_from_slice(&[2, ioapic_id, IOAPIC_VERSION, 1]); // enabled
    e.extend_from_slice(&IOAPIC_BASE.to_le_bytes());
    count += 1;
    for irq in 0..ISA_IRQS {
        // An I/O interrupt: vectored, bus-default polarity and trigger, ISA irq → pin.
        e.extend_from_slice(&[3, 0, 0, 0, 0, irq, ioapic_id, irq]);
        count += 1;
    }
    // Local interrupts, to every local APIC (0xff): ExtINT on LINT0, NMI on LINT1.
    e.extend_from_slice(&[4, 3, 0, 0, 0, 0, 0xff, 0]);
    e.extend_from_slice(&[4, 1, 0, 0, 0, 0, 0xff, 1]);
    count += 2;
    (e, count)
}

/// The floating pointer and the configuration table for `cpus` processors, as they lie
/// in memory from [`MPTABLE_START`].
pub fn table(cpus: u8) -> Vec<u8> {
    let config_at = MPTABLE_START as u32 + FLOATING_LEN as u32;
    let mut fp = Vec::with_capacity(FLOATING_LEN);
    fp.extend_from_slice(b"_MP_");
    fp.extend_from_slice(&config_at.to_le_bytes());
    fp.extend_from_slice(&[1, 4, 0, 0, 0, 0, 0, 0]); // 16 bytes, revision 1.4, features 0
    checksum(&mut fp, 10);

    let (entries, count) = entries(cpus);
    let len = (HEADER_LEN + entries.len()) as u16;
    let mut config = Vec::with_capacity(usize::from(len));
    config.extend_from_slice(b"PCMP");
    config.extend_from_slice(&len.to_le_bytes());
    config.extend_from_slice(&[4, 0]); // revision 1.4, checksum
    config.extend_from_slice(b"VSA     "); // OEM
    config.extend_from_slice(b"VSA VMM     "); // product
    config.extend_from_slice(&0u32.to_le_bytes()); // no OEM table
    config.extend_from_slice(&0u16.to_le_bytes());
    config.extend_from_slice(&count.to_le_bytes());
    config.extend_from_slice(&APIC_BASE.to_le_bytes());
    config.extend_from_slice(&[0, 0, 0, 0]); // no extended table
    config.extend_from_slice(&entries);
    checksum(&mut config, 7);

    fp.extend_from_slice(&config);
    fp
}

/// Writes the table for `cpus` processors into guest memory.
pub fn write(mem: &GuestMemoryMmap, cpus: u8) -> Result<(), super::KvmError> {
    let bytes = table(cpus);
    mem.write_slice(&bytes, GuestAddress(MPTABLE_START))
        .map_err(|e| super::KvmError::Memory(format!("the MP table: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sum(b: &[u8]) -> u8 {
        b.iter().fold(0u8, |s, &x| s.wrapping_add(x))
    }

    #[test]
    fn the_table_is_well_formed_and_fits_below_640k() {
        for cpus in [1u8, 2, 4, MAX_CPUS] {
            let t = table(cpus);
            assert!(
                MPTABLE_START + t.len() as u64 <= 0xa_0000,
                "{cpus}: {}",
                t.len()
            );
            assert_eq!(&t[..4], b"_MP_");
            assert_eq!(sum(&t[..16]), 0);
            let at = u32::from_le_bytes([t[4], t[5], t[6], t[7]]) as u64 - MPTABLE_START;
            let config = &t[at as usize..];
            assert_eq!(&config[..4], b"PCMP");
            let len = usize::from(u16::from_le_bytes([config[4], config[5]]));
            assert_eq!(len, config.len());
            assert_eq!(sum(config), 0);
            // Walk the entries as a guest does.
            let count = u16::from_le_bytes([config[34], config[35]]);
            let (mut off, mut processors, mut bsp) = (HEADER_LEN, 0u8, 0);
            for _ in 0..count {
                match config[off] {
                    0 => {
                        assert_eq!(config[off + 1], processors);
                        processors += 1;
                        bsp += usize::from(config[off + 3] & 2 != 0);
                        off += 20;
                    }
                    1..=4 => off += 8,
                    t => panic!("entry type {t}"),
                }
            }
            assert_eq!((off, processors, bsp), (len, cpus, 1));
        }
    }
}
