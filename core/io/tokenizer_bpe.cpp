#include "core/io/tokenizer_bpe.h"

#include <cstdio>
#include <queue>

#include <nlohmann/json.hpp>

#include "core/common/error.h"
#include "core/io/unicode.h"

namespace glq::io {

using nlohmann::json;

namespace {

std::optional<std::string> optional_string(const json& j, const char* key) {
    const auto it = j.find(key);
    if (it == j.end() || it->is_null()) return std::nullopt;
    return it->get<std::string>();
}

bool optional_bool(const json& j, const char* key) {
    const auto it = j.find(key);
    return it != j.end() && !it->is_null() && it->get<bool>();
}

} // namespace

BpeModel::BpeModel(BpeModel&&) noexcept = default;
BpeModel& BpeModel::operator=(BpeModel&&) noexcept = default;
BpeModel::~BpeModel() = default;

BpeModel BpeModel::from_json(const json& model, const std::string& where) {
    BpeModel m;
    const auto dropout = model.find("dropout");
    if (dropout != model.end() && !dropout->is_null() && dropout->get<double>() > 0.0)
        throw Error(where, "BPE dropout is not supported (it makes tokenization random)");
    m.unk_token_ = optional_string(model, "unk_token");
    m.continuing_subword_prefix_ = optional_string(model, "continuing_subword_prefix").value_or("");
    m.end_of_word_suffix_ = optional_string(model, "end_of_word_suffix").value_or("");
    m.fuse_unk_ = optional_bool(model, "fuse_unk");
    m.byte_fallback_ = optional_bool(model, "byte_fallback");
    m.ignore_merges_ = optional_bool(model, "ignore_merges");

    const auto vocab = model.find("vocab");
    if (vocab == model.end() || !vocab->is_object()) throw Error(where, "BPE model has no \"vocab\" object");
    m.vocab_.reserve(vocab->size());
    int32_t max_id = -1;
    for (const auto& [token, value] : vocab->items()) {
        if (!value.is_number_integer() || value.get<int64_t>() < 0 || value.get<int64_t>() > INT32_MAX)
            throw Error(where, "BPE vocab entry \"" + token + "\" has no valid id");
        const auto id = value.get<int32_t>();
        m.vocab_.emplace(token, id);
        max_id = std::max(max_id, id);
    }
    // The id -> token table is sized by the largest id, so that id must be
    // one the file can back: real vocabularies are dense (ids 0..n-1). A
    // lying id (2^31-1 in a 10-entry vocab) would otherwise allocate gigabytes.
    const auto entries = static_cast<int64_t>(m.vocab_.size());
    if (int64_t{max_id} >= kMaxIdSpread * entries + 1024)
        throw Error(where, "BPE vocab id " + std::to_string(max_id) + " is far beyond the vocab's " +
                               std::to_string(entries) + " entries (ids must be nearly dense)");
    m.id_to_token_.assign(static_cast<std::size_t>(int64_t{max_id} + 1), nullptr);
    for (const auto& [token, id] : m.vocab_) m.id_to_token_[static_cast<std::size_t>(id)] = &token;

    for (int b = 0; b < 256; ++b) {
        char name[8];
        std::snprintf(name, sizeof name, "<0x%02X>", b);
        const auto it = m.vocab_.find(std::string_view(name));
        m.byte_tokens_[b] = it == m.vocab_.end() ? -1 : it->second;
    }

    const auto merges = model.find("merges");
    if (merges == model.end() || !merges->is_array()) throw Error(where, "BPE model has no \"merges\" array");
    m.merges_.reserve(merges->size());
    int32_t rank = 0;
    const std::size_t prefix_len = m.continuing_subword_prefix_.size();
    std::string merged;  // reused: loading 150k merges should not allocate 150k strings
    for (const auto& entry : *merges) {
        std::string_view a, b;
        if (entry.is_string()) {  // "a b"
            const std::string_view s = entry.get_ref<const std::string&>();
            const auto space = s.find(' ');
            if (space == std::string_view::npos || s.find(' ', space + 1) != std::string_view::npos)
                throw Error(where, "BPE merge #" + std::to_string(rank) + " \"" + std::string(s) + "\" is not two tokens");
            a = s.substr(0, space);
            b = s.substr(space + 1);
        } else if (entry.is_array() && entry.size() == 2 && entry[0].is_string() && entry[1].is_string()) {
            a = entry[0].get_ref<const std::string&>();
            b = entry[1].get_ref<const std::string&>();
        } else {
            throw Error(where, "BPE merge #" + std::to_string(rank) + " is neither \"a b\" nor [\"a\", \"b\"]");
        }
        const auto ia = m.vocab_.find(a);
        const auto ib = m.vocab_.find(b);
        if (ia == m.vocab_.end() || ib == m.vocab_.end())
            throw Error(where, "BPE merge #" + std::to_string(rank) + " uses a token not in the vocab");
        // The merged token drops the right part's continuing-subword prefix.
        if (prefix_len && b.substr(0, prefix_len) == m.continuing_subword_prefix_) b.remove_prefix(prefix_len);
        merged.assign(a);
        merged.append(b);
        const auto im = m.vocab_.find(merged);
        if (im == m.vocab_.end())
            throw Error(where, "BPE merge #" + std::to_string(rank) + " makes \"" + merged + "\", which is not in the vocab");
        // A repeated pair takes its last rank, as HF's map does.
        m.merges_[pair_key(ia->second, ib->second)] = Merge{rank, im->second};
        ++rank;
    }
    if (m.unk_token_ && !m.vocab_.contains(*m.unk_token_))
        throw Error(where, "BPE unk_token \"" + *m.unk_token_ + "\" is not in the vocab");
    return m;
}

std::optional<int32_t> BpeModel::token_to_id(std::string_view token) const {
    const auto it = vocab_.find(token);
    if (it == vocab_.end()) return std::nullopt;
    return it->second;
}

const std::string* BpeModel::id_to_token(int32_t id) const {
    if (id < 0 || static_cast<std::size_t>(id) >= id_to_token_.size()) return nullptr;
    return id_to_token_[static_cast<std::size_t>(id)];
}

void BpeModel::tokenize(std::string_view word, std::vector<int32_t>& out) const {
    if (word.empty()) return;
    if (ignore_merges_) {
        if (const auto it = vocab_.find(word); it != vocab_.end()) {
            out.push_back(it->second);
            return;
        }
    }
    if (word.size() > kCacheMaxWordBytes) {
        tokenize_uncached(word, out);
        return;
    }
    {
        std::lock_guard lock(*cache_mutex_);
        if (const auto it = cache_.find(word); it != cache_.end()) {
            out.insert(out.end(), it->second.begin(), it->second.end());
            return;
        }
    }
    const std::size_t first = out.size();
    tokenize_uncached(word, out);
    std::lock_guard lock(*cache_mutex_);
    if (cache_.size() < kCacheCapacity)
        cache_.emplace(std::string(word), std::vector<int32_t>(out.begin() + static_cast<std::ptrdiff_t>(first), out.end()));
}

// One symbol per character (with prefix/suffix as HF adds them), falling back
// to <0xAB> byte tokens or the (optionally fused) unk token.
void BpeModel::initial_symbols(std::string_view word, std::vector<int32_t>& ids,
                               std::vector<uint32_t>& lens) const {
    std::optional<std::pair<int32_t, uint32_t>> unk;  // pending unk: id, bytes
    std::string s;
    for (std::size_t i = 0; i < word.size();) {
        const std::size_t n = std::min<std::size_t>(unicode::utf8_length(static_cast<unsigned char>(word[i])),
                                                    word.size() - i);
        const bool is_first = i == 0;
        const bool is_last = i + n == word.size();
        s.clear();
        if (!is_first) s += continuing_subword_prefix_;
        s.append(word.substr(i, n));
        if (is_last) s += end_of_word_suffix_;
        const auto byte_len = static_cast<uint32_t>(n);
        i += n;
        if (const auto it = vocab_.find(s); it != vocab_.end()) {
            if (unk) {
                ids.push_back(unk->first);
                lens.push_back(unk->second);
                unk.reset();
            }
            ids.push_back(it->second);
            lens.push_back(byte_len);
            continue;
        }
        if (byte_fallback_) {
            bool all = true;
            for (char c : s) all = all && byte_tokens_[static_cast<unsigned char>(c)] >= 0;
            if (all) {
                // As HF: a pending unk is not flushed before the byte tokens.
                for (char c : s) {
                    ids.push_back(byte_tokens_[static_cast<unsigned char>(c)]);
                    lens.push_back(1);
                }
                continue;
            }
        }
        if (unk_token_) {
            const int32_t unk_id = vocab_.find(*unk_token_)->second;
            if (unk && fuse_unk_) {
                unk->second += byte_len;
            } else {
                if (unk) {
                    ids.push_back(unk->first);
                    lens.push_back(unk->second);
                }
                unk = {unk_id, byte_len};
            }
        }
        // Without an unk token an unknown character is dropped, as in HF.
    }
    if (unk) {
        ids.push_back(unk->first);
        lens.push_back(unk->second);
    }
}

void BpeModel::tokenize_uncached(std::string_view word, std::vector<int32_t>& out) const {
    std::vector<int32_t> ids;
    std::vector<uint32_t> lens;
    initial_symbols(word, ids, lens);
    const int n = static_cast<int>(ids.size());
    if (n <= 1 || merges_.empty()) {
        out.insert(out.end(), ids.begin(), ids.end());
        return;
    }
    // Doubly linked symbols; a merged-away symbol has len 0.
    std::vector<int> prev(n), next(n);
    for (int i = 0; i < n; ++i) {
        prev[i] = i - 1;
        next[i] = i + 1 < n ? i + 1 : -1;
    }
    struct Candidate {
        int32_t rank;
        int pos;
        int32_t new_id;
        bool operator>(const Candidate& o) const { return rank != o.rank ? rank > o.rank : pos > o.pos; }
    };
    std::priority_queue<Candidate, std::vector<Candidate>, std::greater<>> queue;
    auto consider = [&](int pos) {
        const int right = next[pos];
        if (right < 0) return;
        const auto it = merges_.find(pair_key(ids[pos], ids[right]));
        if (it != merges_.end()) queue.push({it->second.rank, pos, it->second.new_id});
    };
    for (int i = 0; i + 1 < n; ++i) consider(i);
    while (!queue.empty()) {
        const Candidate top = queue.top();
        queue.pop();
        if (lens[top.pos] == 0) continue;
        const int right = next[top.pos];
        if (right < 0) continue;
        // Stale entry: the pair at this position changed since it was queued.
        const auto it = merges_.find(pair_key(ids[top.pos], ids[right]));
        if (it == merges_.end() || it->second.new_id != top.new_id) continue;
        ids[top.pos] = top.new_id;
        lens[top.pos] += lens[right];
        lens[right] = 0;
        next[top.pos] = next[right];
        if (next[right] >= 0) prev[next[right]] = top.pos;
        if (prev[top.pos] >= 0) consider(prev[top.pos]);
        consider(top.pos);
    }
    for (int i = 0; i >= 0 && i < n; i = next[i]) out.push_back(ids[i]);
}

} // namespace glq::io
