// bench/bench_util.hpp — measurement helpers shared by aio's benchmark
// programs: peak memory from /proc and the seeded delays every peer uses.
#pragma once

#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <string>
#include <vector>

namespace bench {

/// A field of /proc/self/status in kB (VmRSS, VmHWM), -1 if absent.
inline long status_kb(const char* key) {
    std::ifstream f("/proc/self/status");
    std::string line;
    const std::size_t n = std::strlen(key);
    while (std::getline(f, line))
        if (line.compare(0, n, key) == 0 && line[n] == ':') return std::stol(line.substr(n + 1));
    return -1;
}

/// Resets VmHWM to the current RSS where the kernel allows it, so that the
/// startup peak does not count.
inline void reset_peak() {
    std::ofstream f("/proc/self/clear_refs");
    if (f) f << "5";
}

/// The peers' shared PRNG: xorshift64 (13, 7, 17) from 0x9E3779B97F4A7C15;
/// task i sleeps (x_i % 1000001) microseconds.
inline std::vector<std::chrono::microseconds> delays(std::size_t n) {
    std::vector<std::chrono::microseconds> out(n);
    std::uint64_t x = 0x9E3779B97F4A7C15ull;
    for (auto& d : out) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        d = std::chrono::microseconds(x % 1000001);
    }
    return out;
}

/// Measures peak bytes per item of whatever runs between construction and
/// per_item().
class PeakMemory {
public:
    PeakMemory() {
        reset_peak();
        before_kb_ = status_kb("VmRSS");
    }
    double per_item(std::size_t n) const { return double(status_kb("VmHWM") - before_kb_) * 1024.0 / double(n); }

private:
    long before_kb_;
};

inline double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

}  // namespace bench
