// http/target.h — request-target forms (RFC 9112 §3.2) and Host syntax (RFC 9110 §7.2, §4.2).
// Pure string work: results are views into the caller's string, nothing is allocated.
#pragma once

#include <optional>
#include <string_view>

#include "http/request.h"

namespace sluice::http {

struct TargetParts {
    TargetForm form = TargetForm::Origin;
    std::string_view authority;  // absolute- and authority-form: "host[:port]"
    // Origin-form: the whole target. Absolute-form: what follows the authority ("/p?q", "?q"
    // or ""). Empty for the other forms.
    std::string_view path;
};

// Classifies `target`: "/…" origin-form; "http://authority/…" or "https://…" absolute-form
// (scheme case-insensitive, authority as valid_host()); "host:port" authority-form, only and
// always for CONNECT (`connect`); exactly "*" asterisk-form. Anything else (other schemes,
// userinfo, an empty authority, "*x") is nullopt: the caller answers 400. Which method may use
// which form is the caller's decision.
std::optional<TargetParts> split_target(std::string_view target, bool connect);

// Whether `value` is `uri-host [":" port]` (RFC 3986 §3.2.2–3.2.3) with a non-empty host: a
// reg-name or IPv4 address (unreserved, sub-delims other than ',', pct-encoded), or an IP-literal
// in brackets. Userinfo ('@'), a path ('/'), a list (','), whitespace and an empty value are
// refused. `require_port`: the ':' and at least one digit must be there (authority-form).
bool valid_host(std::string_view value, bool require_port = false);

}  // namespace sluice::http
