#pragma once
// Stop strings over streamed text: text is released only once it can no
// longer turn out to be the start of a stop string, and generation ends at
// the first stop string, which is cut from the text (as HF's stop_strings).

#include <cstddef>
#include <string>
#include <vector>

namespace glq::model {

class StopStringFilter {
public:
    explicit StopStringFilter(std::vector<std::string> stop_strings);
    // Appends newly decoded text; returns the part that is now safe to show.
    std::string push(const std::string& piece);
    // True once a stop string has appeared; the text then ends before it.
    bool stopped() const { return stopped_; }
    // At the end of generation: whatever was held back (empty after a stop).
    std::string flush();
    // All text up to now (cut at the stop string once stopped).
    const std::string& text() const { return text_; }

private:
    std::vector<std::string> stops_;
    std::size_t longest_ = 0;
    std::string text_;
    std::size_t released_ = 0;
    bool stopped_ = false;
};

} // namespace glq::model
