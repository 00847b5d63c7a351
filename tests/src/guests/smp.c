/* A 64-bit test guest that finds its processors as an operating system does and starts
 * them: it looks for the MP floating pointer (Intel MultiProcessor Specification 1.4) in
 * the last kilobyte of base memory and in the BIOS area, checks both checksums, counts
 * the enabled processor entries, then sends each application processor INIT and a
 * startup IPI through its local APIC. Each one starts in real mode at 0x10000, on a few
 * bytes this guest wrote there, adds one to a counter and halts. It prints
 * "mp table: N processors, bootstrap apic B, ioapic at A", the MSRs its firmware
 * should leave ("msrs: misc enable E, mtrr default type T") and "cpus up: K of M"
 * (application processors that counted themselves) and powers off. */

#include "guest.h"

#define LAPIC 0xfee00000ULL
#define TRAMPOLINE 0x10000ULL
#define COUNTER ((volatile u16 *)(TRAMPOLINE + 0x100))
#define TSC_MS 2000000ULL

static u8 sum(const u8 *p, u32 n) {
    u8 s = 0;
    for (u32 i = 0; i < n; i++) s = (u8)(s + p[i]);
    return s;
}

static const u8 *find_mp(u64 from, u64 to) {
    for (u64 a = from; a + 16 <= to; a += 16) {
        const u8 *p = (const u8 *)a;
        if (p[0] == '_' && p[1] == 'M' && p[2] == 'P' && p[3] == '_' && sum(p, 16) == 0) return p;
    }
    return 0;
}

static void lapic_wr(u32 off, u32 v) { *(volatile u32 *)(LAPIC + off) = v; }
static u32 lapic_rd(u32 off) { return *(volatile u32 *)(LAPIC + off); }

static void delay_ms(u64 ms) {
    u64 start = rdtsc();
    while (rdtsc() - start < ms * TSC_MS) __asm__ volatile("pause");
}

static u64 rdmsr(u32 msr) {
    u32 lo, hi;
    __asm__ volatile("rdmsr" : "=a"(lo), "=d"(hi) : "c"(msr));
    return ((u64)hi << 32) | lo;
}

static void ipi(u8 apic, u32 command) {
    lapic_wr(0x310, (u32)apic << 24);
    lapic_wr(0x300, command);
    for (int i = 0; i < 1000000 && (lapic_rd(0x300) & (1 << 12)); i++) __asm__ volatile("pause");
}

void main(void) {
    const u8 *fp = find_mp(0x9fc00, 0xa0000);
    if (!fp) fp = find_mp(0xf0000, 0x100000);
    if (!fp) {
        puts_("mp table: no floating pointer\n");
        return;
    }
    const u8 *t = (const u8 *)(u64)(*(const u32 *)(fp + 4));
    u16 len = *(const u16 *)(t + 4);
    if (t[0] != 'P' || t[1] != 'C' || t[2] != 'M' || t[3] != 'P' || sum(t, len) != 0) {
        puts_("mp table: bad configuration table\n");
        return;
    }
    u16 count = *(const u16 *)(t + 34);
    u8 aps[64];
    int naps = 0, cpus = 0, bsp = -1;
    u32 ioapic = 0;
    const u8 *e = t + 44;
    for (u16 i = 0; i < count && e < t + len; i++) {
        if (e[0] == 0) {
            if (e[3] & 1) {
                cpus++;
                if (e[3] & 2)
                    bsp = e[1];
                else if (naps < 64)
                    aps[naps++] = e[1];
            }
            e += 20;
        } else {
            if (e[0] == 2) ioapic = *(const u32 *)(e + 4);
            e += 8;
        }
    }
    puts_("mp table: ");
    putu((u64)cpus);
    puts_(" processors, bootstrap apic ");
    putu((u64)bsp);
    puts_(", ioapic at ");
    putx(ioapic);
    puts_("\nmsrs: misc enable ");
    putx(rdmsr(0x1a0) & 1);
    puts_(", mtrr default type ");
    putx(rdmsr(0x2ff));
    puts_("\n");

    /* The application processors' first instructions (real mode, CS = 0x1000):
     * mov ax, 0x1000; mov ds, ax; lock inc word [0x100]; 1: cli; hlt; jmp 1b */
    static const u8 code[] = {0xb8, 0x00, 0x10, 0x8e, 0xd8, 0xf0, 0xff, 0x06,
                              0x00, 0x01, 0xfa, 0xf4, 0xeb, 0xfc};
    for (u32 i = 0; i < sizeof code; i++) ((volatile u8 *)TRAMPOLINE)[i] = code[i];
    *COUNTER = 0;
    fence();
    lapic_wr(0xf0, lapic_rd(0xf0) | 0x100); /* software-enable the local APIC */
    for (int i = 0; i < naps; i++) {
        ipi(aps[i], 0x4500); /* INIT */
        delay_ms(10);
        ipi(aps[i], 0x4600 | (u32)(TRAMPOLINE >> 12)); /* startup, vector 0x10 */
    }
    u64 start = rdtsc();
    while (*COUNTER < naps && rdtsc() - start < 30000 * TSC_MS) __asm__ volatile("pause");
    puts_("cpus up: ");
    putu((u64)*COUNTER);
    puts_(" of ");
    putu((u64)naps);
    puts_("\n");
}
