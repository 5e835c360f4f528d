#include "core/model/stop_strings.h"

#include <algorithm>

namespace glq::model {

StopStringFilter::StopStringFilter(std::vector<std::string> stop_strings) {
    for (auto& s : stop_strings)
        if (!s.empty()) stops_.push_back(std::move(s));
    for (const auto& s : stops_) longest_ = std::max(longest_, s.size());
}

std::string StopStringFilter::push(const std::string& piece) {
    if (stopped_) return {};
    const std::size_t old_size = text_.size();
    text_ += piece;
    // A stop string that completes now must end inside the new piece.
    const std::size_t search_from = old_size >= longest_ ? old_size - longest_ + 1 : 0;
    std::size_t cut = std::string::npos;
    for (const auto& s : stops_) {
        const std::size_t at = text_.find(s, search_from);
        if (at != std::string::npos) cut = std::min(cut, at);
    }
    if (cut != std::string::npos) {
        stopped_ = true;
        text_.resize(cut);
        std::string out = cut > released_ ? text_.substr(released_) : std::string();
        released_ = text_.size();
        return out;
    }
    // Hold back the longest tail that is a proper prefix of some stop string.
    std::size_t hold = 0;
    for (const auto& s : stops_)
        for (std::size_t k = std::min(s.size() - 1, text_.size()); k > hold; --k)
            if (text_.compare(text_.size() - k, k, s, 0, k) == 0) {
                hold = k;
                break;
            }
    const std::size_t safe_end = std::max(released_, text_.size() - hold);
    std::string out = text_.substr(released_, safe_end - released_);
    released_ = safe_end;
    return out;
}

std::string StopStringFilter::flush() {
    std::string out = text_.substr(released_);
    released_ = text_.size();
    return out;
}

} // namespace glq::model
