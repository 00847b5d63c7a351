/* A 64-bit test guest that answers on its serial console: it prints "type a line", then
 * reads COM1 (polling the line status register's data-ready bit) and for every line
 * (ended by CR or LF) prints "echo: " and the line in capitals; the line "quit" powers
 * it off. */

#include "guest.h"

void main(void) {
    char line[256];
    int n = 0;
    puts_("type a line\n");
    for (;;) {
        if (!(inb(0x3fd) & 1)) {
            __asm__ volatile("pause");
            continue;
        }
        char c = (char)inb(0x3f8);
        if (c != '\r' && c != '\n') {
            if (n < (int)sizeof line - 1) line[n++] = c;
            continue;
        }
        if (!n) continue;
        line[n] = 0;
        if (n == 4 && line[0] == 'q' && line[1] == 'u' && line[2] == 'i' && line[3] == 't') {
            puts_("bye\n");
            return;
        }
        puts_("echo: ");
        for (int i = 0; i < n; i++) putc_(line[i] >= 'a' && line[i] <= 'z' ? (char)(line[i] - 32) : line[i]);
        puts_("\n");
        n = 0;
    }
}
