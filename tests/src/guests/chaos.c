/* A 64-bit guest that misbehaves on purpose: for every virtio-mmio device it finds it
 * writes pseudo-random values to random registers, then sets the device up with random
 * queue sizes and rings whose descriptors are random (addresses anywhere in a scratch
 * area, lengths up to beyond the end of memory, random flags and next links: loops,
 * indirect tables of garbage, chains that do not end) and kicks every queue, many times
 * over; it also writes random bytes to random I/O ports (not COM1 or the i8042, so it can
 * still speak and power off). The devices and their backends must answer with errors or
 * nothing, never with a crash or a hang. Then it prints "chaos done: N devices" and
 * powers off. Guest memory must be at least 64 MiB. */

#include "guest.h"

#define SCRATCH 0x1000000ULL /* 16 MiB .. 48 MiB */
#define SCRATCH_LEN 0x2000000ULL
#define ROUNDS 12

static u64 x = 0x2545f4914f6cdd1dULL;
static u64 rnd(void) {
    x ^= x << 13;
    x ^= x >> 7;
    x ^= x << 17;
    return x;
}

/* A scratch address, 16-byte aligned. */
static u64 scratch(void) { return SCRATCH + (rnd() % SCRATCH_LEN & ~15ULL); }

/* Fills a table of `n` descriptors at `at` with garbage that points into scratch. */
static void garbage_descriptors(u64 at, u32 n) {
    struct desc *d = (struct desc *)at;
    for (u32 i = 0; i < n; i++) {
        u64 r = rnd();
        d[i].addr = (r & 3) == 0 ? r : scratch();
        d[i].len = (r >> 8) & 1 ? (u32)(rnd() % 0x5000000) : (u32)(rnd() % 8192);
        d[i].flags = (u16)(rnd() & 7);
        d[i].next = (u16)(rnd() % (n + 4));
    }
}

static void garbage_ring(u64 at, u32 n) {
    volatile u16 *r = (volatile u16 *)at;
    r[0] = (u16)rnd();
    r[1] = (u16)rnd();
    for (u32 i = 0; i < n + 1; i++) r[2 + i] = (u16)rnd();
}

static void abuse(u64 base, u32 queues) {
    for (int round = 0; round < ROUNDS; round++) {
        for (int k = 0; k < 24; k++) {
            u32 off = (u32)(rnd() % 0x110) & ~3u;
            if (off == 0x70 && (rnd() & 1)) continue;
            wr(base, off, (u32)rnd());
        }
        wr(base, 0x70, 0);
        wr(base, 0x70, 3);
        wr(base, 0x24, 1);
        wr(base, 0x20, 1);
        wr(base, 0x24, 0);
        wr(base, 0x20, (u32)rnd());
        wr(base, 0x70, 0xb);
        for (u32 q = 0; q < queues; q++) {
            u32 size = 1u << (rnd() % 10);
            u64 desc = scratch(), avail = scratch(), used = scratch() & ~3ULL;
            garbage_descriptors(desc, size < 1024 ? size : 1024);
            garbage_ring(avail, size < 1024 ? size : 1024);
            wr(base, 0x30, q);
            wr(base, 0x38, size);
            wr(base, 0x80, (u32)desc);
            wr(base, 0x84, 0);
            wr(base, 0x90, (u32)avail);
            wr(base, 0x94, 0);
            wr(base, 0xa0, (u32)used);
            wr(base, 0xa4, 0);
            wr(base, 0x44, 1);
        }
        wr(base, 0x70, 0xf);
        for (int k = 0; k < 8; k++) {
            wr(base, 0x50, (u32)(rnd() % (queues + 1)));
            for (int spin = 0; spin < 20000; spin++) __asm__ volatile("pause");
        }
    }
    wr(base, 0x70, 0);
}

void main(void) {
    int devices = 0;
    for (int i = 0; i < MMIO_SLOTS; i++) {
        u64 base = MMIO_BASE + (u64)i * MMIO_SIZE;
        if (rd(base, 0) != 0x74726976) continue;
        u32 type = rd(base, 8);
        puts_("chaos on device ");
        putu((u64)i);
        puts_(" type ");
        putu(type);
        puts_("\n");
        abuse(base, type == 1 ? 2 : 1);
        devices++;
    }
    for (int k = 0; k < 4000; k++) {
        u16 port = (u16)rnd();
        if ((port >= 0x3f8 && port <= 0x3ff) || port == 0x60 || port == 0x64) continue;
        outb(port, (u8)rnd());
    }
    outb(0x3fb, 3); /* COM1: 8 data bits, no divisor latch, whatever happened */
    puts_("chaos done: ");
    putu((u64)devices);
    puts_(" devices\n");
}
