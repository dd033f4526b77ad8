/* udpecho PORT: answers every UDP datagram on 0.0.0.0:PORT with "echo:" + the datagram, and prints it.
 * The e2e network tests put it into their busybox image (Debian's busybox nc has no UDP mode). */
#include <arpa/inet.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>

int main(int argc, char **argv) {
  if (argc != 2) {
    fprintf(stderr, "usage: udpecho PORT\n");
    return 2;
  }
  int s = socket(AF_INET, SOCK_DGRAM, 0);
  struct sockaddr_in a;
  memset(&a, 0, sizeof a);
  a.sin_family = AF_INET;
  a.sin_port = htons((unsigned short) atoi(argv[1]));
  if (s < 0 || bind(s, (struct sockaddr *) &a, sizeof a) < 0) {
    perror("udpecho");
    return 1;
  }
  for (;;) {
    char buf[2048], out[2100];
    struct sockaddr_in from;
    socklen_t fl = sizeof from;
    ssize_t n = recvfrom(s, buf, sizeof buf - 1, 0, (struct sockaddr *) &from, &fl);
    if (n < 0) {
      continue;
    }
    buf[n] = 0;
    printf("%s\n", buf);
    fflush(stdout);
    int m = snprintf(out, sizeof out, "echo:%s", buf);
    sendto(s, out, (size_t) m, 0, (struct sockaddr *) &from, fl);
  }
}
