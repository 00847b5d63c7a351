/* A polling virtio-blk driver's queue for the C test guests (virtio 1.2, 5.2.6): one
 * queue of QSIZE entries, one request at a time (header, optional data, status).
 * Include after guest.h. */

#ifndef QSIZE
#define QSIZE 8
#endif

struct avail {
    u16 flags, idx, ring[QSIZE], used_event;
};
struct used {
    u16 flags, idx;
    struct used_elem ring[QSIZE];
    u16 avail_event;
};
struct req_hdr {
    u32 type, reserved;
    u64 sector;
};

static struct desc descs[QSIZE] __attribute__((aligned(16)));
static struct avail avail __attribute__((aligned(2)));
static struct used used __attribute__((aligned(4)));
static struct req_hdr hdr;
static volatile u8 req_status;
static u16 last_used;

/* One request: header, an optional data buffer (device-writable for reads), status. */
static inline int request(u64 base, u32 type, u64 sector, void *buf, u32 len) {
    hdr.type = type;
    hdr.reserved = 0;
    hdr.sector = sector;
    req_status = 0xff;
    int n = 0;
    descs[n] = (struct desc){(u64)&hdr, sizeof hdr, 1, (u16)(n + 1)};
    n++;
    if (len) {
        descs[n] = (struct desc){(u64)buf, len, (u16)(1 | (type == 0 ? 2 : 0)), (u16)(n + 1)};
        n++;
    }
    descs[n] = (struct desc){(u64)&req_status, 1, 2, 0};
    avail.ring[avail.idx % QSIZE] = 0;
    fence();
    avail.idx++;
    fence();
    wr(base, 0x50, 0); /* QueueNotify: queue 0 */
    for (u64 spins = 0; *(volatile u16 *)&used.idx == last_used; spins++) {
        if (spins > 4000000000ULL) return -1;
        __asm__ volatile("pause");
    }
    fence();
    last_used++;
    return req_status;
}

/* Starts the disk at `base` with the features in `wanted` it offers and its queue;
 * the low feature bits it offers, or -1 (printed). */
static inline long long blk_start(u64 base, u32 wanted) {
    long long f0 = virtio_negotiate(base, wanted);
    if (f0 < 0) return -1;
    zero(descs, sizeof descs);
    zero(&avail, sizeof avail);
    zero(&used, sizeof used);
    last_used = 0;
    if (!virtio_queue(base, 0, QSIZE, descs, &avail, &used) || !virtio_start(base)) return -1;
    return f0;
}

/* The disk's capacity in 512-byte sectors. */
static inline u64 blk_capacity(u64 base) {
    return *(volatile u32 *)(base + 0x100) | ((u64) * (volatile u32 *)(base + 0x104) << 32);
}
