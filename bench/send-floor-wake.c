// send-floor-wake: the floor of fan-out when the clients sleep between notifications, as real ones do.
// send-floor.c drains its receivers only after each round, so no send() ever wakes anyone. Here the receivers are
// another process blocked in epoll_wait, as a browser or the bench's load tool is between posts; each round (one
// "post") writes one 40-byte message to every connection, then pauses so that the receiver goes back to sleep.
// On loopback the sender's send() runs the receiving side's TCP path and wakes the sleeping reader: that is part
// of what any fan-out server pays per delivery to idle clients, and what send-floor.c leaves out.
//   cc -O2 -o /tmp/send-floor-wake send-floor-wake.c && /tmp/send-floor-wake 10000 20 200   (port 9556, loopback)
// Arguments: connections, rounds, pause between rounds in ms.
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <fcntl.h>
#include <time.h>
#include <sys/socket.h>
#include <sys/epoll.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>

static double cpu(int who) {
  struct rusage r; getrusage(who, &r);
  return r.ru_utime.tv_sec + r.ru_utime.tv_usec / 1e6 + r.ru_stime.tv_sec + r.ru_stime.tv_usec / 1e6;
}

int main(int argc, char **argv) {
  if (argc < 4) { fprintf(stderr, "usage: %s connections rounds pause-ms\n", argv[0]); return 2; }
  int n = atoi(argv[1]), rounds = atoi(argv[2]), pause_ms = atoi(argv[3]);
  int ls = socket(AF_INET, SOCK_STREAM, 0), one = 1;
  setsockopt(ls, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
  struct sockaddr_in a = {0};
  a.sin_family = AF_INET; a.sin_port = htons(9556); a.sin_addr.s_addr = htonl(0x7f000001);
  if (bind(ls, (void *)&a, sizeof a) || listen(ls, 4096)) { perror("listen"); return 1; }
  int *c = malloc(n * sizeof(int)), *s = malloc(n * sizeof(int));
  for (int i = 0; i < n; i++) {
    c[i] = socket(AF_INET, SOCK_STREAM, 0);
    if (connect(c[i], (void *)&a, sizeof a)) { perror("connect"); return 1; }
    s[i] = accept(ls, 0, 0);
    setsockopt(s[i], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    fcntl(c[i], F_SETFL, O_NONBLOCK);
    fcntl(s[i], F_SETFL, O_NONBLOCK);
  }

  long expected = (long)n * rounds * 40;
  pid_t child = fork();
  if (child == 0) {
    // The clients: one process, one thread in epoll_wait, reading whatever is ready.
    for (int i = 0; i < n; i++) close(s[i]);
    int ep = epoll_create1(0);
    for (int i = 0; i < n; i++) {
      struct epoll_event ev = { .events = EPOLLIN, .data.fd = c[i] };
      epoll_ctl(ep, EPOLL_CTL_ADD, c[i], &ev);
    }
    struct epoll_event evs[256]; char buf[4096]; long got = 0;
    while (got < expected) {
      int k = epoll_wait(ep, evs, 256, -1);
      for (int j = 0; j < k; j++) {
        ssize_t r;
        while ((r = recv(evs[j].data.fd, buf, sizeof buf, 0)) > 0) got += r;
      }
    }
    _exit(0);
  }
  for (int i = 0; i < n; i++) close(c[i]);

  char msg[40]; memset(msg, 'x', sizeof msg);
  struct timespec gap = { pause_ms / 1000, (pause_ms % 1000) * 1000000L };
  nanosleep(&gap, 0);
  double sending = 0; long failed = 0;
  for (int m = 0; m < rounds; m++) {
    double before = cpu(RUSAGE_SELF);
    for (int i = 0; i < n; i++) if (send(s[i], msg, sizeof msg, 0) != (ssize_t)sizeof msg) failed++;
    sending += cpu(RUSAGE_SELF) - before;
    nanosleep(&gap, 0);
  }
  int status; waitpid(child, &status, 0);
  double sends = (double)n * rounds;
  printf("N=%d rounds=%d pause=%dms sends=%.0f failed=%ld send-side us/msg=%.2f receiver us/msg=%.2f\n",
         n, rounds, pause_ms, sends, failed, sending * 1e6 / sends, cpu(RUSAGE_CHILDREN) * 1e6 / sends);
  return failed != 0;
}
