#pragma once
// tokenizer.json "decoder": ByteLevel, Metaspace, Replace (String pattern),
// ByteFallback, Fuse, Strip, BPEDecoder and Sequence, each a step over the
// list of token strings as in HF `tokenizers` (decode = the steps' output
// joined).

#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace glq::io {

class Decoder {
public:
    virtual ~Decoder() = default;
    virtual void decode_chain(std::vector<std::string>& tokens) const = 0;
};

// nullptr for a JSON null (tokens are then joined with spaces, as HF does).
// A "Sequence" nests at most kMaxTokenizerSequenceDepth deep (tokenizer_json_util.h).
std::unique_ptr<Decoder> parse_decoder(const nlohmann::json& j, const std::string& where, int depth = 0);

} // namespace glq::io
