#include "tls/tickets.h"

#include <wolfssl/options.h>
#include <wolfssl/ssl.h>
#include <wolfssl/wolfcrypt/aes.h>
#include <wolfssl/wolfcrypt/hmac.h>

#include <fcntl.h>
#include <sys/random.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tls/keys.h"

namespace sluice::tls {

namespace {

constexpr char kInfo[] = "sluice ticket aead";

bool fill_random(void* p, size_t n) {
    auto* b = static_cast<uint8_t*>(p);
    while (n > 0) {
        ssize_t r = getrandom(b, n, 0);
        if (r < 0) {
            if (errno == EINTR) continue;
            return false;
        }
        b += r;
        n -= size_t(r);
    }
    return true;
}

void make_aad(uint8_t aad[36], const uint8_t name[16], const uint8_t iv[16], int len) {
    memcpy(aad, name, 16);
    memcpy(aad + 16, iv, 16);
    aad[32] = uint8_t(uint32_t(len) >> 24);
    aad[33] = uint8_t(uint32_t(len) >> 16);
    aad[34] = uint8_t(uint32_t(len) >> 8);
    aad[35] = uint8_t(len);
}

}  // namespace

bool TicketKeys::derive(const uint8_t* secret64, Key& out) {
    return wc_HKDF(WC_SHA256, secret64, 64, nullptr, 0, reinterpret_cast<const byte*>(kInfo),
                   sizeof kInfo - 1, out.aead, sizeof out.aead) == 0;
}

std::expected<std::vector<TicketKeys::Key>, std::string> TicketKeys::load(
    const std::string& file, int& code) {
    code = EINVAL;
    auto err = [&](std::string why) {
        return std::unexpected("--ticket-keys " + file + ": " + why);
    };
    int fd = ::open(file.c_str(), O_RDONLY | O_CLOEXEC);
    if (fd < 0) {
        code = errno;
        return err(std::string("cannot read: ") + strerror(code));
    }
    std::vector<uint8_t> buf;
    uint8_t chunk[4096];
    for (;;) {
        ssize_t r = ::read(fd, chunk, sizeof chunk);
        if (r < 0 && errno == EINTR) continue;
        if (r < 0) {
            code = errno;
            ::close(fd);
            secure_wipe(buf.data(), buf.size());
            return err(std::string("cannot read: ") + strerror(code));
        }
        if (r == 0) break;
        buf.insert(buf.end(), chunk, chunk + r);
        if (buf.size() > 1024 * kFileKeySize) break;
    }
    ::close(fd);
    secure_wipe(chunk, sizeof chunk);
    size_t n = buf.size();
    if (n == 0 || n % kFileKeySize != 0 || n > 1024 * kFileKeySize) {
        secure_wipe(buf.data(), buf.size());
        return err("size " + std::to_string(n) + " is not a multiple of 80 (name16|secret64)");
    }
    std::vector<Key> keys(n / kFileKeySize);
    for (size_t i = 0; i < keys.size(); ++i) {
        const uint8_t* k = buf.data() + i * kFileKeySize;
        memcpy(keys[i].name, k, 16);
        if (!derive(k + 16, keys[i])) {
            secure_wipe(buf.data(), buf.size());
            secure_wipe(keys.data(), keys.size() * sizeof(Key));
            return err("key derivation failed");
        }
    }
    secure_wipe(buf.data(), buf.size());
    return keys;
}

std::expected<std::unique_ptr<TicketKeys>, std::string> TicketKeys::create(
    const std::string& file) {
    std::unique_ptr<TicketKeys> t(new TicketKeys(file));
    if (!file.empty()) {
        int code = 0;
        auto keys = load(file, code);
        if (!keys) return std::unexpected(keys.error());
        t->keys_ = std::move(*keys);
    } else {
        uint8_t raw[kFileKeySize];
        Key k;
        bool ok = fill_random(raw, sizeof raw) && (memcpy(k.name, raw, 16), derive(raw + 16, k));
        secure_wipe(raw, sizeof raw);
        if (!ok) return std::unexpected(std::string("ticket keys: no randomness"));
        t->keys_.push_back(k);
        secure_wipe(&k, sizeof k);
        t->rotated_at_ = std::chrono::steady_clock::now();
    }
    return t;
}

TicketKeys::~TicketKeys() {
    if (!keys_.empty()) secure_wipe(keys_.data(), keys_.size() * sizeof(Key));
}

std::expected<void, std::string> TicketKeys::reload(int& code) {
    code = 0;
    if (file_.empty()) return {};
    auto keys = load(file_, code);
    if (!keys) return std::unexpected(keys.error());
    std::lock_guard lock(mu_);
    if (!keys_.empty()) secure_wipe(keys_.data(), keys_.size() * sizeof(Key));
    keys_ = std::move(*keys);
    return {};
}

size_t TicketKeys::key_count() const {
    std::lock_guard lock(mu_);
    return keys_.size();
}

void TicketKeys::rotate_if_due_locked() {
    if (!file_.empty()) return;
    auto now = std::chrono::steady_clock::now();
    if (now - rotated_at_ < kRotation) return;
    uint8_t raw[kFileKeySize];
    Key k;
    if (fill_random(raw, sizeof raw) && (memcpy(k.name, raw, 16), derive(raw + 16, k))) {
        keys_.insert(keys_.begin(), k);
        while (keys_.size() > 2) {
            secure_wipe(&keys_.back(), sizeof(Key));
            keys_.pop_back();
        }
        rotated_at_ = now;
    }
    secure_wipe(raw, sizeof raw);
    secure_wipe(&k, sizeof k);
}

int TicketKeys::process(bool enc, uint8_t name[16], uint8_t iv[16], uint8_t mac[32],
                        uint8_t* ticket, int in_len, int* out_len) {
    if (in_len <= 0 || ticket == nullptr || out_len == nullptr) return WOLFSSL_TICKET_RET_FATAL;
    Key key;
    bool primary = true;
    {
        std::lock_guard lock(mu_);
        if (enc) {
            rotate_if_due_locked();
            if (keys_.empty()) return WOLFSSL_TICKET_RET_FATAL;
            key = keys_[0];
        } else {
            size_t i = 0;
            while (i < keys_.size() && memcmp(keys_[i].name, name, 16) != 0) ++i;
            if (i == keys_.size()) return WOLFSSL_TICKET_RET_REJECT;
            key = keys_[i];
            primary = i == 0;
        }
    }
    std::vector<uint8_t> out(static_cast<size_t>(in_len));
    uint8_t aad[36];
    Aes aes;
    int rc = WOLFSSL_TICKET_RET_FATAL;
    if (wc_AesInit(&aes, nullptr, INVALID_DEVID) == 0) {
        if (wc_AesGcmSetKey(&aes, key.aead, sizeof key.aead) == 0) {
            if (enc) {
                memcpy(name, key.name, 16);
                memset(iv, 0, 16);
                memset(mac, 0, 32);
                if (fill_random(iv, 12)) {
                    make_aad(aad, name, iv, in_len);
                    if (wc_AesGcmEncrypt(&aes, out.data(), ticket, word32(in_len), iv, 12, mac,
                                         16, aad, sizeof aad) == 0) {
                        rc = WOLFSSL_TICKET_RET_OK;
                    }
                }
            } else {
                make_aad(aad, name, iv, in_len);
                if (wc_AesGcmDecrypt(&aes, out.data(), ticket, word32(in_len), iv, 12, mac, 16,
                                     aad, sizeof aad) == 0) {
                    rc = primary ? WOLFSSL_TICKET_RET_OK : WOLFSSL_TICKET_RET_CREATE;
                } else {
                    rc = WOLFSSL_TICKET_RET_REJECT;  // tampered or stale: full handshake
                }
            }
        }
        wc_AesFree(&aes);
    }
    if (rc == WOLFSSL_TICKET_RET_OK || rc == WOLFSSL_TICKET_RET_CREATE) {
        memcpy(ticket, out.data(), out.size());
        *out_len = in_len;
    }
    secure_wipe(out.data(), out.size());
    secure_wipe(&key, sizeof key);
    secure_wipe(&aes, sizeof aes);
    return rc;
}

}  // namespace sluice::tls
