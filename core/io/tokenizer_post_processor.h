#pragma once
// tokenizer.json "post_processor" for a single sequence: TemplateProcessing
// (e.g. a BOS prefix), RobertaProcessing / BertProcessing (cls … sep),
// ByteLevel (only trims offsets, so nothing for ids) and Sequence.

#include <cstdint>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace glq::io {

class PostProcessor {
public:
    virtual ~PostProcessor() = default;
    virtual void process(std::vector<int32_t>& ids) const = 0;
};

// nullptr for a JSON null.
// A "Sequence" nests at most kMaxTokenizerSequenceDepth deep (tokenizer_json_util.h).
std::unique_ptr<PostProcessor> parse_post_processor(const nlohmann::json& j, const std::string& where, int depth = 0);

} // namespace glq::io
