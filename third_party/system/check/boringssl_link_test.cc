#include <openssl/sha.h>
int main() { unsigned char d[32]; SHA256((const unsigned char*)"a", 1, d); return d[0] == 0xca ? 0 : 1; }
