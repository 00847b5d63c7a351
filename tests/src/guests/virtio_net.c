/* A 64-bit test guest that drives a virtio-net card over virtio-mmio (virtio 1.2, 5.1)
 * with nothing but polling: it finds the first network card among the VMM's devices,
 * takes its MAC address, gives the receive queue a buffer per entry, and sends a UDP
 * datagram "hello from MAC" from 10.0.2.15:5555 to 10.0.2.1:5555 (Ethernet broadcast, so
 * no ARP is needed), again every second or so until a UDP datagram for its port arrives;
 * it prints that datagram and answers "echo: " and the same text to its sender's MAC, IP
 * and port. Everything it does is printed on COM1; then it powers off. */

#include "guest.h"

#define QSIZE 16
#define BUF 2048
#define HDR 12 /* struct virtio_net_hdr with num_buffers */
#define PORT 5555
#define GUEST_IP 0x0a00020fu /* 10.0.2.15 */
#define HOST_IP 0x0a000201u  /* 10.0.2.1 */
#define TSC_SECOND 2000000000ULL
#define GIVE_UP_SECONDS 60

struct avail {
    u16 flags, idx, ring[QSIZE], used_event;
};
struct used {
    u16 flags, idx;
    struct used_elem ring[QSIZE];
    u16 avail_event;
};

static struct desc rx_desc[QSIZE] __attribute__((aligned(16)));
static struct avail rx_avail __attribute__((aligned(2)));
static struct used rx_used __attribute__((aligned(4)));
static struct desc tx_desc[QSIZE] __attribute__((aligned(16)));
static struct avail tx_avail __attribute__((aligned(2)));
static struct used tx_used __attribute__((aligned(4)));
static u8 rx_buf[QSIZE][BUF] __attribute__((aligned(4096)));
static u8 tx_buf[BUF] __attribute__((aligned(4096)));
static u8 mac[6];
static u16 rx_seen;

static void put_mac(const u8 *m) {
    for (int i = 0; i < 6; i++) {
        if (i) putc_(':');
        putc_("0123456789abcdef"[m[i] >> 4]);
        putc_("0123456789abcdef"[m[i] & 15]);
    }
}

static void be16(u8 *p, u16 v) {
    p[0] = (u8)(v >> 8);
    p[1] = (u8)v;
}
static void be32(u8 *p, u32 v) {
    be16(p, (u16)(v >> 16));
    be16(p + 2, (u16)v);
}
static u16 get16(const u8 *p) { return (u16)(p[0] << 8 | p[1]); }
static u32 get32(const u8 *p) { return (u32)get16(p) << 16 | get16(p + 2); }

/* Sends a UDP datagram (checksum 0: none, as IPv4 allows) and waits until the device
 * has used the transmit buffer. */
static void send_udp(u64 base, const u8 *dst_mac, u32 dst_ip, u16 dst_port, const char *a, const char *b) {
    u8 *f = tx_buf + HDR;
    zero(tx_buf, HDR);
    for (int i = 0; i < 6; i++) {
        f[i] = dst_mac[i];
        f[6 + i] = mac[i];
    }
    be16(f + 12, 0x0800);
    u8 *ip = f + 14, *udp = ip + 20, *data = udp + 8;
    u32 n = 0;
    for (; *a; a++) data[n++] = (u8)*a;
    for (; b && *b && n < 1400; b++) data[n++] = (u8)*b;
    zero(ip, 20);
    ip[0] = 0x45;
    be16(ip + 2, (u16)(20 + 8 + n));
    ip[8] = 64;
    ip[9] = 17;
    be32(ip + 12, GUEST_IP);
    be32(ip + 16, dst_ip);
    u32 sum = 0;
    for (int i = 0; i < 20; i += 2) sum += get16(ip + i);
    while (sum >> 16) sum = (sum & 0xffff) + (sum >> 16);
    be16(ip + 10, (u16)~sum);
    be16(udp, PORT);
    be16(udp + 2, dst_port);
    be16(udp + 4, (u16)(8 + n));
    be16(udp + 6, 0);
    u16 slot = tx_avail.idx % QSIZE;
    tx_desc[slot] = (struct desc){(u64)tx_buf, HDR + 14 + 20 + 8 + n, 0, 0};
    tx_avail.ring[slot] = slot;
    fence();
    tx_avail.idx++;
    fence();
    wr(base, 0x50, 1);
    u64 start = rdtsc();
    while (*(volatile u16 *)&tx_used.idx != tx_avail.idx) {
        if (rdtsc() - start > 10 * TSC_SECOND) {
            puts_("virtio-net: the device never sent a frame\n");
            return;
        }
        __asm__ volatile("pause");
    }
}

/* Gives receive buffer `id` back to the device. */
static void recycle(u64 base, u16 id) {
    rx_avail.ring[rx_avail.idx % QSIZE] = id;
    fence();
    rx_avail.idx++;
    fence();
    wr(base, 0x50, 0);
}

/* The text of a UDP datagram for our port in frame `f` of `len` bytes, or 0. */
static const u8 *datagram(const u8 *f, u32 len, u32 *n) {
    if (len < 14 + 20 + 8 || get16(f + 12) != 0x0800) return 0;
    const u8 *ip = f + 14;
    u32 ihl = (u32)(ip[0] & 15) * 4;
    if ((ip[0] >> 4) != 4 || ip[9] != 17 || get32(ip + 16) != GUEST_IP || len < 14 + ihl + 8) return 0;
    const u8 *udp = ip + ihl;
    if (get16(udp + 2) != PORT) return 0;
    u32 ulen = get16(udp + 4);
    if (ulen < 8 || 14 + ihl + ulen > len) return 0;
    *n = ulen - 8;
    return udp + 8;
}

void main(void) {
    u64 base = 0;
    for (int i = 0; i < MMIO_SLOTS && !base; i++) {
        u64 b = MMIO_BASE + (u64)i * MMIO_SIZE;
        if (virtio_device(b, 1)) base = b;
    }
    if (!base) {
        puts_("virtio-net: no network card\n");
        return;
    }
    long long f0 = virtio_negotiate(base, 1u << 5); /* VIRTIO_NET_F_MAC */
    if (f0 < 0) return;
    if (!(f0 & (1 << 5))) {
        puts_("virtio-net: the card has no MAC address\n");
        return;
    }
    for (int i = 0; i < 6; i++) mac[i] = rd8(base, 0x100 + (u32)i);
    puts_("virtio-net: mac ");
    put_mac(mac);
    puts_("\n");
    for (u16 i = 0; i < QSIZE; i++) {
        rx_desc[i] = (struct desc){(u64)rx_buf[i], BUF, 2, 0};
        rx_avail.ring[i] = i;
    }
    rx_avail.idx = QSIZE;
    if (!virtio_queue(base, 0, QSIZE, rx_desc, &rx_avail, &rx_used) ||
        !virtio_queue(base, 1, QSIZE, tx_desc, &tx_avail, &tx_used) || !virtio_start(base))
        return;
    wr(base, 0x50, 0);

    static const u8 broadcast[6] = {0xff, 0xff, 0xff, 0xff, 0xff, 0xff};
    static char me[18];
    for (int i = 0; i < 6; i++) {
        me[i * 3] = "0123456789abcdef"[mac[i] >> 4];
        me[i * 3 + 1] = "0123456789abcdef"[mac[i] & 15];
        me[i * 3 + 2] = i < 5 ? ':' : 0;
    }
    u64 start = rdtsc(), last_hello = 0;
    int hellos = 0;
    for (;;) {
        u64 now = rdtsc();
        if (now - start > GIVE_UP_SECONDS * TSC_SECOND) {
            puts_("virtio-net: nothing received\n");
            return;
        }
        if (!hellos || now - last_hello > TSC_SECOND) {
            send_udp(base, broadcast, HOST_IP, PORT, "hello from ", me);
            if (!hellos) puts_("virtio-net: sent hello\n");
            hellos++;
            last_hello = now;
        }
        if (*(volatile u16 *)&rx_used.idx == rx_seen) {
            __asm__ volatile("pause");
            continue;
        }
        fence();
        struct used_elem e = rx_used.ring[rx_seen % QSIZE];
        rx_seen++;
        u16 id = (u16)(e.id % QSIZE);
        u32 n = 0;
        const u8 *f = rx_buf[id] + HDR;
        const u8 *text = e.len > HDR ? datagram(f, e.len - HDR, &n) : 0;
        if (!text) {
            recycle(base, id);
            continue;
        }
        static char got[1401];
        if (n > 1400) n = 1400;
        for (u32 i = 0; i < n; i++) got[i] = (char)text[i];
        got[n] = 0;
        puts_("virtio-net: received ");
        puts_(got);
        puts_("\n");
        u8 to[6];
        for (int i = 0; i < 6; i++) to[i] = f[6 + i];
        const u8 *ip = f + 14;
        u16 sport = get16(ip + (ip[0] & 15) * 4);
        send_udp(base, to, get32(ip + 12), sport, "echo: ", got);
        recycle(base, id);
        puts_("virtio-net: answered; hellos sent ");
        putu((u64)hellos);
        puts_("\nvirtio-net guest done\n");
        return;
    }
}
