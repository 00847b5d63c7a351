/* A 64-bit test guest that waits for Ctrl+Alt+Del on its i8042 keyboard (scan code set
 * 1, polling the controller's status register) and then shuts down: it prints what it
 * saw on COM1 and powers off through the i8042. Entered in 64-bit mode; no SSE. */

#include "guest.h"

void main(void) {
    static const u8 seq[4] = {0x1d, 0x38, 0xe0, 0x53}; /* Ctrl, Alt, Del */
    int got = 0;
    /* The controller passes its self test, and the keyboard acknowledges a reset. */
    outb(0x64, 0xaa);
    while (!(inb(0x64) & 1)) {
    }
    if (inb(0x60) != 0x55) puts_("i8042 self test failed\n");
    puts_("waiting for ctrl-alt-del\n");
    for (;;) {
        if (!(inb(0x64) & 1)) {
            __asm__ volatile("pause");
            continue;
        }
        u8 b = inb(0x60);
        got = b == seq[got] ? got + 1 : (b == seq[0]);
        if (got == 4) {
            puts_("ctrl-alt-del: shutting down\n");
            return;
        }
    }
}
