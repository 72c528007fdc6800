/* A UDP echo for the e2e tests (busybox-static has no UDP server or client).
 *   udpecho -l PORT           answer every datagram with this host's name
 *   udpecho HOST PORT [N]     send N datagrams (one at a time, 1 s to answer each),
 *                             print each answer on a line ("timeout" when none) */
#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

int main(int argc, char **argv) {
    char buf[256], name[128];
    int s = socket(AF_INET, SOCK_DGRAM, 0);
    struct sockaddr_in a = {0};
    a.sin_family = AF_INET;
    if (argc == 3 && strcmp(argv[1], "-l") == 0) {
        gethostname(name, sizeof name - 1);
        a.sin_port = htons(atoi(argv[2]));
        if (bind(s, (struct sockaddr *)&a, sizeof a) != 0) { perror("bind"); return 1; }
        for (;;) {
            struct sockaddr_in from; socklen_t len = sizeof from;
            if (recvfrom(s, buf, sizeof buf, 0, (struct sockaddr *)&from, &len) < 0) continue;
            sendto(s, name, strlen(name), 0, (struct sockaddr *)&from, len);
        }
    }
    if (argc < 3) { fprintf(stderr, "usage: udpecho -l PORT | udpecho HOST PORT [N]\n"); return 2; }
    struct timeval tv = {1, 0};
    setsockopt(s, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    a.sin_port = htons(atoi(argv[2]));
    inet_pton(AF_INET, argv[1], &a.sin_addr);
    int n = argc > 3 ? atoi(argv[3]) : 1;
    for (int i = 0; i < n; i++) {
        sendto(s, "hi", 2, 0, (struct sockaddr *)&a, sizeof a);
        ssize_t got = recv(s, buf, sizeof buf - 1, 0);
        if (got < 0) { puts("timeout"); continue; }
        buf[got] = 0;
        puts(buf);
    }
    return 0;
}
