#pragma once
// tokenizer.json "normalizer": NFC, NFD, Prepend, Replace (String pattern),
// Lowercase, Strip, ByteLevel and Sequence. Others are refused with a clear
// error at load time, never silently skipped.

#include <memory>
#include <string>

#include <nlohmann/json_fwd.hpp>

namespace glq::io {

class Normalizer {
public:
    virtual ~Normalizer() = default;
    virtual void normalize(std::string& text) const = 0;
};

// nullptr for a JSON null (no normalizer).
// A "Sequence" nests at most kMaxTokenizerSequenceDepth deep (tokenizer_json_util.h).
std::unique_ptr<Normalizer> parse_normalizer(const nlohmann::json& j, const std::string& where, int depth = 0);

} // namespace glq::io
