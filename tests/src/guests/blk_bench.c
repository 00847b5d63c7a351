/* A 64-bit guest that measures its first virtio-blk disk with polling, at queue depth
 * DEPTH: it reads the whole disk in 1 MiB requests (DEPTH / 4 at a time), then reads 4 KiB
 * at RAND_OPS pseudo-random 4 KiB-aligned places (DEPTH at a time): it puts a batch of
 * requests on the queue, kicks once and waits for all of them. Around each pass it prints
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

/* Reads `n` blocks of `len` bytes at `sectors[i]` into `bufs[i]` as one batch; the
 * number that failed. */
static u64 batch(u64 base, u32 n, const u64 *sectors, u8 *bufs, u32 len) {
    for (u32 i = 0; i < n; i++) {
        hdrs[i] = (struct req_hdr){0, 0, sectors[i]};
        statuses[i] = 0xff;
        u16 d = (u16)(3 * i);
        descs[d] = (struct desc){(u64)&hdrs[i], sizeof hdrs[i], 1, (u16)(d + 1)};
        descs[d + 1] = (struct desc){(u64)(bufs + (u64)i * len), len, 3, (u16)(d + 2)};
        descs[d + 2] = (struct desc){(u64)&statuses[i], 1, 2, 0};
        avail.ring[(u16)(avail.idx + i) % QSIZE] = d;
    }
    fence();
    avail.idx = (u16)(avail.idx + n);
    fence();
    wr(base, 0x50, 0);
    u16 want = (u16)(last_used + n);
    while (*(volatile u16 *)&used.idx != want) __asm__ volatile("pause");
    fence();
    last_used = want;
    u64 errors = 0;
    for (u32 i = 0; i < n; i++) errors += statuses[i] != 0;
    return errors;
}

void main(void) {
    u64 base = MMIO_BASE;
    if (!virtio_device(base, 2)) {
        puts_("blk bench: no disk\n");
        return;
    }
    if (blk_start(base, 0) < 0) return;
    u64 bytes = blk_capacity(base) * 512 / BIG * BIG;
    u64 errors = 0, sectors[DEPTH];
    puts_("seq start\n");
    for (u64 off = 0; off < bytes;) {
        u32 n = 0;
        for (; n < BIG_DEPTH && off < bytes; n++, off += BIG) sectors[n] = off / 512;
        errors += batch(base, n, sectors, &big[0][0], BIG);
    }
    puts_("seq done ");
    putu(bytes);
    puts_(" errors ");
    putu(errors);
    puts_("\nrand start\n");
    errors = 0;
    u64 x = 0x9e3779b97f4a7c15ULL, blocks = bytes / 4096;
    for (u32 done = 0; done < RAND_OPS; done += DEPTH) {
        for (u32 i = 0; i < DEPTH; i++) {
            x ^= x << 13;
            x ^= x >> 7;
            x ^= x << 17;
            sectors[i] = (x % blocks) * 8;
        }
        errors += batch(base, DEPTH, sectors, &small[0][0], 4096);
    }
    puts_("rand done ");
    putu(RAND_OPS / DEPTH * DEPTH);
    puts_(" errors ");
    putu(errors);
    puts_("\n");
}
