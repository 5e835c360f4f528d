// The tokenizer pipeline of HF `tokenizers`, for one sequence:
//   added tokens (raw text) → normalizer → added tokens (normalized text)
//   → pre-tokenizer → BPE per piece → post-processor (add_special_tokens).
// Decoding maps ids to token strings and runs the decoder chain.

#include "core/io/tokenizer.h"

#include <nlohmann/json.hpp>

#include "core/common/atomic_file.h"
#include "core/common/error.h"
#include "core/io/json_file.h"
#include "core/io/tokenizer_added_tokens.h"
#include "core/io/tokenizer_bpe.h"
#include "core/io/tokenizer_decoders.h"
#include "core/io/tokenizer_json_util.h"
#include "core/io/tokenizer_normalizers.h"
#include "core/io/tokenizer_post_processor.h"
#include "core/io/tokenizer_pretokenizers.h"

namespace glq::io {

using nlohmann::json;

struct Tokenizer::Impl {
    BpeModel model;
    std::unique_ptr<Normalizer> normalizer;
    std::unique_ptr<PreTokenizer> pre_tokenizer;
    std::unique_ptr<PostProcessor> post_processor;
    std::unique_ptr<Decoder> decoder;
    std::vector<AddedToken> added;
    std::unordered_map<int32_t, std::size_t> added_by_id;  // id → index in added
    TokenMap added_by_content;
    AddedTokenMatcher raw_matcher;         // tokens with normalized = false
    AddedTokenMatcher normalized_matcher;  // tokens with normalized = true, matched after normalizing
    int64_t vocab_size = 0;

    explicit Impl(BpeModel m) : model(std::move(m)) {}
    static std::unique_ptr<Impl> build(const json& root, const std::string& where);

    const std::string* token_of(int32_t id) const {
        if (const auto it = added_by_id.find(id); it != added_by_id.end()) return &added[it->second].normalized_content;
        return model.id_to_token(id);
    }
    bool is_special(int32_t id) const {
        const auto it = added_by_id.find(id);
        return it != added_by_id.end() && added[it->second].special;
    }

    void encode_plain(std::string text, bool at_start, std::vector<int32_t>& ids) const {
        if (normalizer) normalizer->normalize(text);
        if (text.empty()) return;
        for (const auto& seg : normalized_matcher.split(text)) {
            if (seg.id >= 0) {
                ids.push_back(seg.id);
                continue;
            }
            std::vector<PreToken> pieces{{text.substr(seg.begin, seg.end - seg.begin), at_start && seg.begin == 0}};
            if (pre_tokenizer) pre_tokenizer->pre_tokenize(pieces);
            for (const auto& p : pieces) model.tokenize(p.text, ids);
        }
    }
};

Tokenizer::Tokenizer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Tokenizer::Tokenizer(Tokenizer&&) noexcept = default;
Tokenizer& Tokenizer::operator=(Tokenizer&&) noexcept = default;
Tokenizer::~Tokenizer() = default;

Tokenizer Tokenizer::load(const std::filesystem::path& tokenizer_json) {
    const std::string where = tokenizer_json.string();
    std::string text;
    try {
        text = read_file(tokenizer_json);
    } catch (const Error&) {
        throw;
    } catch (const std::exception& e) {
        throw Error(where, std::string("cannot read the tokenizer: ") + e.what());
    }
    return from_json_string(text, where);
}

namespace {

AddedToken parse_added_token(const json& j, const std::string& where) {
    if (!j.is_object() || !j.contains("id") || !j.contains("content"))
        throw Error(where, "an added_tokens entry lacks \"id\" or \"content\"");
    AddedToken t;
    // The id is checked, though build() replaces it as HF does: a float such
    // as 1e10 converted to int32 unchecked is undefined behaviour.
    const auto& id = j["id"];
    if (!id.is_number_integer() || id.get<int64_t>() < 0 || id.get<int64_t>() > INT32_MAX)
        throw Error(where, "malformed tokenizer.json: an added_tokens entry has no valid \"id\" (a non-negative 32-bit integer)");
    t.id = id.get<int32_t>();
    if (!j["content"].is_string()) throw Error(where, "malformed tokenizer.json: an added_tokens entry's \"content\" is not a string");
    t.content = j["content"].get<std::string>();
    t.single_word = tokjson::get_or(j, "single_word", false);
    t.lstrip = tokjson::get_or(j, "lstrip", false);
    t.rstrip = tokjson::get_or(j, "rstrip", false);
    t.normalized = tokjson::get_or(j, "normalized", !tokjson::get_or(j, "special", false));
    t.special = tokjson::get_or(j, "special", false);
    return t;
}

} // namespace

Tokenizer Tokenizer::from_json_string(const std::string& text, const std::string& where) {
    const json root = parse_json(text, where);
    // A field of the wrong type somewhere: still one error naming the file.
    return with_file_errors(where, "tokenizer.json", [&] { return Tokenizer(Impl::build(root, where)); });
}

std::unique_ptr<Tokenizer::Impl> Tokenizer::Impl::build(const json& root, const std::string& where) {
    if (!root.is_object()) throw Error(where, "not a tokenizer.json (the top level is not an object)");
    const auto model_it = root.find("model");
    if (model_it == root.end() || !model_it->is_object()) throw Error(where, "not a tokenizer.json (no \"model\")");
    const std::string model_type = model_it->value("type", std::string(model_it->contains("merges") ? "BPE" : ""));
    if (model_type != "BPE")
        throw Error(where, "tokenizer model \"" + model_type + "\" is not supported (only BPE is)");

    auto impl = std::make_unique<Tokenizer::Impl>(BpeModel::from_json(*model_it, where));
    impl->normalizer = parse_normalizer(root.value("normalizer", json()), where);
    impl->pre_tokenizer = parse_pre_tokenizer(root.value("pre_tokenizer", json()), where);
    impl->post_processor = parse_post_processor(root.value("post_processor", json()), where);
    impl->decoder = parse_decoder(root.value("decoder", json()), where);

    // HF does not trust the ids written in "added_tokens": it adds the tokens
    // one by one, giving each the id its content already has (model vocab or an
    // earlier added token) or else the next free id after the vocab. Real files
    // agree with that; where one does not, HF's ids are the ones models use.
    const auto model_size = static_cast<int32_t>(impl->model.vocab().size());
    int32_t max_added = -1;
    for (const auto& j : root.value("added_tokens", json::array())) {
        AddedToken t = parse_added_token(j, where);
        if (t.content.empty()) continue;
        if (const auto it = impl->added_by_content.find(t.content); it != impl->added_by_content.end())
            t.id = it->second;
        else if (const auto id = impl->model.token_to_id(t.content))
            t.id = *id;
        else
            t.id = max_added < 0 ? model_size : (max_added >= model_size ? max_added + 1 : model_size);
        max_added = std::max(max_added, t.id);
        if (const auto it = impl->added_by_id.find(t.id); it != impl->added_by_id.end()) {
            impl->added[it->second] = t;  // the same content again: the later flags win
        } else {
            impl->added_by_id[t.id] = impl->added.size();
            impl->added.push_back(t);
        }
        impl->added_by_content[t.content] = t.id;
    }
    for (auto& t : impl->added) {
        t.normalized_content = t.content;
        if (t.normalized) {
            if (impl->normalizer) impl->normalizer->normalize(t.normalized_content);
            impl->normalized_matcher.add(t.normalized_content, t);
        } else {
            impl->raw_matcher.add(t.content, t);
        }
    }
    // Distinct ids over the model vocab and the added tokens.
    int64_t n = static_cast<int64_t>(impl->model.vocab().size());
    for (const auto& t : impl->added)
        if (impl->model.id_to_token(t.id) == nullptr) ++n;
    impl->vocab_size = n;
    return impl;
}

std::vector<int32_t> Tokenizer::encode(std::string_view text, bool add_special_tokens) const {
    std::vector<int32_t> ids;
    ids.reserve(text.size() / 3 + 4);
    for (const auto& seg : impl_->raw_matcher.split(text)) {
        if (seg.id >= 0) ids.push_back(seg.id);
        else impl_->encode_plain(std::string(text.substr(seg.begin, seg.end - seg.begin)), seg.begin == 0, ids);
    }
    if (add_special_tokens && impl_->post_processor) impl_->post_processor->process(ids);
    return ids;
}

std::string Tokenizer::decode(const std::vector<int32_t>& ids, bool skip_special_tokens) const {
    std::vector<std::string> tokens;
    tokens.reserve(ids.size());
    for (int32_t id : ids) {
        // Unknown ids are skipped, as HF does (a model's embedding may be
        // padded past the vocabulary).
        const std::string* t = impl_->token_of(id);
        if (!t || (skip_special_tokens && impl_->is_special(id))) continue;
        tokens.push_back(*t);
    }
    if (!impl_->decoder) {
        std::string out;
        for (std::size_t i = 0; i < tokens.size(); ++i) {
            if (i) out += ' ';
            out += tokens[i];
        }
        return out;
    }
    impl_->decoder->decode_chain(tokens);
    std::string out;
    for (const auto& t : tokens) out += t;
    return out;
}

int64_t Tokenizer::vocab_size() const { return impl_->vocab_size; }

std::optional<int32_t> Tokenizer::token_to_id(std::string_view token) const {
    if (const auto it = impl_->added_by_content.find(token); it != impl_->added_by_content.end()) return it->second;
    return impl_->model.token_to_id(token);
}

std::string Tokenizer::id_to_token(int32_t id) const {
    const std::string* t = impl_->token_of(id);
    return t ? *t : std::string();
}

bool Tokenizer::is_special(int32_t id) const { return impl_->is_special(id); }

// ---- StreamDecoder ----------------------------------------------------------

namespace {
bool ends_with_replacement(const std::string& s) {
    static constexpr std::string_view kFffd = "\xEF\xBF\xBD";
    return s.size() >= kFffd.size() && std::string_view(s).substr(s.size() - kFffd.size()) == kFffd;
}
} // namespace

Tokenizer::StreamDecoder::StreamDecoder(const Tokenizer& tok, bool skip_special_tokens)
    : tok_(&tok), skip_special_(skip_special_tokens) {}

std::string Tokenizer::StreamDecoder::push(int32_t id) {
    ids_.push_back(id);
    const std::string text = tok_->decode(ids_, skip_special_);
    if (text.size() <= prefix_.size() || ends_with_replacement(text) ||
        text.compare(0, prefix_.size(), prefix_) != 0)
        return {};
    std::string fresh = text.substr(prefix_.size());
    // The ids just emitted become the context of the next window.
    ids_.erase(ids_.begin(), ids_.begin() + static_cast<std::ptrdiff_t>(prefix_ids_));
    prefix_ids_ = ids_.size();
    prefix_ = tok_->decode(ids_, skip_special_);
    return fresh;
}

std::string Tokenizer::StreamDecoder::flush() {
    const std::string text = tok_->decode(ids_, skip_special_);
    // Normally the window's text extends what was returned. A decoder chain
    // whose output for earlier tokens depends on later ones (e.g. Strip with
    // stop > 0) may not; then return what follows the common part, cut at a
    // character boundary, rather than lose it.
    std::size_t common = 0;
    while (common < text.size() && common < prefix_.size() && text[common] == prefix_[common]) ++common;
    while (common > 0 && common < text.size() && (static_cast<unsigned char>(text[common]) & 0xC0) == 0x80) --common;
    std::string rest = text.substr(common);
    ids_.clear();
    prefix_.clear();
    prefix_ids_ = 0;
    return rest;
}

} // namespace glq::io
