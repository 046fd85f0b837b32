// send-floor: the physical floor of fan-out on this machine. Opens N loopback TCP connections to itself,
// then M times writes one 40-byte message to every connection (one send() each, as a server writes one
// WebSocket frame per connection) and drains them, and prints the CPU cost per message on each side.
// A fan-out server that writes one frame per send() cannot spend less than the send side per delivery.
//   cc -O2 -o /tmp/send-floor send-floor.c && /tmp/send-floor 10000 20 [port]      (default port 9555, loopback only)
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <sys/socket.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <sys/resource.h>
#include <time.h>
#include <fcntl.h>
#include <sys/epoll.h>
static double now(){struct timespec t;clock_gettime(CLOCK_MONOTONIC,&t);return t.tv_sec+t.tv_nsec/1e9;}
static double cpu(){struct rusage r;getrusage(RUSAGE_SELF,&r);return r.ru_utime.tv_sec+r.ru_utime.tv_usec/1e6+r.ru_stime.tv_sec+r.ru_stime.tv_usec/1e6;}
int main(int argc,char**argv){
  if(argc<3){fprintf(stderr,"usage: send-floor CONNECTIONS ROUNDS [PORT]\n");return 2;}
  int N=atoi(argv[1]), M=atoi(argv[2]), port=argc>3?atoi(argv[3]):9555;
  int ls=socket(AF_INET,SOCK_STREAM,0); int one=1; setsockopt(ls,SOL_SOCKET,SO_REUSEADDR,&one,4);
  struct sockaddr_in a={0}; a.sin_family=AF_INET; a.sin_port=htons(port); a.sin_addr.s_addr=htonl(0x7f000001);
  if(bind(ls,(void*)&a,sizeof a)||listen(ls,4096)){perror("bind/listen");return 1;}
  int *c=malloc(N*sizeof(int)), *s=malloc(N*sizeof(int));
  for(int i=0;i<N;i++){ c[i]=socket(AF_INET,SOCK_STREAM,0); connect(c[i],(void*)&a,sizeof a); s[i]=accept(ls,0,0); setsockopt(s[i],IPPROTO_TCP,TCP_NODELAY,&one,4); fcntl(c[i],F_SETFL,O_NONBLOCK);}
  char msg[40]; memset(msg,'x',sizeof msg); char buf[65536];
  double t0=now(), c0=cpu(), recvcpu=0;
  for(int m=0;m<M;m++){
    double cs=cpu();
    for(int i=0;i<N;i++) send(s[i],msg,sizeof msg,0);
    double ce=cpu();
    for(int i=0;i<N;i++) while(recv(c[i],buf,sizeof buf,0)>0);
    recvcpu+=cpu()-ce;
  }
  double total=cpu()-c0;
  printf("N=%d M=%d sends=%d send-side us/msg=%.2f recv-side us/msg=%.2f wall=%.2fs\n",N,M,N*M,(total-recvcpu)*1e6/(N*(double)M),recvcpu*1e6/(N*(double)M),now()-t0);
}
