// ktls/control.h — non-data records on a kTLS socket (alerts, KeyUpdate, handshake).
// Contract: caller-owned msghdr bundles for sendmsg/recvmsg (or IORING_OP_SENDMSG/RECVMSG).
// Every pointer inside points into the struct itself, so the struct must stay put and alive
// until the completion arrives: both types are non-copyable and non-movable.
// Sending: one cmsg SOL_TLS/TLS_SET_RECORD_TYPE; never combine with MSG_MORE (EINVAL).
// Receiving after TLS_RX: plain recv fails with EIO on a non-data record and leaves it queued;
// recvmsg with this cmsg room returns it and its type (docs/ktls-facts.md §3).
#pragma once

#include <sys/socket.h>
#include <sys/uio.h>

#include <cstddef>
#include <cstdint>
#include <optional>
#include <span>

#include "base/result.h"

namespace sluice::ktls {

// TLS ContentType values (RFC 8446 §5.1).
inline constexpr uint8_t kChangeCipherSpec = 20;
inline constexpr uint8_t kAlert = 21;
inline constexpr uint8_t kHandshake = 22;
inline constexpr uint8_t kApplicationData = 23;

inline constexpr uint8_t kAlertWarning = 1;
inline constexpr uint8_t kAlertFatal = 2;
inline constexpr uint8_t kCloseNotify = 0;

struct ControlSend {
    static constexpr size_t kMaxPayload = 64;  // alerts (2), KeyUpdate (5): small by nature

    msghdr msg{};
    iovec iov{};
    alignas(cmsghdr) unsigned char cbuf[CMSG_SPACE(1)] = {};
    uint8_t payload[kMaxPayload] = {};

    ControlSend() = default;
    ControlSend(const ControlSend&) = delete;
    ControlSend& operator=(const ControlSend&) = delete;

    // EMSGSIZE if the payload is larger than kMaxPayload.
    Result<void> prepare(uint8_t record_type, std::span<const uint8_t> bytes);
    void prepare_alert(uint8_t level, uint8_t description);
    void prepare_close_notify() { prepare_alert(kAlertWarning, kCloseNotify); }
};

struct RecvWithType {
    msghdr msg{};
    iovec iov{};
    alignas(cmsghdr) unsigned char cbuf[CMSG_SPACE(sizeof(unsigned char))] = {};

    RecvWithType() = default;
    RecvWithType(const RecvWithType&) = delete;
    RecvWithType& operator=(const RecvWithType&) = delete;

    // Re-arms for one recvmsg into buf[0..len). Call before every submission: the kernel
    // rewrites msg_controllen and msg_flags.
    void prepare(char* buf, size_t len);
    // After completion: the record type from the TLS_GET_RECORD_TYPE cmsg, if present.
    [[nodiscard]] std::optional<uint8_t> record_type() const;
    // MSG_EOR: the record was consumed completely.
    [[nodiscard]] bool end_of_record() const { return (msg.msg_flags & MSG_EOR) != 0; }
    // MSG_CTRUNC: cmsg room too small; treat as a protocol failure.
    [[nodiscard]] bool control_truncated() const { return (msg.msg_flags & MSG_CTRUNC) != 0; }
};

}  // namespace sluice::ktls
