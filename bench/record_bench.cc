// Record-layer seal throughput per cipher × record size (userspace path, libcrypto EVP).
// No main(): linked into sluice_bench with the other micro-benchmarks.
#include <benchmark/benchmark.h>

#include <string>
#include <vector>

#include "record/record.h"

namespace {

using sluice::record::ContentType;
using sluice::record::Sealer;
namespace tls = sluice::tls;

void seal_bench(benchmark::State& state, tls::Version v, tls::Cipher c) {
    tls::TrafficKeys k;
    k.version = v;
    k.cipher = c;
    for (int i = 0; i < 32; ++i) k.tx.key[i] = static_cast<uint8_t>(i);
    auto sealer = Sealer::make(k);
    if (!sealer) {
        state.SkipWithError("Sealer::make failed");
        return;
    }
    const size_t n = static_cast<size_t>(state.range(0));
    std::vector<uint8_t> pt(n, 0x5a);
    std::string out;
    out.reserve((*sealer)->sealed_size(n));
    for (auto _ : state) {
        out.clear();  // keeps capacity: no allocation in the loop
        auto r = (*sealer)->seal(ContentType::ApplicationData, std::span<const uint8_t>(pt), out);
        benchmark::DoNotOptimize(r);
        benchmark::DoNotOptimize(out.data());
    }
    state.SetBytesProcessed(static_cast<int64_t>(state.iterations()) * static_cast<int64_t>(n));
}

void BM_Seal_Tls13_Aes128Gcm(benchmark::State& s) {
    seal_bench(s, tls::Version::Tls13, tls::Cipher::Aes128Gcm);
}
void BM_Seal_Tls13_Aes256Gcm(benchmark::State& s) {
    seal_bench(s, tls::Version::Tls13, tls::Cipher::Aes256Gcm);
}
void BM_Seal_Tls13_Chacha20Poly1305(benchmark::State& s) {
    seal_bench(s, tls::Version::Tls13, tls::Cipher::Chacha20Poly1305);
}
void BM_Seal_Tls12_Aes128Gcm(benchmark::State& s) {
    seal_bench(s, tls::Version::Tls12, tls::Cipher::Aes128Gcm);
}
void BM_Seal_Tls12_Aes256Gcm(benchmark::State& s) {
    seal_bench(s, tls::Version::Tls12, tls::Cipher::Aes256Gcm);
}
void BM_Seal_Tls12_Chacha20Poly1305(benchmark::State& s) {
    seal_bench(s, tls::Version::Tls12, tls::Cipher::Chacha20Poly1305);
}

BENCHMARK(BM_Seal_Tls13_Aes128Gcm)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Seal_Tls13_Aes256Gcm)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Seal_Tls13_Chacha20Poly1305)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Seal_Tls12_Aes128Gcm)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Seal_Tls12_Aes256Gcm)->Arg(1024)->Arg(16384);
BENCHMARK(BM_Seal_Tls12_Chacha20Poly1305)->Arg(1024)->Arg(16384);

}  // namespace
