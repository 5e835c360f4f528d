#pragma once
// The BPE model of tokenizer.json ("model": {"type": "BPE", ...}): vocab,
// merges (either "a b" strings or ["a", "b"] pairs), unk_token and fuse_unk,
// byte_fallback (<0xAB> tokens), ignore_merges, continuing_subword_prefix and
// end_of_word_suffix, with the merge loop of HF `tokenizers` (a priority
// queue over a linked list of symbols) and a bounded per-word cache.

#include <cstdint>
#include <memory>
#include <mutex>
#include <optional>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include <nlohmann/json_fwd.hpp>

namespace glq::io {

// std::string keys looked up by std::string_view without a copy.
struct StringHash {
    using is_transparent = void;
    std::size_t operator()(std::string_view s) const noexcept { return std::hash<std::string_view>{}(s); }
};
using TokenMap = std::unordered_map<std::string, int32_t, StringHash, std::equal_to<>>;

// The largest vocab id accepted is kMaxIdSpread x the number of entries
// (+1024): ids index a table, and the table must stay bounded by the file.
constexpr int64_t kMaxIdSpread = 4;

class BpeModel {
public:
    // `where` names the file for errors.
    static BpeModel from_json(const nlohmann::json& model, const std::string& where);
    BpeModel(BpeModel&&) noexcept;
    BpeModel& operator=(BpeModel&&) noexcept;
    ~BpeModel();

    // Appends the ids of one pre-tokenized word.
    void tokenize(std::string_view word, std::vector<int32_t>& out) const;

    std::optional<int32_t> token_to_id(std::string_view token) const;
    const std::string* id_to_token(int32_t id) const;  // nullptr when unknown
    const TokenMap& vocab() const { return vocab_; }

private:
    BpeModel() = default;
    void tokenize_uncached(std::string_view word, std::vector<int32_t>& out) const;
    void initial_symbols(std::string_view word, std::vector<int32_t>& ids, std::vector<uint32_t>& lens) const;

    struct Merge {
        int32_t rank;
        int32_t new_id;
    };
    static uint64_t pair_key(int32_t a, int32_t b) {
        return (static_cast<uint64_t>(static_cast<uint32_t>(a)) << 32) | static_cast<uint32_t>(b);
    }

    TokenMap vocab_;
    std::vector<const std::string*> id_to_token_;  // points into vocab_'s keys
    std::unordered_map<uint64_t, Merge> merges_;
    std::optional<std::string> unk_token_;
    std::string continuing_subword_prefix_;
    std::string end_of_word_suffix_;
    bool fuse_unk_ = false;
    bool byte_fallback_ = false;
    bool ignore_merges_ = false;
    int32_t byte_tokens_[256] = {};  // id of <0xAB>, or -1

    // Words repeat a lot in text: remember their ids. Bounded like HF's
    // (new words are not added once it is full).
    static constexpr std::size_t kCacheCapacity = 10000;
    static constexpr std::size_t kCacheMaxWordBytes = 256;  // long runs (e.g. base64) rarely repeat
    mutable std::unique_ptr<std::mutex> cache_mutex_ = std::make_unique<std::mutex>();
    mutable std::unordered_map<std::string, std::vector<int32_t>, StringHash, std::equal_to<>> cache_;
};

} // namespace glq::io
