/* A 64-bit guest that measures its first virtio-blk disk with polling: it reads the
 * whole disk in 1 MiB requests (DEPTH / 4 in flight), then reads 4 KiB at RAND_OPS
 * pseudo-random 4 KiB-aligned places (DEPTH in flight), in two half batches: while the
 * device serves one, the guest refills the other. Around each pass it prints
 * a line ("seq start", "seq done BYTES errors E", "rand start", "rand done OPS errors E"),
 * so the host times them from the console; then it powers off. */

#include "guest.h"
#define QSIZE 128
#include "blk.h"

#define DEPTH 32
#define BIG (1u << 20)
#define BIG_DEPTH (DEPTH / 4)
#define RAND_OPS 20000

static struct req_hdr hdrs[DEPTH];
static volatile u8 statuses[DEPTH];
static u8 big[BIG_DEPTH][BIG] __attribute__((aligned(4096)));
static u8 small[DEPTH][4096] __attribute__((aligned(4096)));

/* Puts `n` reads of `len` bytes at `sectors[i]` into `bufs + i * len` on the queue,
 * using descriptors and headers from slot `first` on, and kicks. */
static void submit(u64 base, u32 first, u32 n, const u64 *sectors, u8 *bufs, u32 len) {
    for (u32 k = 0; k < n; k++) {
        u32 i = first + k;
        hdrs[i] = (struct req_hdr){0, 0, sectors[k]};
        statuses[i] = 0xff;
        u16 d = (u16)(3 * i);
        descs[d] = (struct desc){(u64)&hdrs[i], sizeof hdrs[i], 1, (u16)(d + 1)};
        descs[d + 1] = (struct desc){(u64)(bufs + (u64)k * len), len, 3, (u16)(d + 2)};
        descs[d + 2] = (struct desc){(u64)&statuses[i], 1, 2, 0};
        avail.ring[(u16)(avail.idx + k) % QSIZE] = d;
    }
    fence();
    avail.idx = (u16)(avail.idx + n);
    fence();
    wr(base, 0x50, 0);
}

/* Waits for the next `n` completions (the device serves its queue in order) and counts
 * the failed ones among slots `first` .. `first + n`. */
static u64 complete(u32 first, u32 n) {
    u16 want = (u16)(last_used + n);
    while ((u16)(*(volatile u16 *)&used.idx - want) > 0x8000) __asm__ volatile("pause");
    fence();
    last_used = want;
    u64 errors = 0;
    for (u32 i = first; i < first + n; i++) errors += statuses[i] != 0;
    return errors;
}

/* Reads `count` blocks of `len` bytes, `half` per batch, two batches in flight: while
 * the device serves one, the other is refilled. `next` gives each block's sector. */
static u64 stream(u64 base, u64 count, u32 half, u32 len, u8 *bufs, u64 (*next)(void)) {
    u64 errors = 0, sectors[DEPTH / 2];
    u64 sent = 0, done = 0;
    u32 in_flight[2] = {0, 0};
    for (u32 b = 0; sent < count || done < sent; b ^= 1) {
        if (in_flight[b]) {
            errors += complete(b * half, in_flight[b]);
            done += in_flight[b];
            in_flight[b] = 0;
        }
        u32 n = 0;
        for (; n < half && sent < count; n++, sent++) sectors[n] = next();
        if (n) submit(base, b * half, n, sectors, bufs + (u64)b * half * len, len);
        in_flight[b] = n;
    }
    return errors;
}

static u64 seq_at, rand_x = 0x9e3779b97f4a7c15ULL, blocks;
static u64 next_seq(void) {
    u64 s = seq_at;
    seq_at += BIG / 512;
    return s;
}
static u64 next_rand(void) {
    rand_x ^= rand_x << 13;
    rand_x ^= rand_x >> 7;
    rand_x ^= rand_x << 17;
    return (rand_x % blocks) * 8;
}

void main(void) {
    u64 base = MMIO_BASE;
    if (!virtio_device(base, 2)) {
        puts_("blk bench: no disk\n");
        return;
    }
    if (blk_start(base, 0) < 0) return;
    avail.flags = 1; /* VIRTQ_AVAIL_F_NO_INTERRUPT: it polls */
    u64 bytes = blk_capacity(base) * 512 / BIG * BIG;
    blocks = bytes / 4096;
    puts_("seq start\n");
    u64 errors = stream(base, bytes / BIG, BIG_DEPTH / 2, BIG, &big[0][0], next_seq);
    puts_("seq done ");
    putu(bytes);
    puts_(" errors ");
    putu(errors);
    puts_("\nrand start\n");
    errors = stream(base, RAND_OPS, DEPTH / 2, 4096, &small[0][0], next_rand);
    puts_("rand done ");
    putu(RAND_OPS);
    puts_(" errors ");
    putu(errors);
    puts_("\n");
}
