// http/accept_encoding.cc — Accept-Encoding parsing with integer q-values (thousandths).
#include "http/accept_encoding.h"

namespace sluice::http {

namespace {

constexpr int kUnset = -1;
// Below the smallest explicit qvalue (0.001): weights are in thousandths.
constexpr int kImplicitIdentity = 1;

bool is_ows(char c) { return c == ' ' || c == '\t'; }

char lower(char c) { return (c >= 'A' && c <= 'Z') ? static_cast<char>(c - 'A' + 'a') : c; }

bool ieq(std::string_view a, std::string_view lower_b) {
    if (a.size() != lower_b.size()) return false;
    for (size_t i = 0; i < a.size(); ++i) {
        if (lower(a[i]) != lower_b[i]) return false;
    }
    return true;
}

std::string_view trim(std::string_view s) {
    while (!s.empty() && is_ows(s.front())) s.remove_prefix(1);
    while (!s.empty() && is_ows(s.back())) s.remove_suffix(1);
    return s;
}

// qvalue = ( "0" [ "." 0*3DIGIT ] ) / ( "1" [ "." 0*3("0") ] ), as thousandths; -1 if invalid.
int parse_qvalue(std::string_view v) {
    if (v.empty() || (v[0] != '0' && v[0] != '1')) return kUnset;
    int q = (v[0] - '0') * 1000;
    if (v.size() == 1) return q;
    if (v[1] != '.' || v.size() > 5) return kUnset;
    int scale = 100;
    for (size_t i = 2; i < v.size(); ++i, scale /= 10) {
        if (v[i] < '0' || v[i] > '9') return kUnset;
        q += (v[i] - '0') * scale;
    }
    return q > 1000 ? kUnset : q;
}

// Returns the coding's index (Encoding value), kEncodingCount for "*", or -1 if unknown.
int coding_index(std::string_view c) {
    if (ieq(c, "gzip") || ieq(c, "x-gzip")) return static_cast<int>(Encoding::Gzip);
    if (ieq(c, "br")) return static_cast<int>(Encoding::Br);
    if (ieq(c, "zstd")) return static_cast<int>(Encoding::Zstd);
    if (ieq(c, "identity")) return static_cast<int>(Encoding::Identity);
    if (c == "*") return kEncodingCount;
    return -1;
}

}  // namespace

std::string_view encoding_name(Encoding e) {
    switch (e) {
        case Encoding::Gzip: return "gzip";
        case Encoding::Zstd: return "zstd";
        case Encoding::Br: return "br";
        case Encoding::Identity: break;
    }
    return {};
}

std::string_view encoding_suffix(Encoding e) {
    switch (e) {
        case Encoding::Gzip: return ".gz";
        case Encoding::Zstd: return ".zst";
        case Encoding::Br: return ".br";
        case Encoding::Identity: break;
    }
    return {};
}

Encoding choose_encoding(std::string_view accept_encoding, unsigned available) {
    // q[kEncodingCount] holds "*".
    int q[kEncodingCount + 1] = {kUnset, kUnset, kUnset, kUnset, kUnset};
    std::string_view rest = accept_encoding;
    while (!rest.empty()) {
        size_t comma = rest.find(',');
        std::string_view element = rest.substr(0, comma);
        rest = comma == std::string_view::npos ? std::string_view{} : rest.substr(comma + 1);

        size_t semi = element.find(';');
        int index = coding_index(trim(element.substr(0, semi)));
        if (index < 0) continue;
        int weight = 1000;
        while (semi != std::string_view::npos) {
            std::string_view params = element.substr(semi + 1);
            semi = params.find(';');
            std::string_view param = trim(params.substr(0, semi));
            element = params;
            if (param.size() >= 2 && lower(param[0]) == 'q' && param[1] == '=') {
                weight = parse_qvalue(param.substr(2));
            }
        }
        if (weight == kUnset) continue;  // malformed weight: ignore the element
        // A coding listed twice keeps its most favourable weight.
        if (weight > q[index]) q[index] = weight;
    }

    auto effective = [&](Encoding e) {
        int v = q[static_cast<unsigned>(e)];
        if (v != kUnset) return v;
        if (q[kEncodingCount] != kUnset) return q[kEncodingCount];
        // Unlisted identity stays acceptable (RFC 9110 §12.5.3) but ranks below every coding
        // the client did list, so "gzip;q=0.5" still gets gzip. Other unlisted codings are not.
        return e == Encoding::Identity ? kImplicitIdentity : 0;
    };

    // Scanning from least to most preferred with >= lets ties go to the preferred coding.
    constexpr Encoding kOrder[] = {Encoding::Identity, Encoding::Gzip, Encoding::Zstd,
                                   Encoding::Br};
    Encoding best = Encoding::Identity;
    int best_q = 0;
    for (Encoding e : kOrder) {
        if (e != Encoding::Identity && (available & encoding_bit(e)) == 0) continue;
        int v = effective(e);
        if (v > 0 && v >= best_q) {
            best = e;
            best_q = v;
        }
    }
    return best;
}

}  // namespace sluice::http
