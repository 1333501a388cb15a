#include "tls/keys.h"

#include <string.h>

namespace sluice::tls {

void secure_wipe(void* p, size_t n) { explicit_bzero(p, n); }

void TrafficKeys::wipe() {
    secure_wipe(&tx, sizeof tx);
    secure_wipe(&rx, sizeof rx);
}

std::string_view version_name(Version v) { return v == Version::Tls12 ? "TLSv1.2" : "TLSv1.3"; }

std::string_view cipher_name(Cipher c) {
    switch (c) {
    case Cipher::Aes128Gcm: return "AES128-GCM";
    case Cipher::Aes256Gcm: return "AES256-GCM";
    case Cipher::Chacha20Poly1305: return "CHACHA20-POLY1305";
    }
    return "?";
}

}  // namespace sluice::tls
