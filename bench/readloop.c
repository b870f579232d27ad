/* readloop.c: the bare libpcap read loop, the floor every tool in bench/run is
 * compared with. pcap_next_ex() only; counts packets and captured bytes.
 *
 *   cc -O2 -o readloop bench/readloop.c -lpcap
 *   readloop FILE      prints "PACKETS CAPTURED_BYTES"
 */
#include <pcap/pcap.h>
#include <stdint.h>
#include <stdio.h>

int main(int argc, char **argv)
{
    if (argc != 2) {
        fprintf(stderr, "usage: readloop CAPTURE\n");
        return 2;
    }
    char err[PCAP_ERRBUF_SIZE];
    pcap_t *p = pcap_open_offline(argv[1], err);
    if (!p) {
        fprintf(stderr, "readloop: %s\n", err);
        return 1;
    }
    struct pcap_pkthdr *h;
    const u_char *data;
    uint64_t packets = 0, bytes = 0;
    int rc;
    while ((rc = pcap_next_ex(p, &h, &data)) == 1) {
        packets++;
        bytes += h->caplen;
    }
    if (rc == PCAP_ERROR) {
        fprintf(stderr, "readloop: %s\n", pcap_geterr(p));
        pcap_close(p);
        return 1;
    }
    pcap_close(p);
    printf("%llu %llu\n", (unsigned long long)packets, (unsigned long long)bytes);
    return 0;
}
