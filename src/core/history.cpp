#include <cspark/history.hpp>

#include <algorithm>
#include <vector>

namespace cspark {

std::optional<std::chrono::milliseconds> job_history::expected(const std::string& key) const {
    std::lock_guard lock(mu_);
    auto it = rings_.find(key);
    if (it == rings_.end() || it->second.n == 0) return std::nullopt;
    std::size_t n = std::min<std::size_t>(it->second.n, 8);
    std::vector<std::chrono::milliseconds> v(it->second.last, it->second.last + n);
    std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(n / 2), v.end());
    return v[n / 2];
}

void job_history::record(const std::string& key, std::chrono::milliseconds duration) {
    std::lock_guard lock(mu_);
    auto& r = rings_[key];
    r.last[r.n % 8] = duration;
    ++r.n;
}

void job_history::clear() {
    std::lock_guard lock(mu_);
    rings_.clear();
}

}  // namespace cspark
